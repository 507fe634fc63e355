"""The docker SDK, imported lazily, and how its failures become our errors (the only module that imports it).

Every engine call goes through :func:`docker_sdk` and maps what it raises with
:func:`engine_errors` / :func:`unavailable`, so a missing SDK, a stopped daemon or a
vanished socket always reads as one :class:`~jupyter_mldeploy.errors.DockerUnavailableError`
saying how to start an engine.
"""

from __future__ import annotations

import os
from typing import Any

from .._config import repo_script
from ..errors import DockerUnavailableError


def docker_sdk() -> Any:
    """Import the docker SDK (only here, only when needed)."""
    try:
        import docker
        import docker.errors
    except ImportError as err:
        raise DockerUnavailableError(
            'the docker SDK is not installed; run: pip install "jupyter-mldeploy[docker]"'
        ) from err
    return docker


def engine_errors(docker: Any) -> tuple[type[BaseException], ...]:
    """What an SDK call raises when the engine fails or goes away (caught and mapped in one place).

    The SDK's own ``DockerException`` and the transport errors it lets through when the
    daemon restarts or its socket vanishes mid-call: ``requests`` and ``urllib3`` errors,
    a refused or reset connection, a timeout. Every call site turns them into
    :class:`DockerUnavailableError` (via :func:`unavailable`) or its own error.
    """
    import requests
    import urllib3

    return (
        docker.errors.DockerException,
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,
        ConnectionError,
        TimeoutError,
    )


def docker_start_fix() -> str:
    """The one step that gets a Docker engine answering on this machine."""
    script = repo_script("ensure-docker.sh")
    if script is not None:
        return f"run {script} (installs and starts a Docker engine), or start Docker yourself"
    return (
        "start Docker (Docker Desktop, or `sudo systemctl start docker`; "
        "https://docs.docker.com/engine/install/) and check DOCKER_HOST"
    )


def unix_socket_path(host: str) -> str | None:
    """The socket file of a ``unix://`` Docker host (``None`` for TCP and SSH hosts)."""
    return host[len("unix://"):] if host.startswith("unix://") else None


def unavailable(err: BaseException) -> DockerUnavailableError:
    host = os.environ.get("DOCKER_HOST") or "the local socket (unix:///var/run/docker.sock)"
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return DockerUnavailableError(f"no Docker engine answers at {host} ({first}); {docker_start_fix()}")


def base_image_fix(tag: str) -> str:
    script = repo_script("build-base-image.sh")
    offline = (
        f"build one offline with `{script} {tag}`"
        if script is not None
        else "build or load one (`docker load`, `docker build`)"
    )
    return (
        f"base image {tag!r} is not present and builds never pull; run `docker pull {tag}`, "
        f"or {offline}, or set MLDEPLOY_BASE_IMAGE to an image you have "
        "(e.g. scripts/build-base-image.sh mldeploy/python-base:bookworm && "
        "export MLDEPLOY_BASE_IMAGE=mldeploy/python-base:bookworm)"
    )


def env_dict(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out

