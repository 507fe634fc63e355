"""``deploy()``: from models + an inference config to a running web service (``Model.deploy``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._names import validate_name
from ..errors import InvalidArgumentError, ServiceExistsError
from . import _state
from .webservice import DeploymentConfiguration, Webservice


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
        ``ProcessWebservice.deploy_configuration(...)`` (local process) or, when available,
        ``LocalWebservice.deploy_configuration(...)`` (Docker). ``None``: the local process target.
    overwrite
        Replace an existing service of that name (otherwise :class:`ServiceExistsError`).

    Examples
    --------
    >>> service = deploy("ridge", [model], InferenceConfig("score.py"))   # doctest: +SKIP
    >>> service.wait_for_deployment(show_output=True)                     # doctest: +SKIP
    """
    from .process import ProcessDeploymentConfiguration, ProcessWebservice

    validate_name(name, "service")
    if inference_config is None or not hasattr(inference_config, "entry_script_path"):
        raise InvalidArgumentError(
            "inference_config must be an InferenceConfig(entry_script=..., source_directory=..., environment=...)."
        )
    config = deployment_config or ProcessDeploymentConfiguration()
    if not isinstance(config, ProcessDeploymentConfiguration):
        raise InvalidArgumentError(
            f"deployment_config {type(config).__name__} is not supported yet; use "
            "ProcessWebservice.deploy_configuration(...)."
        )
    if name in _state.names():
        if not overwrite:
            raise ServiceExistsError(
                f"a service named {name!r} exists already; pass overwrite=True to replace it, "
                "or choose another name."
            )
        Webservice(name).delete()
    return ProcessWebservice._deploy(name, models, inference_config, config)
