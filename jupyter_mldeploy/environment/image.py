"""An environment in Docker: its wheels for the base image's Python and platform, and its image alone.

:func:`wheels_for_image` resolves an environment's wheelhouse for the image a build
will use (cached under ``$MLDEPLOY_HOME/wheelhouses/<spec hash>-<python>-<platform>/``,
so the next deployment or package of the same environment reuses it); the Docker
target and ``Model.package`` call it. :func:`build_environment_image` is
``Environment.build_local(use_docker=True)``: the environment and the scoring runtime
as an image, through the one image pipeline.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .._config import base_image, mldeploy_home
from ..errors import BaseImageMissingError, DockerUnavailableError
from ..images.pipeline import ImageInputs, ImagePlatform, build_image, image_platform

__all__ = ["EnvironmentImage", "ImageWheels", "build_environment_image", "cached_wheelhouse", "wheels_for_image"]

#: The Python and platform assumed for a Dockerfile-only package when no engine answers.
FALLBACK_PYTHON = "3.11"
FALLBACK_PLATFORM = "linux/amd64"

LogFn = Callable[[str], None]


class Environment(Protocol):
    """What this module needs of an :class:`~jupyter_mldeploy.environment.Environment`."""

    @property
    def name(self) -> str: ...

    @property
    def spec_hash(self) -> str: ...

    def download_wheels(self, dest: str | Path, python_version: str | None = ..., platform: str = ...,
                        *, include_runtime_wheel: bool = ..., log: LogFn | None = ...) -> Any: ...

_ENV_ONLY_SCRIPT = '''"""Placeholder entry script of an environment-only image (Environment.build_local(use_docker=True)).

Mount your source folder at /var/azureml-app/src (or build a service image) to serve a model.
"""


def init():
    raise RuntimeError(
        "this image holds an environment only; mount your source at /var/azureml-app/src "
        "with your score.py, or deploy with LocalWebservice"
    )


def run(raw_data):
    return None
'''


def cached_wheelhouse(
    env: Environment, python_version: str, platform: str, log: LogFn | None = None
) -> tuple[Path, bool]:
    """The wheelhouse of ``env`` for ``python_version`` and ``platform``, resolved once and cached.

    Returns ``(folder, reused)``. Concurrent callers wait for one resolution (a file lock).
    """
    root = mldeploy_home() / "wheelhouses"
    root.mkdir(parents=True, exist_ok=True)
    key = f"{env.spec_hash[:16]}-{python_version}-{platform.replace('/', '_')}"
    dest = root / key
    with open(root / f".{key}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (dest / "requirements.txt").is_file():
            return dest, True
        temp = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}-"))
        try:
            env.download_wheels(
                temp, python_version=python_version, platform=platform, include_runtime_wheel=False, log=log
            )
            os.replace(temp, dest)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    return dest, False


@dataclass(frozen=True)
class ImageWheels:
    """An environment's wheelhouse for one image: where it is, whether it was reused, for which image."""

    path: Path
    reused: bool
    platform: ImagePlatform

    @property
    def detail(self) -> str:
        """One line for the environment phase."""
        return (
            f"Python {self.platform.python_version} {self.platform.platform}: "
            f"wheels {'reused' if self.reused else 'resolved'}"
        )


def wheels_for_image(env: Environment, *, need_engine: bool = True, log: LogFn | None = None) -> ImageWheels:
    """Resolve ``env``'s wheels for the base image's Python and the engine's platform.

    With ``need_engine=False`` (a Dockerfile written for later) a missing engine or base
    image is not an error: the wheels are resolved for Python 3.11 on linux/amd64, and
    ``log`` is told so.

    Raises
    ------
    DockerUnavailableError, BaseImageMissingError
        With ``need_engine``: no engine answers, or the base image is missing.
    """
    try:
        platform = image_platform()
    except (DockerUnavailableError, BaseImageMissingError) as err:
        if need_engine:
            raise
        platform = ImagePlatform(base_image(), FALLBACK_PYTHON, FALLBACK_PLATFORM)
        why = "no Docker engine answers" if isinstance(err, DockerUnavailableError) else "the base image is not here"
        if log is not None:
            log(
                f"{why}: wheels for Python {platform.python_version} {platform.platform} (the base image "
                f"{platform.base_image!r} must have that Python)"
            )
    path, reused = cached_wheelhouse(env, platform.python_version, platform.platform, log=log)
    return ImageWheels(path, reused, platform)


@dataclass(frozen=True)
class EnvironmentImage:
    """An environment's image built by ``Environment.build_local(use_docker=True)``."""

    tag: str
    image_id: str
    spec_hash: str
    seconds: float
    env_layer_cached: bool


def build_environment_image(env: Environment, log: LogFn | None = None) -> EnvironmentImage:
    """Build ``env``'s image alone (base + environment + scoring runtime), tagged ``mldeploy/env-NAME:HASH12``.

    Examples
    --------
    >>> build_environment_image(Environment("sklearn-env"), log=print).tag   # doctest: +SKIP
    'mldeploy/env-sklearn-env:d44ed03d1272'
    """
    started = time.monotonic()
    wheels = wheels_for_image(env, log=log)
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in env.name.lower()).strip("._-") or "x"
    tag = f"mldeploy/env-{safe}:{env.spec_hash[:12]}"

    def on_log(text: str) -> None:
        for line in text.splitlines():
            if line.strip() and log is not None:
                log(line)

    with tempfile.TemporaryDirectory(prefix="mldeploy-env-") as temp:
        source = Path(temp) / "src"
        source.mkdir()
        (source / "score.py").write_text(_ENV_ONLY_SCRIPT, encoding="utf-8")
        inputs = ImageInputs(wheels.path, "score.py", env.spec_hash, source, base_image=wheels.platform.base_image)
        built = build_image(
            tag, inputs, context_dir=Path(temp) / "context", labels={"mldeploy.environment": env.name}, on_log=on_log
        )
    return EnvironmentImage(tag, built.image_id, env.spec_hash, time.monotonic() - started, built.env_layer_cached)
