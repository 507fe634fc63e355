"""The deployment API: ``deploy()`` (what ``Model.deploy`` calls) and the ``Webservice`` targets.

``deploy(name, models, inference_config, deployment_config)`` turns registered models
and an entry script into a running web service. The targets (the local process,
Docker) live in their own modules and are imported here, so that ``Webservice(name)``
finds the class of any deployed service; ``jupyter_mldeploy.images`` builds the images.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._names import validate_name
from ..environment import Environment
from ..errors import InvalidArgumentError, MLDeployError, ServiceExistsError
from ..inference_config import InferenceConfig
from ..registry.model import Model
from . import pipeline
from . import records as _state
from .config import DeploymentConfiguration
from .docker import LocalWebservice
from .k8s import KubernetesWebservice
from .package import ModelPackage, package
from .process import ProcessWebservice
from .service import Webservice, WebserviceState
from .targets import TargetChoice, choose_target, target_of

__all__ = [
    "DeploymentConfiguration",
    "KubernetesWebservice",
    "LocalWebservice",
    "ProcessWebservice",
    "TargetChoice",
    "Webservice",
    "WebserviceState",
    "choose_target",
    "configuration_for",
    "deploy",
    "deploy_from_files",
    "inference_config_from_files",
    "models_from_specs",
    "package",
    "package_from_files",
    "services_using",
]

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
        ``LocalWebservice.deploy_configuration(...)`` (a Docker container),
        ``ProcessWebservice.deploy_configuration(...)`` (a local process) or
        ``KubernetesWebservice.deploy_configuration(...)`` (a cluster). ``None``: the
        automatic choice of :func:`choose_target` (Docker when an engine answers and the
        base image is present, else the local process); the choice and why are printed and
        shown in the first phase.
    overwrite
        Replace an existing service of that name (otherwise :class:`ServiceExistsError`).

    Examples
    --------
    >>> service = deploy("ridge", [model], InferenceConfig("score.py"))   # doctest: +SKIP
    >>> service.wait_for_deployment(show_output=True)                     # doctest: +SKIP
    """
    if deployment_config is not None:
        return _deploy(name, models, inference_config, deployment_config, overwrite, "")
    choice = choose_target()
    return _deploy(name, models, inference_config, choice.target.deploy_configuration(), overwrite, choice.note)


def deploy_from_files(
    name: str,
    models: Sequence[Any],
    entry_script: str | None,
    *,
    source_dir: str | None = None,
    env_file: str | None = None,
    target: str | None = None,
    port: int | None = None,
    auth_enabled: bool | None = None,
    overwrite: bool = False,
    options: Mapping[str, Any] | None = None,
    inference_config: InferenceConfig | None = None,
    deployment_config: DeploymentConfiguration | None = None,
) -> Webservice:
    """Deploy from names and paths, as the faces take them (``%deploy_local``, ``mldeploy deploy``, the forms).

    ``models`` are ``NAME``, ``NAME:VERSION`` or local paths (:func:`models_from_specs`);
    ``entry_script``, ``source_dir`` and ``env_file`` make the inference config
    (:func:`inference_config_from_files`); ``target`` is ``"docker"``, ``"process"``,
    ``"kubernetes"`` or ``None`` for the automatic choice (:func:`choose_target`).
    ``options`` are more ``deploy_configuration`` settings of that target (``None`` values
    are left at the target's defaults, as are ``port`` and ``auth_enabled`` when ``None``).
    A ``port`` that another program or service holds raises
    :class:`~jupyter_mldeploy.errors.PortInUseError` here, before anything is recorded.
    ``inference_config`` and ``deployment_config`` (what ``az ml``'s ``--ic`` and ``--dc`` files
    give, :mod:`jupyter_mldeploy.azureml.cli_files`) replace those options: an entry script (or
    ``source_dir``, ``env_file``) beside an inference config, or a ``target``, ``port``,
    ``auth_enabled`` or option beside a deployment config, is a clear error.
    Returns at once, like :func:`deploy`.
    """
    chosen_models = models_from_specs(models)
    if inference_config is not None:
        _only_one("an inference config file", {"an entry script": entry_script, "a source folder": source_dir,
                                                "an environment file": env_file})
        config = inference_config
    elif entry_script:
        config = inference_config_from_files(entry_script, source_dir, env_file, f"{name}-env")
    else:
        raise InvalidArgumentError("give an entry script (--entry-script score.py) or an inference config file (--ic FILE).")
    note = ""
    if deployment_config is None:
        choice = choose_target(target)
        deployment_config = configuration_for(
            choice.target, {"port": port, "auth_enabled": auth_enabled, **(options or {})}
        )
        note = choice.note
    else:
        _only_one("a deployment config file", {"a target": target, "a port": port, "an auth setting": auth_enabled,
                                               **{f"--{k.replace('_', '-')}": v for k, v in (options or {}).items()}})
    pipeline.check_port(deployment_config.port, name)
    return _deploy(name, chosen_models, config, deployment_config, overwrite, note)


def _only_one(given: str, others: Mapping[str, Any]) -> None:
    """Raise when any of ``others`` (what ``given`` already sets) is set too."""
    clash = [what for what, value in others.items() if value is not None]
    if clash:
        raise InvalidArgumentError(
            f"{given} sets that already: leave out {', '.join(clash)} (or put it in the file)."
        )


def configuration_for(target: type[Webservice], settings: Mapping[str, Any]) -> DeploymentConfiguration:
    """``target.deploy_configuration(**settings)`` without the ``None`` values; a setting it lacks is a clear error.

    Raises
    ------
    InvalidArgumentError
        A setting the target does not have (the message lists those it has), or a bad value.
    """
    given = {k: v for k, v in settings.items() if v is not None}
    accepted = inspect.signature(target.deploy_configuration).parameters
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise InvalidArgumentError(
            f"{', '.join(unknown)}: not a setting of the {target.compute_type} target (it has "
            f"{', '.join(sorted(accepted))}); leave it out or choose the target that has it."
        )
    return target.deploy_configuration(**given)


def package_from_files(
    models: Sequence[Any],
    entry_script: str,
    *,
    source_dir: str | None = None,
    env_file: str | None = None,
    image: str | None = None,
    generate_dockerfile: bool = False,
) -> ModelPackage:
    """Package from names and paths, as the faces take them (``mldeploy package``, ``%mldeploy package``).

    ``image`` is ``NAME:TAG`` or ``NAME`` (default: ``mldeploy/package-<first model>`` and a random
    tag). Returns at once, like :func:`package`; call ``wait_for_creation()``.
    """
    chosen_models = models_from_specs(models)
    config = inference_config_from_files(entry_script, source_dir, env_file, "package-env")
    name, label = None, None
    if image:
        name, sep, label = image.rpartition(":")
        if not sep or "/" in label:
            name, label = image, None
    return package(chosen_models, config, generate_dockerfile=generate_dockerfile, image_name=name, image_label=label)


def _deploy(
    name: str,
    models: Sequence[Any],
    inference_config: Any,
    config: DeploymentConfiguration,
    overwrite: bool,
    note: str,
) -> Webservice:
    validate_name(name, "service")
    if inference_config is None or not hasattr(inference_config, "entry_script_path"):
        raise InvalidArgumentError(
            "inference_config must be an InferenceConfig(entry_script=..., source_directory=..., environment=...)."
        )
    target = target_of(config)
    if note:
        _log.info("service %s: %s", name, note)
        print(f"{name}: {note}", file=sys.stderr)
    if name in _state.names() or _discovered(name):
        existing = Webservice(name)
        if not overwrite and not _failed_to_deploy(existing):
            raise ServiceExistsError(
                f"a service named {name!r} exists already; pass overwrite=True (--overwrite in the CLI and "
                "%deploy_local) to replace it, or choose another name."
            )
        if not overwrite:
            print(f"{name}: replacing the deployment of that name that failed ({existing._record.error})",
                  file=sys.stderr)
        existing.delete()
    return target._deploy(name, models, inference_config, config, note)


def _failed_to_deploy(service: Webservice) -> bool:
    """Whether ``service``'s last deploy or update failed and it does not serve: deploying it again replaces it.

    (A service that served and then crashed is not replaced without ``overwrite``: its logs may matter.)
    """
    try:
        return bool(service._record.error) and service.state == WebserviceState.FAILED
    except MLDeployError:
        return False


def _discovered(name: str) -> bool:
    """Whether a target finds service ``name`` without a record (a container of ours, say)."""
    return any(r.name == name for t in Webservice._targets.values() for r in t._discover(name))


def services_using(script: str | Path) -> list[Webservice]:
    """The healthy services whose entry script is the file ``script`` (unreachable ones are left out).

    What ``%%score_script`` reloads after writing a script.
    """
    path = Path(script).expanduser().resolve()
    found = []
    for name in _state.names():
        try:
            record = _state.load(name)
            if record.entry_script and record.entry_script_path == path:
                service = Webservice(name)
                if service.state == WebserviceState.HEALTHY:
                    found.append(service)
        except MLDeployError:  # removed meanwhile, or its Docker engine is down: not a running user
            continue
    return found


def models_from_specs(specs: Sequence[Any], local_paths: bool = True) -> list[Any]:
    """Turn ``NAME``, ``NAME:VERSION`` or local paths (the CLI's and magics' ``--model``) into models.

    An existing path is kept as a local path; anything else is a registered model
    (its latest version when none is given). A ``Model`` object is kept as it is.
    With ``local_paths=False`` every string is a registered model's spec, never a path
    (what a face answering remote requests uses: a client cannot name the server's files).
    """
    if not specs:
        raise InvalidArgumentError("give at least one --model NAME[:VERSION] or --model PATH.")
    models: list[Any] = []
    for spec in specs:
        if not isinstance(spec, str) or (local_paths and Path(spec).exists()):
            models.append(spec)
        else:
            name, _, version = spec.partition(":")
            if version and not (version.isascii() and version.isdecimal()):
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
