"""The one image pipeline: a wheelhouse, models and a source folder in, a tagged image (or a context) out.

Every image jupyter-mldeploy makes goes through :func:`build_image`: a Docker
deployment's image (``deploy/docker.py``), a ``Model.package`` image
(``deploy/package.py``) and an environment's image alone
(``Environment.build_local(use_docker=True)``). It writes the offline build context
(:mod:`.context`), builds it with the engine (:mod:`.engine`), labels the image so
that its home can find and clean it, says whether the environment layer came from the
layer cache, and removes the context afterwards (the image holds it; the wheels stay
in their wheelhouse). :func:`write_context` stops before the build, for
``Model.package(..., generate_dockerfile=True)``. :func:`dev_image` is the Docker target's
shared image (the environment, models and code are mounted into it), built once per base image.

:func:`image_platform` answers the question every caller asks first: which Python and
platform the base image has, so that the environment's wheels are resolved for it.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .._config import base_image, mldeploy_home
from .._runtime import runtime_wheel
from ..source_copy import left_out_note
from .context import ContextInfo, write_build_context
from .dockerfile import render_dev_dockerfile
from .engine import (
    LABEL_ENV_HASH,
    LABEL_HOME,
    LABEL_MANAGED,
    LABEL_MODELS,
    DockerEngine,
    shared_engine,
)

__all__ = [
    "ENV_LAYER_STEP", "BuiltImage", "DevImage", "ImageInputs", "ImagePlatform", "build_image", "dev_image",
    "image_platform", "write_context",
]

#: The Dockerfile step that installs the environment's wheels (cached while the wheelhouse is the same).
ENV_LAYER_STEP = "RUN /opt/mldeploy/venv/bin/python -m pip install"

@dataclass(frozen=True)
class ImagePlatform:
    """The base image an image builds on, with its Python ``X.Y`` and the engine's platform."""

    base_image: str
    python_version: str
    platform: str


def image_platform(engine: DockerEngine | None = None, image: str | None = None) -> ImagePlatform:
    """The Python and platform of ``image`` (default: the configured base image) on this engine.

    Raises
    ------
    DockerUnavailableError
        No engine answers.
    BaseImageMissingError
        The base image is not present (builds never pull).
    """
    engine = engine or shared_engine()
    image = image or base_image()
    return ImagePlatform(image, engine.python_version_of(image), engine.platform())


@dataclass(frozen=True)
class BuiltImage:
    """An image :func:`build_image` made: its tag and id, how long it took, and what came from the cache."""

    tag: str
    image_id: str
    seconds: float
    env_layer_cached: bool
    context: ContextInfo


@dataclass(frozen=True)
class ImageInputs:
    """What goes into an image: the environment's wheelhouse, the entry script and its folder, the models.

    ``entry_script`` is relative to ``source_dir``; ``models`` are ``(name, version, path)``;
    ``base_image`` defaults to the configured one (``MLDEPLOY_BASE_IMAGE``).
    """

    wheelhouse: Path
    entry_script: str
    env_hash: str
    source_dir: Path | None
    models: tuple[tuple[str, str, str], ...] = ()
    base_image: str | None = None


def write_context(inputs: ImageInputs, dest: Path) -> ContextInfo:
    """Write the offline build context of an image into ``dest`` (replacing what is there)."""
    return write_build_context(
        dest,
        base_image=inputs.base_image or base_image(),
        wheelhouse_dir=inputs.wheelhouse,
        runtime_wheel=runtime_wheel(),
        entry_script=inputs.entry_script,
        env_hash=inputs.env_hash,
        models=list(inputs.models),
        source_dir=inputs.source_dir,
        exist_ok=True,
    )


def build_image(
    tag: str,
    inputs: ImageInputs,
    *,
    context_dir: Path,
    labels: Mapping[str, str] | None = None,
    on_log: Callable[[str], None] | None = None,
    engine: DockerEngine | None = None,
) -> BuiltImage:
    """Write the build context into ``context_dir``, build it as ``tag`` and remove the context.

    After a failed build the context stays, to look at (the next build replaces it).
    The image carries ``labels`` plus ours (``mldeploy.managed``, ``mldeploy.models``,
    ``mldeploy.env-hash``, ``mldeploy.home``). ``on_log`` gets the build output as it
    streams.

    Raises
    ------
    ImageBuildError
        A step failed (the message names it and has its output).
    BaseImageMissingError, DockerUnavailableError
        The base image is missing, or no engine answers.
    """
    engine = engine or shared_engine()
    started = time.monotonic()
    info = write_context(inputs, context_dir)
    note = left_out_note(info.left_out)
    if note and on_log is not None:
        on_log(note + "\n")
    all_labels = {
        LABEL_MANAGED: "true",
        LABEL_MODELS: info.models_label,
        LABEL_ENV_HASH: info.env_hash,
        LABEL_HOME: str(mldeploy_home().resolve()),
        **dict(labels or {}),
    }
    result = engine.build_image(info.path, tag, labels=all_labels, on_log=on_log)
    shutil.rmtree(context_dir, ignore_errors=True)  # kept after a failure, to look at
    try:
        cached = result.step_cached(ENV_LAYER_STEP)
    except KeyError:
        cached = False
    return BuiltImage(tag, result.image_id, time.monotonic() - started, cached, info)


#: The label that marks the Docker target's shared images.
LABEL_STAGE = "mldeploy.stage"


@dataclass(frozen=True)
class DevImage:
    """The Docker target's shared image: its tag and id, and whether it was there already."""

    tag: str
    image_id: str
    reused: bool
    seconds: float


def dev_image(
    base: str | None = None,
    *,
    on_log: Callable[[str], None] | None = None,
    engine: DockerEngine | None = None,
) -> DevImage:
    """The image Docker deployments run (:func:`~.dockerfile.render_dev_dockerfile`), built once per base image.

    Its tag names the base image's id and the Dockerfile's hash
    (``mldeploy/dev:<base id 12>-<dockerfile 8>``); a present one is reused, so nothing is
    sent to the engine. It is shared by every service of every home (never removed by one).

    Raises
    ------
    ImageBuildError, BaseImageMissingError, DockerUnavailableError
        As :func:`build_image`.
    """
    engine = engine or shared_engine()
    started = time.monotonic()
    base = base or base_image()
    base_id = engine.ensure_base_image(base).split(":")[-1][:12]
    dockerfile = render_dev_dockerfile(base_image=base)
    tag = f"mldeploy/dev:{base_id}-{hashlib.sha256(dockerfile.encode()).hexdigest()[:8]}"
    if engine.image_exists(tag):
        return DevImage(tag, tag, True, time.monotonic() - started)
    with tempfile.TemporaryDirectory(prefix="mldeploy-dev-") as context:
        (Path(context) / "Dockerfile").write_text(dockerfile, encoding="utf-8")
        built = engine.build_image(context, tag, labels={LABEL_MANAGED: "true", LABEL_STAGE: "dev"}, on_log=on_log)
    return DevImage(tag, built.image_id, False, time.monotonic() - started)
