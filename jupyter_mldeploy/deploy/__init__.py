"""The deployment API: ``deploy()`` (what ``Model.deploy`` calls) and the ``Webservice`` targets.

``deploy(name, models, inference_config, deployment_config)`` turns registered models
and an entry script into a running web service. The targets (the local process,
Docker) live in their own modules; ``jupyter_mldeploy.images`` builds the images.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._names import validate_name
from ..errors import InvalidArgumentError, ServiceExistsError
from . import records as _state
from .service import DeploymentConfiguration, Webservice

_log = logging.getLogger(__name__)


def deploy(
    name: str,
    models: Sequence[Any],
    inference_config: Any,
    deployment_config: DeploymentConfiguration | None = None,
    overwrite: bool = False,
) -> Webservice:
    """Deploy ``models`` with ``inference_config`` as service ``name``; returns at once.

    The deployment runs in the background: call ``wait_for_deployment()`` on
    the returned service (with ``show_output=True`` to watch the phases).

    Parameters
    ----------
    name
        Service name (letters, digits, ``-``, ``_``, ``.``).
    models
        Registered ``Model`` objects or local paths.
    inference_config
        An :class:`~jupyter_mldeploy.InferenceConfig` (entry script, source folder, environment).
    deployment_config
        ``LocalWebservice.deploy_configuration(...)`` (a Docker container) or
        ``ProcessWebservice.deploy_configuration(...)`` (a local process). ``None``: Docker when an
        engine answers and the base image (``MLDEPLOY_BASE_IMAGE``) is present, else the local
        process; the choice and why are printed and shown in the first phase.
    overwrite
        Replace an existing service of that name (otherwise :class:`ServiceExistsError`).

    Examples
    --------
    >>> service = deploy("ridge", [model], InferenceConfig("score.py"))   # doctest: +SKIP
    >>> service.wait_for_deployment(show_output=True)                     # doctest: +SKIP
    """
    from .docker import DockerDeploymentConfiguration, LocalWebservice, docker_available
    from .process import ProcessDeploymentConfiguration, ProcessWebservice

    validate_name(name, "service")
    if inference_config is None or not hasattr(inference_config, "entry_script_path"):
        raise InvalidArgumentError(
            "inference_config must be an InferenceConfig(entry_script=..., source_directory=..., environment=...)."
        )
    note = ""
    if deployment_config is None:
        usable, why = docker_available()
        if usable:
            deployment_config = LocalWebservice.deploy_configuration()
            note = f"target docker: {why}"
        else:
            deployment_config = ProcessWebservice.deploy_configuration()
            note = f"target process: {why}; deploying as a local process"
        _log.info("service %s: %s", name, note)
        print(f"{name}: {note}", file=sys.stderr)
    targets: dict[type, Any] = {
        ProcessDeploymentConfiguration: ProcessWebservice,
        DockerDeploymentConfiguration: LocalWebservice,
    }
    target = targets.get(type(deployment_config))
    if target is None:
        raise InvalidArgumentError(
            f"deployment_config {type(deployment_config).__name__} is not supported; use "
            "LocalWebservice.deploy_configuration(...) (Docker) or ProcessWebservice.deploy_configuration(...)."
        )
    if name in _state.names() or _discovered(name):
        if not overwrite:
            raise ServiceExistsError(
                f"a service named {name!r} exists already; pass overwrite=True to replace it, "
                "or choose another name."
            )
        Webservice(name).delete()
    if target is LocalWebservice:
        return LocalWebservice._deploy(name, models, inference_config, deployment_config, note)
    service = target._deploy(name, models, inference_config, deployment_config)
    if note and service.progress is not None:
        service.progress.log(note)
    return service


def _discovered(name: str) -> bool:
    """Whether a target finds service ``name`` without a record (a container of ours, say)."""
    from .docker import LocalWebservice

    return any(r.name == name for r in LocalWebservice._discover(name))


def models_from_specs(specs: Sequence[str]) -> list[Any]:
    """Turn ``NAME``, ``NAME:VERSION`` or local paths (the CLI's and magics' ``--model``) into models.

    An existing path is kept as a local path; anything else is a registered model
    (its latest version when none is given).
    """
    from ..registry.model import Model

    if not specs:
        raise InvalidArgumentError("give at least one --model NAME[:VERSION] or --model PATH.")
    models: list[Any] = []
    for spec in specs:
        if Path(spec).exists():
            models.append(spec)
        else:
            name, _, version = spec.partition(":")
            if version and not version.isdigit():
                raise InvalidArgumentError(
                    f"--model {spec}: VERSION must be a number, got {version!r} "
                    "(use NAME for the latest version, NAME:3 for version 3, or a local path)."
                )
            models.append(Model.get(name, int(version) if version else None))
    return models


def inference_config_from_files(
    entry_script: str, source_dir: str | None, env_file: str | None, env_name: str
) -> Any:
    """An ``InferenceConfig`` from the CLI's and magics' options.

    ``env_file`` is a requirements.txt or a conda ``.yml``/``.yaml`` (named ``env_name``);
    without ``source_dir`` the script's own folder is the source folder.
    """
    from .. import Environment, InferenceConfig

    environment = None
    if env_file:
        path = Path(env_file)
        if path.suffix.lower() in (".yml", ".yaml"):
            environment = Environment.from_conda_specification(env_name, str(path))
        else:
            environment = Environment.from_pip_requirements(env_name, str(path))
    script = Path(entry_script)
    folder = source_dir or str(script.resolve().parent)
    entry = str(script.resolve().relative_to(Path(folder).resolve())) if source_dir is None else entry_script
    return InferenceConfig(entry, source_directory=folder, environment=environment)
