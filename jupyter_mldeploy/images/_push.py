"""The engine's registry calls: tag and push an image, pull one back (a part of ``DockerEngine``).

A push reports the digest the registry gave the image (``REPO@sha256:...``): what a
Kubernetes Deployment should name, because a digest cannot move under it the way a tag can.
Credentials come from the caller or, when none are given, from the engine's own store
(``docker login``); they are never written anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ImagePushError, InvalidArgumentError
from ._sdk import docker_sdk, engine_errors, unavailable

__all__ = ["PushResult", "RegistryCalls", "split_repository"]

#: ``[HOST[:PORT]/]PATH[:TAG]`` as image references spell them (the path in lowercase).
_REFERENCE = re.compile(
    r"(?:(?P<host>[A-Za-z0-9.-]+(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
)


@dataclass(frozen=True)
class PushResult:
    """A pushed image: ``reference`` is ``REPOSITORY:TAG``, ``digest`` ``sha256:...``."""

    repository: str
    tag: str
    digest: str

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def by_digest(self) -> str:
        """``REPOSITORY@sha256:...``: the reference that always means these bytes."""
        return f"{self.repository}@{self.digest}"


def split_repository(repository: str, default_tag: str) -> tuple[str, str]:
    """``registry:5000/name:tag`` -> (``registry:5000/name``, ``tag``); no tag: ``default_tag``.

    Raises
    ------
    InvalidArgumentError
        Not an image repository (``HOST[:PORT]/PATH`` in lowercase, an optional ``:TAG``).
    """
    match = _REFERENCE.fullmatch(repository or "")
    if match is None:
        raise InvalidArgumentError(
            f"{repository!r} is not an image repository: use REGISTRY[:PORT]/NAME[:TAG] in lowercase, for "
            "example '127.0.0.1:5000/models/ridge' or 'myregistry.azurecr.io/ridge:1'."
        )
    tag = match.group("tag")
    name = repository[: match.start("tag") - 1] if tag else repository
    return name, tag or default_tag


class RegistryCalls:
    """Registry methods of :class:`~jupyter_mldeploy.images.engine.DockerEngine`."""

    client: Any

    def push_image(
        self,
        image: str,
        repository: str,
        tag: str,
        *,
        username: str | None = None,
        password: str | None = None,
        on_log: Callable[[str], None] | None = None,
    ) -> PushResult:
        """Tag ``image`` as ``repository:tag`` and push it; return the registry's digest.

        Raises
        ------
        ImagePushError
            The registry refused or could not be reached (its answer and what to check).
        """
        docker = docker_sdk()
        auth = {"username": username, "password": password or ""} if username else None
        try:
            self.client.images.get(image).tag(repository, tag)
            stream = self.client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth)
            digest, failure = "", ""
            for event in stream:  # read to the end even after an error: a stream left open holds its socket
                if "error" in event:
                    failure = failure or str(event.get("error", "")).strip()
                    continue
                aux = event.get("aux") or {}
                digest = str(aux.get("Digest") or digest)
                status = str(event.get("status") or "")
                if on_log is not None and status and event.get("progressDetail") in (None, {}):
                    on_log(f"{event.get('id', '')}: {status}\n" if event.get("id") else f"{status}\n")
        except docker.errors.ImageNotFound as err:
            raise InvalidArgumentError(f"image {image!r} is not in the Docker engine; build it first.") from err
        except docker.errors.APIError as err:
            raise ImagePushError(_push_failure(repository, str(err.explanation or err))) from err
        except engine_errors(docker) as err:
            raise unavailable(err) from err
        if failure:
            raise ImagePushError(_push_failure(repository, failure))
        if not digest:
            raise ImagePushError(f"the push of {repository}:{tag} ended without a digest from the registry; push again.")
        return PushResult(repository, tag, digest)

    def pull_image(self, reference: str) -> str:
        """Pull ``reference`` (``REPO:TAG`` or ``REPO@sha256:...``); return the image id.

        Raises
        ------
        ImagePushError
            The registry refused or does not have it.
        """
        docker = docker_sdk()
        repository, sep, digest = reference.partition("@")
        try:
            if sep:
                image = self.client.images.pull(repository, tag=digest)
            else:
                name, tag = split_repository(reference, "latest")
                image = self.client.images.pull(name, tag=tag)
        except docker.errors.APIError as err:
            raise ImagePushError(f"pulling {reference} failed: {err.explanation or err}") from err
        except engine_errors(docker) as err:
            raise unavailable(err) from err
        return str(image.id)


def _push_failure(repository: str, answer: str) -> str:
    host = repository.split("/", 1)[0]
    hint = "check the registry's address"
    lowered = answer.lower()
    if "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered:
        hint = f"log in first (docker login {host}) or pass username= and password="
    elif "https" in lowered or "http response to https" in lowered:
        hint = (f"the registry speaks plain HTTP: add {host} to the engine's insecure-registries "
                "(127.0.0.1 registries are allowed by default)")
    elif "connection refused" in lowered or "no such host" in lowered or "dial tcp" in lowered:
        hint = f"no registry answers at {host}: start it, or check the address"
    return f"pushing to {repository} failed: {answer}; {hint}."
