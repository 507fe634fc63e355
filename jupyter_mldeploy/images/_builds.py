"""The engine's image calls: base images, builds with their step cache, removal (a part of ``DockerEngine``)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._config import mldeploy_home
from ..errors import BaseImageMissingError, DeploymentError, ImageBuildError
from ._sdk import base_image_fix, docker_sdk, engine_errors, unavailable

#: Labels of the images and containers we make (the rest are in ``engine``).
LABEL_MANAGED = "mldeploy.managed"
LABEL_ENV_HASH = "mldeploy.env-hash"

_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


@dataclass(frozen=True)
class BuildResult:
    """The outcome of :meth:`DockerEngine.build_image`.

    ``cached_steps`` counts the Dockerfile steps answered from the layer cache
    (``Using cache`` in the log); ``steps`` lists each step with whether it was cached.
    """

    image_id: str
    tag: str
    seconds: float
    log: str
    steps: tuple[tuple[str, bool], ...] = ()

    @property
    def cached_steps(self) -> int:
        """How many steps came from the layer cache."""
        return sum(1 for _, cached in self.steps if cached)

    def step_cached(self, prefix: str) -> bool:
        """Whether the first step whose instruction starts with ``prefix`` came from the cache.

        Raises ``KeyError`` when no step matches (a typo in a test must not pass silently).
        """
        for instruction, cached in self.steps:
            if instruction.startswith(prefix):
                return cached
        raise KeyError(f"no build step starts with {prefix!r}")



class ImageCalls:
    """Image methods of :class:`~jupyter_mldeploy.images.engine.DockerEngine`."""

    client: Any

    def ensure_base_image(self, tag: str) -> str:
        """Return the id of base image ``tag``, present locally (never pulled: builds stay offline).

        Raises
        ------
        BaseImageMissingError
            The image is not present; the message names ``MLDEPLOY_BASE_IMAGE`` and how to get one.
        """
        docker = docker_sdk()
        try:
            return str(self.client.images.get(tag).id)
        except docker.errors.ImageNotFound as err:
            raise BaseImageMissingError(base_image_fix(tag)) from err
        except engine_errors(docker) as err:
            raise unavailable(err) from err


    def image_exists(self, tag: str) -> bool:
        """Whether image ``tag`` is present locally."""
        docker = docker_sdk()
        try:
            self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        except engine_errors(docker) as err:
            raise unavailable(err) from err
        return True


    def build_image(
        self,
        context_dir: str | os.PathLike[str],
        tag: str,
        *,
        labels: Mapping[str, str] | None = None,
        on_log: Callable[[str], None] | None = None,
        nocache: bool = False,
    ) -> BuildResult:
        """Build ``context_dir``'s Dockerfile as ``tag``, streaming every output line to ``on_log``.

        The base image is never pulled (``pull=False``): a missing one fails fast with
        :class:`BaseImageMissingError` instead of a network timeout.

        Raises
        ------
        ImageBuildError
            A step failed; the message names the step and its last output lines.
        BaseImageMissingError
            The Dockerfile's base image is not present.

        Examples
        --------
        >>> result = DockerEngine().build_image("ctx", "mldeploy/ridge:1", on_log=print)  # doctest: +SKIP
        >>> result.step_cached("RUN python3 -m venv")                                     # doctest: +SKIP
        True
        """
        docker = docker_sdk()
        context = Path(context_dir)
        for base in _from_images(context / "Dockerfile"):
            self.ensure_base_image(base)
        started = time.monotonic()
        lines: list[str] = []
        steps: list[tuple[str, bool]] = []
        current = ""
        image_id = ""
        try:
            stream = self.client.api.build(
                path=str(context),
                tag=tag,
                labels=dict(labels or {}),
                rm=True,
                forcerm=True,
                pull=False,
                nocache=nocache,
                decode=True,
            )
            failure = ""
            for chunk in stream:  # read to the end even after an error: that closes the connection
                if "error" in chunk:
                    failure = str(chunk.get("errorDetail", {}).get("message") or chunk["error"])
                    continue
                text = chunk.get("stream")
                if text:
                    lines.append(text)
                    for line in text.splitlines():
                        match = _STEP_RE.match(line.strip())
                        if match:
                            current = f"Step {match[1]}/{match[2]}: {match[3]}"
                            steps.append((match[3], False))
                        elif "Using cache" in line and steps:
                            steps[-1] = (steps[-1][0], True)
                    if on_log is not None:
                        on_log(text)
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = str(aux["ID"])
            if failure:
                raise ImageBuildError(_build_failure(tag, current, failure, lines), logs="".join(lines))
        except engine_errors(docker) as err:
            if isinstance(err, docker.errors.APIError) and err.status_code and err.status_code < 500:
                raise ImageBuildError(
                    _build_failure(tag, current, str(err.explanation or err), lines), logs="".join(lines)
                ) from err
            raise unavailable(err) from err
        if not image_id:
            try:
                image_id = str(self.client.images.get(tag).id)
            except docker.errors.ImageNotFound as err:
                raise ImageBuildError(
                    _build_failure(tag, current, "the engine reported no image", lines), logs="".join(lines)
                ) from err
        return BuildResult(
            image_id=image_id,
            tag=tag,
            seconds=time.monotonic() - started,
            log="".join(lines),
            steps=tuple(steps),
        )


    def tag_image(self, image: str, tag: str) -> None:
        """Give image ``image`` (a tag or an id) the tag ``tag`` too (``repo:tag``; nothing is built or copied)."""
        docker = docker_sdk()
        repository, _, label = tag.rpartition(":")
        try:
            self.client.images.get(image).tag(repository, label or "latest")
        except engine_errors(docker) as err:
            raise unavailable(err) from err

    def remove_image(self, tag: str) -> bool:
        """Remove image ``tag`` (not forced); return ``False`` when it is absent or still in use."""
        docker = docker_sdk()
        try:
            self.client.images.remove(tag)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as err:
            if err.status_code == 409:  # used by another container
                return False
            raise unavailable(err) from err
        return True


    def env_cache_images(self, env_hash: str | None = None) -> list[str]:
        """Return the ids of cached environment-stage images (all, or those of ``env_hash``).

        Multi-stage builds keep the ``env`` stage as an untagged image: it is the layer cache
        that lets the next build skip ``pip install``. Its labels say which environment it holds.
        """
        docker = docker_sdk()
        wanted = [f"{LABEL_MANAGED}=true", "mldeploy.stage=env"]
        if env_hash is not None:
            wanted.append(f"{LABEL_ENV_HASH}={env_hash}")
        try:
            images = self.client.images.list(all=True, filters={"label": wanted})
        except engine_errors(docker) as err:
            raise unavailable(err) from err
        return [str(image.id) for image in images]


    def remove_env_cache(self, env_hash: str | None = None) -> int:
        """Remove cached environment-stage images (all, or ``env_hash``'s); return how many went.

        The next build of that environment reinstalls its packages.
        """
        return sum(1 for image_id in self.env_cache_images(env_hash) if self.remove_image(image_id))


    def python_version_of(self, image: str) -> str:
        """The ``X.Y`` of ``python3`` in ``image`` (asked once per image id, then cached on disk).

        Raises
        ------
        BaseImageMissingError
            ``image`` is not present.
        DeploymentError
            The image has no ``python3`` that answers.
        """
        docker = docker_sdk()
        image_id = self.ensure_base_image(image)
        cache_file = mldeploy_home() / "cache" / "base-image-python.json"
        try:
            cache = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
        if image_id in cache:
            return str(cache[image_id])
        try:
            out = self.client.containers.run(
                image_id,
                ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                remove=True,
                network_disabled=True,
                stdout=True,
                stderr=True,
            )
        except docker.errors.DockerException as err:
            raise DeploymentError(
                f"could not ask base image {image!r} for its Python version ({err}); the base image needs "
                "python3 on its PATH: set MLDEPLOY_BASE_IMAGE to a Python image."
            ) from err
        version = bytes(out).decode().strip().splitlines()[-1]
        cache[image_id] = version
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache), encoding="utf-8")
        return version

    def platform(self) -> str:
        """The engine's platform in Docker style (``linux/amd64`` or ``linux/arm64``)."""
        docker = docker_sdk()
        try:
            arch = str(self.client.info().get("Architecture", "x86_64")).lower()
        except engine_errors(docker) as err:
            raise unavailable(err) from err
        return "linux/arm64" if arch in {"aarch64", "arm64"} else "linux/amd64"


def _from_images(dockerfile: Path) -> list[str]:
    """Return the external images a Dockerfile's ``FROM`` lines name (not earlier stages)."""
    images: list[str] = []
    stages: set[str] = set()
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except OSError as err:
        raise ImageBuildError(f"cannot read {dockerfile}: {err}; write the build context first") from err
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) >= 2 and parts[0].upper() == "FROM":
            args = [p for p in parts[1:] if not p.startswith("--")]
            image = args[0]
            if len(args) >= 3 and args[1].upper() == "AS":
                stages.add(args[2].lower())
            if image.lower() not in stages and image not in images and "$" not in image:
                images.append(image)
    return images


def _build_failure(tag: str, step: str, detail: str, lines: list[str]) -> str:
    tail = "".join(lines[-20:]).rstrip()
    where = step or "before the first step"
    return (
        f"building image {tag} failed at {where}: {detail.strip()}\n"
        f"last output:\n{tail}\n"
        "Fix that step's input (a missing wheel means the wheelhouse lacks a package for the image's "
        "Python/platform) and deploy again."
    )

