"""Read ``az ml``'s inference and deployment configuration files (``--ic`` / ``--dc``) into this project's objects.

``az ml model deploy --ic inferenceConfig.json --dc deploymentConfig.json`` took two JSON
(or YAML) files; :func:`inference_config_from_file` turns the first into an
:class:`~jupyter_mldeploy.InferenceConfig` and :func:`deployment_config_from_file` the
second into a deployment configuration (``LOCAL``: Docker, ``ACI``: Docker with ACI's
limits, ``AKS``: the Kubernetes target), through the same calls v1 code makes
(``AciWebservice.deploy_configuration(...)``, ...). Paths in a file are relative to the
file's folder (``entryScript`` and ``condaFile`` to ``sourceDirectory`` when it is given).
Keys that only mean something in Azure are accepted and noted once as ignored; an unknown
key, bad JSON or YAML (with line and column), a wrong type or a missing entry script is one
clear error naming the file.

Examples
--------
>>> ic = inference_config_from_file("inferenceConfig.json")   # doctest: +SKIP
>>> dc = deployment_config_from_file("deploymentConfig.json")  # doctest: +SKIP
>>> Model.deploy(ws, "sentiment", [model], ic, dc)             # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..deploy.config import DeploymentConfiguration
from ..deploy.docker import LocalWebservice
from ..deploy.service import Webservice
from ..environment import Environment
from ..errors import InvalidArgumentError, MLDeployError
from ..inference_config import InferenceConfig
from ._notes import note_once
from .webservices import AciWebservice, AksWebservice

__all__ = ["deployment_config_from_file", "inference_config_from_file", "read_config_file"]

#: a key's rule: (keyword it becomes or None, kind of value, why it is ignored or "") or a nested section
Rule = tuple[str | None, str, str]
Spec = Mapping[str, "Rule | Spec"]

_AZURE = "it only means something in Azure"
_NO_GPU = "no GPU images are built here"
_NO_STEPS = ("images are built offline from the base image and the environment; put what the steps install "
             "into condaFile, or use baseImage")

INFERENCE_KEYS: Spec = {
    "entryScript": ("entry_script", "str", ""),
    "sourceDirectory": ("source_directory", "str", ""),
    "condaFile": ("conda_file", "str", ""),
    "runtime": ("runtime", "str", ""),
    "environment": ("environment", "any", ""),
    "baseImage": ("base_image", "str", ""),
    "description": ("description", "str", ""),
    "extraDockerfileSteps": (None, "str", _NO_STEPS),
    "extraDockerFileSteps": (None, "str", _NO_STEPS),
    "enableGpu": (None, "bool", _NO_GPU),
    "cudaVersion": (None, "str", _NO_GPU),
    "baseImageRegistry": (None, "any", "the base image is used from this machine's Docker engine"),
    "dependencies": (None, "list", "every file of sourceDirectory goes into the service: put these files there"),
    "schemaFile": (None, "str", "schemas come from the entry script's inference-schema decorators"),
    "$schema": (None, "any", ""),
}

_LOCAL: Spec = {"computeType": (None, "str", ""), "port": ("port", "int", "")}
_ACI: Spec = {
    "computeType": (None, "str", ""),
    "port": ("port", "int", ""),
    "containerResourceRequirements": {"cpu": ("cpu_cores", "number", ""), "memoryInGB": ("memory_gb", "number", "")},
    "authEnabled": ("auth_enabled", "bool", ""),
    **{key: (None, "any", _AZURE) for key in (
        "location", "sslEnabled", "sslCertificate", "sslKey", "cname", "dnsNameLabel", "appInsightsEnabled", "tags",
        "properties", "description", "primaryKey", "secondaryKey", "cmkVaultBaseUrl", "cmkKeyName", "cmkKeyVersion",
        "vnetName", "subnetName", "dataCollection")},
}
_AKS: Spec = {
    "computeType": (None, "str", ""),
    "port": ("port", "int", ""),
    "autoScaler": {
        "autoscaleEnabled": ("autoscale_enabled", "bool", ""), "minReplicas": ("autoscale_min_replicas", "int", ""),
        "maxReplicas": ("autoscale_max_replicas", "int", ""),
        "targetUtilization": ("autoscale_target_utilization", "int", ""),
        "refreshPeriodInSeconds": ("autoscale_refresh_seconds", "int", ""),
    },
    "containerResourceRequirements": {
        "cpu": ("cpu_cores", "number", ""), "memoryInGB": ("memory_gb", "number", ""),
        "cpuLimit": ("cpu_cores_limit", "number", ""), "memoryInGBLimit": ("memory_gb_limit", "number", ""),
    },
    "livenessProbeRequirements": {
        "periodSeconds": ("period_seconds", "int", ""), "initialDelaySeconds": ("initial_delay_seconds", "int", ""),
        "timeoutSeconds": ("timeout_seconds", "int", ""), "successThreshold": ("success_threshold", "int", ""),
        "failureThreshold": ("failure_threshold", "int", ""),
    },
    "authEnabled": ("auth_enabled", "bool", ""),
    "scoringTimeoutMs": ("scoring_timeout_ms", "int", ""),
    "maxConcurrentRequestsPerContainer": ("replica_max_concurrent_requests", "int", ""),
    "numReplicas": ("num_replicas", "int", ""),
    "gpuCores": ("gpu_cores", "int", ""),
    "namespace": ("namespace", "str", ""),
    **{key: (None, "any", _AZURE) for key in (
        "appInsightsEnabled", "dataCollection", "maxQueueWaitMs", "keys", "tokenAuthEnabled", "tags", "properties",
        "description", "computeTargetName")},
}
DEPLOYMENT_KEYS: Mapping[str, Spec] = {"LOCAL": _LOCAL, "ACI": _ACI, "AKS": _AKS}

_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "str": ((str,), "a string"),
    "int": ((int,), "a whole number"),
    "number": ((int, float), "a number"),
    "bool": ((bool,), "true or false"),
    "object": ((dict,), "an object"),
    "list": ((list,), "a list"),
}


def read_config_file(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """The object in the JSON (or, for ``.yml``/``.yaml``, YAML) file ``path``; ``what`` names it in errors.

    Raises
    ------
    InvalidArgumentError
        The file is missing, unreadable, not JSON/YAML (with the line and column), or not an object.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise InvalidArgumentError(
            f"{what} {str(path)!r} not found (looked at {file.absolute()}): give the path of the JSON (or YAML) file."
        )
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidArgumentError(f"{what} {file}: cannot read it ({err}); give a UTF-8 JSON or YAML file.") from err
    if file.suffix.lower() in (".yml", ".yaml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise InvalidArgumentError(f"{what} {file} is not valid YAML: {problem}{where}; fix the file.") from err
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidArgumentError(
                f"{what} {file} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}; fix the file "
                "(a .yml or .yaml file is read as YAML)."
            ) from err
    if not isinstance(data, dict):
        raise InvalidArgumentError(
            f"{what} {file} must hold an object of settings ({{\"key\": value, ...}}), not {_type_name(data)}."
        )
    return data


def inference_config_from_file(path: str | os.PathLike[str]) -> InferenceConfig:
    """An :class:`InferenceConfig` from ``az ml``'s inference configuration file (``--ic``).

    Keys: ``entryScript`` (needed), ``sourceDirectory``, ``condaFile``, ``runtime``,
    ``environment`` (an environment's JSON, as ``Environment.to_dict()`` writes it, or the name
    of a registered environment),
    ``baseImage``, ``description``; the older ``extraDockerfileSteps``, ``enableGpu``,
    ``cudaVersion``, ``baseImageRegistry``, ``dependencies`` and ``schemaFile`` are accepted
    and noted as ignored when set.

    Raises
    ------
    InvalidArgumentError
        Bad file, unknown key (the message lists the known ones), wrong type, missing ``entryScript``.
    EntryScriptError
        The entry script or source folder does not exist (where it looked).
    """
    file = Path(path).expanduser().absolute()
    what = "inference config"
    values = _walk(read_config_file(path, what), INFERENCE_KEYS, file, "")
    if not values.get("entry_script"):
        raise InvalidArgumentError(
            f"{what} {file}: no entryScript; add \"entryScript\": \"score.py\" (the script with init() and run())."
        )
    folder = file.parent
    source = values.pop("source_directory", None)
    base = folder / source if source is not None else folder
    if source is not None:
        values["source_directory"] = str(base)
    else:
        values["entry_script"] = str(folder / values["entry_script"])
    if values.get("conda_file") is not None:
        conda = base / values["conda_file"]
        if not conda.is_file():
            raise InvalidArgumentError(
                f"{what} {file}: condaFile {values['conda_file']!r} not found (looked at {conda}, relative to "
                f"{'sourceDirectory' if source is not None else 'the file'}'s folder); fix the path."
            )
        values["conda_file"] = str(conda)
    try:
        env = values.get("environment")
        if isinstance(env, dict):
            values["environment"] = Environment.from_dict(env)
        elif isinstance(env, str):  # a registered environment, by name (az ml: -e NAME)
            values["environment"] = Environment.get(name=env)
        elif env is not None:
            raise InvalidArgumentError(
                f"environment must be an environment's JSON object or a registered environment's name, "
                f"not {_type_name(env)}."
            )
        return InferenceConfig(**values)
    except MLDeployError as err:
        raise type(err)(f"{what} {file}: {err}") from err


def deployment_config_from_file(
    path: str | os.PathLike[str], target: type[Webservice] | None = None
) -> DeploymentConfiguration:
    """A deployment configuration from ``az ml``'s deployment configuration file (``--dc``).

    ``computeType`` is ``LOCAL`` (a Docker container, as v1's local web service; ``target``
    runs it on another local target instead, e.g. :class:`~jupyter_mldeploy.ProcessWebservice`),
    ``ACI`` (a Docker container limited to ``containerResourceRequirements``' ``cpu`` and
    ``memoryInGB``) or ``AKS`` (the Kubernetes target with ``autoScaler``, ``numReplicas``,
    ``livenessProbeRequirements``, ``namespace``, ...). ``port`` picks the host port.

    Raises
    ------
    InvalidArgumentError
        Bad file, missing or unknown ``computeType``, an unknown key (the known ones listed), a wrong type.
    """
    file = Path(path).expanduser().absolute()
    what = "deployment config"
    data = read_config_file(path, what)
    kinds = ", ".join(DEPLOYMENT_KEYS)
    compute = data.get("computeType")
    if not isinstance(compute, str) or compute.upper() not in DEPLOYMENT_KEYS:
        got = "none" if compute is None else repr(compute)
        raise InvalidArgumentError(
            f"{what} {file}: computeType must be one of {kinds} (got {got}); add \"computeType\": \"LOCAL\" for a "
            "local Docker container."
        )
    compute = compute.upper()
    if target is not None and target is not LocalWebservice and compute != "LOCAL":
        raise InvalidArgumentError(
            f"{what} {file}: computeType {compute} names its own target; another target (--target) only "
            "replaces LOCAL's Docker container. Leave --target out or set computeType to LOCAL."
        )
    values = _walk(data, DEPLOYMENT_KEYS[compute], file, "", f" (computeType {compute})")
    try:
        if compute == "ACI":
            return AciWebservice.deploy_configuration(**values)
        if compute == "AKS":
            return AksWebservice.deploy_configuration(**values)
        if target is not None and target is not LocalWebservice:
            return target.deploy_configuration(**values)
        return LocalWebservice.deploy_configuration(**values)
    except MLDeployError as err:
        raise type(err)(f"{what} {file}: {err}") from err


# --- helpers ------------------------------------------------------------------------------------


def _walk(data: Mapping[str, Any], spec: Spec, file: Path, prefix: str, context: str = "") -> dict[str, Any]:
    """The keyword arguments ``data`` gives under ``spec``; unknown keys and wrong types raise, ignored keys are noted."""
    unknown = sorted(str(k) for k in data if k not in spec)
    if unknown:
        close = [m for k in unknown for m in difflib.get_close_matches(k, list(spec), n=1, cutoff=0.5)]
        hint = f" (did you mean {', '.join(repr(m) for m in close)}?)" if close else ""
        raise InvalidArgumentError(
            f"{file.name}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(prefix + k) for k in unknown)}"
            f"{context}{hint}; known keys{' of ' + prefix.rstrip('.') if prefix else ''}: "
            f"{', '.join(sorted(k for k in spec if not k.startswith('$')))}."
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        rule = spec[key]
        if value is None:
            continue
        if isinstance(rule, Mapping):
            if not isinstance(value, dict):
                raise InvalidArgumentError(f"{file.name}: {prefix}{key} must be an object, not {_type_name(value)}.")
            out.update(_walk(value, rule, file, f"{prefix}{key}.", context))
            continue
        keyword, kind, why = rule
        if kind != "any":
            types, described = _KINDS[kind]
            if not isinstance(value, types) or (isinstance(value, bool) and kind != "bool"):
                raise InvalidArgumentError(
                    f"{file.name}: {prefix}{key} must be {described}, not {_type_name(value)} ({json.dumps(value)})."
                )
        if keyword is not None:
            out[keyword] = value
        elif why and value is not False:
            note_once(f"{file.name}:{prefix}{key}", f"{file.name}: {prefix}{key} is accepted and ignored ({why}).")
    return out


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
