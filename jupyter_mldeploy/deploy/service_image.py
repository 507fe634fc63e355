"""A service's image, for the targets that run one (Docker, Kubernetes): its environment's wheels and its build.

:func:`image_environment` resolves the environment's wheels for the base image's Python
and says whether the environment changed (so the pipeline knows a build is due);
:func:`build_service_image` builds the layered image from the service's record through the
one image pipeline (``images/pipeline.py``). Both targets call these; what differs (where
the source comes from, the tag) is passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..environment.environment import Environment
from ..environment.image import wheels_for_image
from ..errors import DeploymentError, EnvironmentSpecError, MLDeployError
from ..images.engine import DockerEngine
from ..images.imports import kernel_requirements, missing_imports_note
from ..images.pipeline import BuiltImage, ImageInputs, build_image
from .progress import DeploymentProgress
from .records import ServiceRecord
from .server_options import tracing_on, with_tracing_packages

__all__ = ["build_service_image", "default_environment", "environment_again", "image_environment", "image_tag"]


def image_tag(service: str) -> str:
    """The image tag of service ``service``'s builds: ``mldeploy/service-<name>:latest``.

    Image names are lowercase and at most 255 characters: a name that is not already a
    lowercase image name, or is long, gets a hash of the whole name, so ``Ridge`` and
    ``ridge`` (two services) never share one image.

    Examples
    --------
    >>> image_tag("ridge")
    'mldeploy/service-ridge:latest'
    >>> image_tag("Ridge")
    'mldeploy/service-ridge-8f5db5c7f3:latest'
    """
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in service.lower()).strip("._-") or "service"
    if safe != service or len(safe) > 200:
        safe = f"{safe[:200]}-{hashlib.sha256(service.encode()).hexdigest()[:10]}"
    return f"mldeploy/service-{safe}:latest"


def image_environment(
    record: ServiceRecord, progress: DeploymentProgress, env: Any, inference_config: Any
) -> tuple[str, bool]:
    """Resolve the environment's wheels for the image into ``record.environment``; return ``(detail, changed)``.

    ``inference_config=None`` keeps the current environment when its wheels are still there.
    Without an environment the image gets the scoring runtime only (said in the log).
    """
    old = record.environment or {}
    traced = tracing_on(record.config)
    if inference_config is None and old.get("wheelhouse") and Path(old["wheelhouse"]).is_dir() and (
            old.get("traced") or not traced):
        return "unchanged", False
    if env is None and inference_config is None and old.get("spec_hash") and not _inferred(old):
        env = environment_again(old)  # a service found again from labels: its environment by name
    if env is None:
        env = default_environment(
            record.name, record.entry_script_path, Path(record.source_dir), record.folder, progress.log
        )
    # the user's spec hash is kept (the service is found again by it); "traced" says the wheels add OpenTelemetry
    wheels = wheels_for_image(with_tracing_packages(env, record.config, progress.log), log=progress.log)
    note = missing_imports_note(record.entry_script_path, Path(record.source_dir), wheels.path)
    if note:
        progress.log(note)
    record.environment = {
        "name": env.name,
        "version": getattr(env, "version", None),
        "spec_hash": env.spec_hash,
        "wheelhouse": str(wheels.path),
        "python_version": wheels.platform.python_version,
        "platform": wheels.platform.platform,
        "base_image": wheels.platform.base_image,
        "traced": traced,
    }
    changed = (old.get("spec_hash") != env.spec_hash or old.get("base_image") != wheels.platform.base_image
               or bool(old.get("traced")) != traced)
    return f"{env.name} for {wheels.detail}", changed


def default_environment(
    name: str, entry_script: Path, source_dir: Path | None, folder: Path, log: Callable[[str], None]
) -> Any:
    """The environment of an image deployed without one: what the script imports, as installed in this kernel.

    The script's (and its folder's) imports are mapped to the distributions installed
    here, pinned to their versions (:func:`~jupyter_mldeploy.images.imports.kernel_requirements`),
    so the container can import what ``%%score_script --test`` and the process target could.
    The requirements are written to ``folder/inferred-requirements.txt``.

    Raises
    ------
    EnvironmentSpecError
        The entry script imports (outside ``try``) a module that is not installed here
        either; the message names it and says how to pass an environment.
    """
    found = kernel_requirements(entry_script, source_dir)
    script = Path(entry_script).name
    if found.not_installed:
        names = ", ".join(found.not_installed)
        raise EnvironmentSpecError(
            f"{script} imports {names}, which is not installed in this kernel either, so the image cannot get "
            f"it and init() would fail: install it here (pip install ...), or pass the environment yourself: "
            "InferenceConfig(..., environment=Environment.from_pip_requirements('env', 'requirements.txt')) "
            "(CLI: --env requirements.txt)."
        )
    if not found.requirements:
        log("no environment given: the image gets the scoring runtime only (the script imports no installed "
            "package; pass InferenceConfig(environment=...) for more)")
        return Environment(f"{name}-runtime")
    folder.mkdir(parents=True, exist_ok=True)
    requirements = folder / "inferred-requirements.txt"
    requirements.write_text("".join(f"{line}\n" for line in found.requirements), encoding="utf-8")
    log(f"no environment given: the image gets what {script} imports, as installed in this kernel: "
        f"{', '.join(found.requirements)} (pass InferenceConfig(environment=...) to choose)")
    return Environment.from_pip_requirements(f"{name}-inferred", requirements)


def _inferred(old: dict[str, Any]) -> bool:
    """Whether the environment was inferred from the script's imports (then it is inferred again)."""
    return str(old.get("name") or "").endswith("-inferred")


def build_service_image(
    record: ServiceRecord,
    progress: DeploymentProgress,
    tag: str,
    source_dir: Path,
    *,
    labels: dict[str, str],
    engine: DockerEngine,
) -> BuiltImage:
    """Build ``tag`` from the record's environment, models and ``source_dir`` (the build output goes to ``progress``)."""
    env = record.environment or {}
    inputs = ImageInputs(
        Path(env["wheelhouse"]),
        record.entry_script,
        env["spec_hash"],
        source_dir,
        tuple((m["name"], str(m["version"]), m["path"]) for m in record.models if m.get("path")),
        env["base_image"],
    )
    return build_image(
        tag, inputs, context_dir=record.folder / "context", labels=labels, on_log=progress.log_text, engine=engine,
    )


def environment_again(old: dict[str, Any]) -> Any:
    """The registered environment a service was built with (name and spec hash from its labels).

    Raises
    ------
    DeploymentError
        It is not registered here (any more): the caller must pass the inference config again.
    """
    name, spec_hash = old.get("name") or "", old.get("spec_hash")
    if name.endswith("-runtime") and Environment(name).spec_hash == spec_hash:
        return Environment(name)
    try:
        versions = Environment.list_versions(name) if name else []
    except MLDeployError:
        versions = []
    for env in versions:
        if env.spec_hash == spec_hash:
            return env
    raise DeploymentError(
        f"the environment of this service ({name or 'unnamed'}, spec hash {str(spec_hash)[:12]}) is not "
        "registered here, so it cannot be rebuilt; pass inference_config=InferenceConfig(..., "
        "environment=...) to update()."
    )
