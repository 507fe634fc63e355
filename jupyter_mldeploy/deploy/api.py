"""``deploy()``: from models + an inference config to a running web service (``Model.deploy``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

from .._names import validate_name
from ..errors import InvalidArgumentError, ServiceExistsError
from . import _state
from .webservice import DeploymentConfiguration, Webservice

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
    from .local_docker import DockerDeploymentConfiguration, LocalWebservice, docker_available
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
    from .local_docker import LocalWebservice

    return any(r.name == name for r in LocalWebservice._discover(name))
