"""Model packages: a service image (or its Dockerfile and full build context) without a deployment.

``package(models, inference_config)`` is what ``Model.package`` calls. It
builds, in the background, the same layered image a Docker deployment runs
(base, environment, runtime, models, code) and returns a :class:`ModelPackage`
at once; ``wait_for_creation()`` waits for it. With
``generate_dockerfile=True`` nothing is built: ``save(folder)`` writes a
Dockerfile and its complete context (wheels included), which builds offline
with a plain ``docker build``. Both go through the one image pipeline
(:mod:`jupyter_mldeploy.images.pipeline`), as a Docker deployment does.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._config import mldeploy_home
from ..environment.image import wheels_for_image
from ..errors import (
    DeploymentTimeoutError,
    InvalidArgumentError,
    TargetExistsError,
)
from ..images.engine import shared_engine, split_repository
from ..images.imports import missing_imports_note
from ..images.pipeline import ImageInputs, build_image, write_context
from ..registry.layout import lay_out_models
from ..source_copy import left_out_note
from .progress import DeploymentProgress, follow
from .service_image import default_environment


class ModelPackage:
    """A service image being built (or a Dockerfile with its context), as Azure ML v1's ``ModelPackage``.

    Attributes
    ----------
    location
        The image tag (``NAME:LABEL``): what ``docker run`` takes.
    generate_dockerfile
        Whether only a Dockerfile and its context were made (see :meth:`save`).
    progress
        The phases of the build, with their output (as a deployment's).

    Examples
    --------
    >>> package = Model.package([model], inference_config, image_name="ridge", image_label="1")  # doctest: +SKIP
    >>> package.wait_for_creation(show_output=True)                                            # doctest: +SKIP
    >>> package.location                                                                       # doctest: +SKIP
    'ridge:1'
    """

    def __init__(
        self,
        models: Sequence[Any],
        inference_config: Any,
        generate_dockerfile: bool = False,
        image_name: str | None = None,
        image_label: str | None = None,
    ) -> None:
        if inference_config is None or not hasattr(inference_config, "entry_script_path"):
            raise InvalidArgumentError(
                "inference_config must be an InferenceConfig(entry_script=..., source_directory=..., environment=...)."
            )
        self.id = uuid.uuid4().hex[:12]
        self.generate_dockerfile = bool(generate_dockerfile)
        self.location = _image_ref(image_name, image_label, models)
        self.folder = mldeploy_home() / "packages" / self.id
        self.progress = DeploymentProgress()
        self.image_id: str | None = None
        #: ``REPOSITORY@sha256:...`` once :meth:`push` pushed the image
        self.pushed: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._main, args=(models, inference_config), name=f"mldeploy-package-{self.id}", daemon=True
        )
        self._thread.start()

    # --- state ------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``Running``, ``Succeeded`` or ``Failed``."""
        if self._thread.is_alive():
            return "Running"
        return "Failed" if self.progress.error is not None else "Succeeded"

    @property
    def context_dir(self) -> Path:
        """The build context written for this package (kept for ``generate_dockerfile=True``)."""
        return self.folder / "context"

    def wait_for_creation(self, show_output: bool = False, timeout_sec: float = 3600) -> None:
        """Wait until the image (or the Dockerfile context) is ready; raise with the cause if it failed.

        With ``show_output=True`` the phases and the build output are printed as they happen.
        """
        if not follow(
            self._thread, self.progress, show_output=show_output, timeout_sec=timeout_sec,
            what=f"packaging {self.location}",
        ):
            raise DeploymentTimeoutError(
                f"package {self.location} was not created within {timeout_sec:g}s "
                f"({self.progress.summary()}); wait longer, or look at get_logs()."
            )
        if show_output:
            what = f"Dockerfile context in {self.context_dir}" if self.generate_dockerfile else f"image {self.location}"
            print(f"package {what} ready ({self.progress.summary()})")

    def get_logs(self) -> str:
        """The build output (and the phase lines) so far."""
        return "\n".join(
            e.text if e.kind == "line" else f"[{e.phase}] {e.text}"
            for e in self.progress.events_since(0)
            if e.kind in ("line", "phase-end")
        )

    def save(self, output_directory: str | Path) -> Path:
        """Write the Dockerfile and its complete build context into ``output_directory``.

        The folder builds offline (``docker build -t IMAGE DIR``); then
        ``docker run -p 127.0.0.1:6789:5001 IMAGE`` serves ``http://127.0.0.1:6789/score``.

        Raises
        ------
        InvalidArgumentError
            The package was made without ``generate_dockerfile=True``.
        TargetExistsError
            ``output_directory`` holds files already.
        """
        if not self.generate_dockerfile:
            raise InvalidArgumentError(
                "save() writes a Dockerfile context: make the package with generate_dockerfile=True "
                f"(this one is the image {self.location}; run it with docker run)."
            )
        self.wait_for_creation()
        dest = Path(output_directory)
        if dest.exists() and any(dest.iterdir()):
            raise TargetExistsError(f"{dest} is not empty; pick a new folder for the package's build context.")
        shutil.copytree(self.context_dir, dest, dirs_exist_ok=True, symlinks=False)
        return dest

    def push(self, repository: str, username: str | None = None, password: str | None = None) -> str:
        """Tag the image as ``repository`` (``REGISTRY[:PORT]/NAME[:TAG]``) and push it there; return ``REPOSITORY@sha256:...``.

        Without a tag in ``repository`` the package's own label is used. Credentials: ``username``
        and ``password``, else what ``docker login`` stored. The digest is what a Kubernetes
        Deployment should name (``image=package.pushed``).

        Raises
        ------
        InvalidArgumentError
            The package is a Dockerfile context (nothing to push), or ``repository`` is no image name.
        ImagePushError
            The registry refused the push or does not answer (its answer and the fix).
        """
        if self.generate_dockerfile:
            raise InvalidArgumentError(
                "this package is a Dockerfile context, not an image: build it (docker build), or package "
                "again without generate_dockerfile=True, then push."
            )
        name, tag = split_repository(repository, self.location.rpartition(":")[2])
        self.wait_for_creation()
        pushed = shared_engine().push_image(self.location, name, tag, username=username, password=password)
        self.pushed = pushed.by_digest
        return self.pushed

    def pull(self) -> str:
        """The image is built on this machine already: say so and return its tag (v1's ``package.pull()``)."""
        if self.generate_dockerfile:
            raise InvalidArgumentError(
                "this package is a Dockerfile context, not an image: build it with docker build -t TAG "
                "(after save(folder)), or package again without generate_dockerfile=True."
            )
        self.wait_for_creation()
        print(f"image {self.location} is local already (built on this machine); run it with "
              f"docker run -p 127.0.0.1:6789:5001 {self.location}")
        return self.location

    def delete(self) -> None:
        """Remove the built image (if any) and the package's staging folder."""
        self._thread.join(timeout=3600)
        if not self.generate_dockerfile and self.image_id:
            shared_engine().remove_image(self.location)
        shutil.rmtree(self.folder, ignore_errors=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "id": self.id,
            "location": self.location,
            "state": self.state,
            "generate_dockerfile": self.generate_dockerfile,
            "image_id": self.image_id,
            "pushed": self.pushed,
            "phases": [p.to_dict() for p in self.progress.phases],
        }

    def __repr__(self) -> str:
        return f"ModelPackage(location={self.location!r}, state={self.state!r})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Readable lines in a terminal; the PackagePanel in a Jupyter kernel."""
        from ..display import mimebundle
        from .describe import package_text

        return mimebundle(self, "package", package_text, include, exclude)

    # --- the work ---------------------------------------------------------------------------

    def _main(self, models: Sequence[Any], inference_config: Any) -> None:
        error: BaseException | None = None
        try:
            self._work(models, inference_config)
        except BaseException as err:  # noqa: BLE001 - reported by wait_for_creation
            error = err
        self.progress.finish(error)

    def _work(self, models: Sequence[Any], inference_config: Any) -> None:
        progress = self.progress
        with progress.phase("resolve") as phase:
            laid_out = lay_out_models(models, self.folder / "azureml-models", log=progress.log)
            phase.detail = f"{len(laid_out.entries)} model(s), entry script {inference_config.entry_script_relative}"
        env = getattr(inference_config, "environment", None)
        with progress.phase("environment") as phase:
            if env is None:
                env = default_environment("package", inference_config.entry_script_path,
                                          inference_config.source_directory_path, self.folder, progress.log)
            wheels = wheels_for_image(env, need_engine=not self.generate_dockerfile, log=progress.log)
            phase.detail = f"{env.name} for {wheels.detail}"
        note = missing_imports_note(inference_config.entry_script_path, inference_config.source_directory_path, wheels.path)
        if note:
            progress.log(note)
        inputs = ImageInputs(
            wheels.path,
            inference_config.entry_script_relative,
            env.spec_hash,
            inference_config.source_directory_path,
            tuple((m["name"], str(m["version"]), m["path"]) for m in laid_out.entries),
            wheels.platform.base_image,
        )
        with progress.phase("build") as phase:
            if self.generate_dockerfile:
                note = left_out_note(write_context(inputs, self.context_dir).left_out)
                if note:
                    progress.log(note)
                phase.detail = (
                    f"Dockerfile and context written (Python {wheels.platform.python_version}, "
                    f"{wheels.platform.platform}); no build"
                )
                progress.log(f"build it with: docker build -t {self.location} DIR  (after package.save(DIR))")
                return
            built = build_image(
                self.location, inputs, context_dir=self.context_dir, labels={"mldeploy.package": self.location},
                on_log=progress.log_text,
            )
            self.image_id = built.image_id
            phase.detail = f"{self.location} in {built.seconds:.1f}s"
        shutil.rmtree(self.folder, ignore_errors=True)  # the image holds it all


def package(
    models: Sequence[Any],
    inference_config: Any,
    generate_dockerfile: bool = False,
    image_name: str | None = None,
    image_label: str | None = None,
) -> ModelPackage:
    """Package ``models`` with ``inference_config`` as a service image (built in the background).

    Parameters
    ----------
    models
        Registered ``Model`` objects or local paths.
    inference_config
        The entry script, its source folder and environment.
    generate_dockerfile
        Make only a Dockerfile and its complete context (write it out with ``save(folder)``).
    image_name, image_label
        The image's repository and tag (default ``mldeploy/package-<first model>`` and a random label; an ``image_name`` without a label is labelled 1, 2, ... as in v1).

    Examples
    --------
    >>> pkg = package([model], InferenceConfig("score.py"), generate_dockerfile=True)  # doctest: +SKIP
    >>> pkg.wait_for_creation(show_output=True)                                          # doctest: +SKIP
    >>> pkg.save("ridge-image")                                                          # doctest: +SKIP
    """
    return ModelPackage(models, inference_config, generate_dockerfile, image_name, image_label)


# --- helpers ------------------------------------------------------------------------------------


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in text.lower()).strip("._-") or "x"


def _image_ref(image_name: str | None, image_label: str | None, models: Sequence[Any]) -> str:
    versioned = image_name is not None and image_label is None
    if image_name is None:
        first = models[0] if isinstance(models, Sequence) and not isinstance(models, str) and models else models
        stem = getattr(first, "name", None) or Path(str(first)).stem or "package"
        image_name = f"mldeploy/package-{_safe(stem)}"
        label = image_label or uuid.uuid4().hex[:8]
    else:
        label = image_label or "1"
    ref = f"{image_name}:{label}"
    if not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", ref.replace("__", "_")):
        raise InvalidArgumentError(
            f"image {ref!r} is not a valid image name: use lowercase letters, digits, '.', '-', '_' and '/' "
            "in image_name, and letters, digits, '.', '-', '_' in image_label."
        )
    if versioned:
        ref = f"{image_name}:{_next_label(image_name)}"  # v1: name:1, name:2, ...
    return ref


def _next_label(image_name: str) -> str:
    """v1's versioning: the Nth package under one image name is labelled ``N`` (counted per MLDEPLOY_HOME)."""
    folder = mldeploy_home() / "packages"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "labels.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / "labels.json"
        try:
            counts = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            counts = {}
        if not isinstance(counts, dict):
            counts = {}
        counts[image_name] = int(counts.get(image_name, 0)) + 1
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(counts, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
        return str(counts[image_name])


__all__ = ["ModelPackage", "package"]
