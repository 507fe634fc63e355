"""The Kubernetes objects of one service, as plain data: Deployment, Service, HPA, PDB, Secret (and KServe).

:func:`render_manifests` turns a :class:`ManifestInputs` (the service's name, its image,
its :class:`~.config.KubernetesDeploymentConfiguration` and what the image holds) into
the manifests that ``KubernetesWebservice`` applies and ``service.to_yaml()`` /
``mldeploy k8s render`` write for review or GitOps. Pure functions: nothing here talks
to a cluster, so the same objects are validated offline in the tests.

What every Deployment gets, and why:

- readiness on ``/ready`` (traffic only once ``init()`` succeeded), liveness on ``/``, and a
  startup probe on ``/ready`` that gives a slow ``init()`` ``startup_timeout_seconds`` before
  liveness may restart the pod;
- a rolling update that never takes a ready pod away first (``maxUnavailable: 0``), and a
  server that keeps serving for ``DRAIN_SECONDS`` after it is told to stop, closing each
  connection after its answer (``MLDEPLOY_DRAIN_S``): clients reconnect to a pod that stays,
  while the pod leaves the Service's endpoints, so updates lose no request;
- a non-root, read-only-root, no-capability security context, ``/tmp`` as a small
  in-memory volume, no service-account token;
- the auth keys from a Secret mounted as the file the server reads at start
  (``MLDEPLOY_AUTH_KEYS_FILE``), never as variables;
- a ``data`` volume (an ``emptyDir`` on the node's disk) where the server writes
  ``capture.jsonl`` (``collect_model_data=True``) and ``collected.jsonl``, which
  ``service.get_captured(n)`` reads from each ready pod; the batching and tracing
  variables come from the same :func:`~..server_options.server_env` as every target's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...images.dockerfile import (
    CONTAINER_DATA,
    CONTAINER_PORT,
    MODELS_ROOT,
    SOURCE_ROOT,
    USER_UID,
    VENV,
)
from ..server_options import server_env
from .config import KubernetesDeploymentConfiguration

__all__ = [
    "FIELD_MANAGER",
    "LABEL_MANAGED_BY",
    "ManifestInputs",
    "render_manifests",
    "selector_labels",
    "to_yaml",
]

FIELD_MANAGER = "jupyter-mldeploy"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_SERVICE = "mldeploy.service"
#: Annotations that let ``Webservice(name)`` rebuild a service's record from its Deployment.
ANNOTATION_MODELS = "mldeploy/models"
ANNOTATION_ENTRY_SCRIPT = "mldeploy/entry-script"
ANNOTATION_CONFIG = "mldeploy/config"
ANNOTATION_ENV_HASH = "mldeploy/env-hash"
ANNOTATION_RESTARTED = "mldeploy/restarted-at"
#: Where the Secret with the keys is mounted (the server reads the file at start).
KEYS_DIR = "/var/run/secrets/mldeploy"
KEYS_ITEM = "auth-keys"
#: Seconds a stopping pod keeps serving, closing each connection after its answer (endpoints catch up meanwhile).
DRAIN_SECONDS = 5
#: The Service's port inside the cluster (and on a load balancer).
SERVICE_PORT = 80
#: The data volume's bound: capture.jsonl and collected.jsonl with their rotated files (4 x 50 MB each).
DATA_SIZE_LIMIT = "512Mi"


@dataclass(frozen=True)
class ManifestInputs:
    """What the manifests of one service are made from.

    ``entry_script`` is relative to the image's source folder; ``model_dir`` is
    ``AZUREML_MODEL_DIR`` inside the image. ``restarted_at`` (set by ``reload()``) changes
    the pod template so that every replica restarts, one at a time.
    """

    name: str
    namespace: str
    image: str
    config: KubernetesDeploymentConfiguration
    entry_script: str = "score.py"
    model_dir: str = MODELS_ROOT
    models: tuple[str, ...] = ()
    env_hash: str = ""
    auth_keys: tuple[str, ...] = ()
    restarted_at: str | None = None


def selector_labels(name: str) -> dict[str, str]:
    """The labels that select one service's pods (and find our objects)."""
    return {LABEL_INSTANCE: name, LABEL_MANAGED_BY: FIELD_MANAGER}


def _labels(name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        **selector_labels(name),
        "app.kubernetes.io/component": "scoring",
        LABEL_SERVICE: name,
    }


def _meta(inputs: ManifestInputs, name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": inputs.namespace, "labels": _labels(inputs.name)}
    if annotations:
        meta["annotations"] = annotations
    return meta


def keys_secret_name(name: str) -> str:
    """The Secret holding service ``name``'s auth keys."""
    return f"{name}-keys"


def render_manifests(inputs: ManifestInputs, *, include_keys: bool = True) -> list[dict[str, Any]]:
    """The service's objects in apply order: Secret (with auth on), Deployment, Service, HPA (autoscaling), PDB.

    With ``config.kserve`` a KServe ``InferenceService`` (our image as a custom predictor)
    replaces the Deployment, Service and HPA. Without ``include_keys`` the Secret is left
    out (for review or GitOps: create it yourself, see ``docs/kubernetes.md``).
    """
    config = inputs.config
    if not config.auth_enabled:
        inputs = replace(inputs, auth_keys=())  # no Secret, no keys file: the server asks for no key
    objects: list[dict[str, Any]] = []
    if inputs.auth_keys and include_keys:
        objects.append(_secret(inputs))
    if config.kserve:
        objects.append(_inference_service(inputs))
    else:
        objects.append(_deployment(inputs))
        objects.append(_service(inputs))
        if config.autoscale_enabled:
            objects.append(_autoscaler(inputs))
    objects.append(_disruption_budget(inputs))
    return objects


def to_yaml(objects: Sequence[dict[str, Any]], header: str = "") -> str:
    """The objects as one multi-document YAML text (``kubectl apply -f`` takes it)."""
    import yaml

    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    docs = [yaml.safe_dump(obj, sort_keys=False, default_flow_style=False) for obj in objects]
    return ("\n".join(lines) + "\n" if lines else "") + "---\n" + "---\n".join(docs)


# --- the objects ------------------------------------------------------------------------------


def _secret(inputs: ManifestInputs) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(inputs, keys_secret_name(inputs.name)),
        "type": "Opaque",
        "stringData": {KEYS_ITEM: "".join(f"{key}\n" for key in inputs.auth_keys)},
    }


def _container(inputs: ManifestInputs, name: str = "scoring") -> dict[str, Any]:
    config = inputs.config
    probe = {
        "periodSeconds": config.period_seconds,
        "timeoutSeconds": config.timeout_seconds,
        "failureThreshold": config.failure_threshold,
    }
    container: dict[str, Any] = {
        "name": name,
        "image": inputs.image,
        "imagePullPolicy": "IfNotPresent",
        "command": _command(config),
        "ports": [{"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "env": [{"name": k, "value": v} for k, v in _server_env(inputs).items()],
        "resources": _resources(config),
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": "http"}, **probe, "successThreshold": config.success_threshold,
        },
        # liveness must have successThreshold 1 (Kubernetes' rule): v1's success_threshold goes to readiness
        "livenessProbe": {
            "httpGet": {"path": "/", "port": "http"}, "initialDelaySeconds": config.initial_delay_seconds, **probe,
        },
        "startupProbe": {
            "httpGet": {"path": "/ready", "port": "http"},
            "periodSeconds": 2,
            "timeoutSeconds": config.timeout_seconds,
            "failureThreshold": max(1, math.ceil(config.startup_timeout_seconds / 2)),
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": USER_UID,
            "runAsGroup": USER_UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": CONTAINER_DATA}],
    }
    if inputs.auth_keys:
        container["volumeMounts"].append({"name": "auth-keys", "mountPath": KEYS_DIR, "readOnly": True})
    return container


def _command(config: KubernetesDeploymentConfiguration) -> list[str]:
    command = [f"{VENV}/bin/python", "-m", "jupyter_mldeploy.scoring", "--host", "0.0.0.0",
               "--port", str(CONTAINER_PORT)]
    if config.debug:
        command.append("--debug")
    return command


def _server_env(inputs: ManifestInputs) -> dict[str, str]:
    """The server's variables: the user's, the shared options (capture into the data volume, tracing), then ours."""
    config = inputs.config
    env = server_env(
        config.to_dict(),
        CONTAINER_DATA,  # the pod's "data" volume: capture.jsonl, collected.jsonl
        entry_script=inputs.entry_script,
        source_dir=SOURCE_ROOT,
        model_dir=inputs.model_dir,
        host="0.0.0.0",
        port=CONTAINER_PORT,
        workers=config.workers,
        timeout_ms=config.timeout_ms,
        auth_keys=(),
        auth_keys_file=f"{KEYS_DIR}/{KEYS_ITEM}" if inputs.auth_keys else None,
        service_name=inputs.name,
        drain_s=float(DRAIN_SECONDS),
        stay_up=True,  # /ready shows the init() traceback; the target reads it
    )
    env.pop("MLDEPLOY_AUTH_KEYS", None)
    return env


def _quantity_cpu(cores: float) -> str:
    return f"{max(1, round(cores * 1000))}m"


def _quantity_memory(gb: float) -> str:
    return f"{max(1, round(gb * 1024))}Mi"


def _resources(config: KubernetesDeploymentConfiguration) -> dict[str, Any]:
    """Requests from ``cpu_cores``/``memory_gb``; memory is limited at the request unless ``memory_gb_limit`` says more."""
    limits: dict[str, str] = {"memory": _quantity_memory(config.memory_gb_limit or config.memory_gb)}
    if config.cpu_cores_limit is not None:
        limits["cpu"] = _quantity_cpu(config.cpu_cores_limit)
    if config.gpu_cores:
        limits["nvidia.com/gpu"] = str(config.gpu_cores)
    return {
        "requests": {"cpu": _quantity_cpu(config.cpu_cores), "memory": _quantity_memory(config.memory_gb)},
        "limits": limits,
    }


def _pod_spec(inputs: ManifestInputs, container_name: str = "scoring") -> dict[str, Any]:
    config = inputs.config
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": DRAIN_SECONDS + math.ceil(config.timeout_ms / 1000) + 5,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": USER_UID,
            "runAsGroup": USER_UID,
            "fsGroup": USER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(inputs, container_name)],
        "volumes": [
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            # captured requests and collected data (rotated files included), on the node's disk, per pod
            {"name": "data", "emptyDir": {"sizeLimit": DATA_SIZE_LIMIT}},
        ],
    }
    if inputs.auth_keys:
        spec["volumes"].append({"name": "auth-keys", "secret": {
            "secretName": keys_secret_name(inputs.name), "defaultMode": 0o440,
            "items": [{"key": KEYS_ITEM, "path": KEYS_ITEM}],
        }})
    if config.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in config.image_pull_secrets]
    if config.node_selector:
        spec["nodeSelector"] = dict(config.node_selector)
    return spec


def _annotations(inputs: ManifestInputs) -> dict[str, str]:
    config = inputs.config.to_dict()
    config.pop("environment_variables", None)  # may hold values the user keeps out of sight
    return {
        ANNOTATION_MODELS: ",".join(inputs.models),
        ANNOTATION_ENTRY_SCRIPT: inputs.entry_script,
        ANNOTATION_ENV_HASH: inputs.env_hash,
        ANNOTATION_CONFIG: json.dumps(config, sort_keys=True, separators=(",", ":")),
    }


def _deployment(inputs: ManifestInputs) -> dict[str, Any]:
    config = inputs.config
    template_meta: dict[str, Any] = {"labels": _labels(inputs.name)}
    if inputs.restarted_at:
        template_meta["annotations"] = {ANNOTATION_RESTARTED: inputs.restarted_at}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(inputs.name)},
        "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": max(600, config.startup_timeout_seconds + 60),
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {"metadata": template_meta, "spec": _pod_spec(inputs)},
    }
    if not config.autoscale_enabled:
        spec = {"replicas": config.replica_floor, **spec}  # with an autoscaler, it owns the count
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(inputs, inputs.name, _annotations(inputs)),
        "spec": spec,
    }


def _service(inputs: ManifestInputs) -> dict[str, Any]:
    config = inputs.config
    port: dict[str, Any] = {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}
    if config.node_port is not None:
        port["nodePort"] = config.node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(inputs, inputs.name),
        "spec": {"type": config.service_type, "selector": selector_labels(inputs.name), "ports": [port]},
    }


def _autoscaler(inputs: ManifestInputs) -> dict[str, Any]:
    config = inputs.config
    policy = [{"type": "Percent", "value": 100, "periodSeconds": config.autoscale_refresh_seconds}]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(inputs, inputs.name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": inputs.name},
            "minReplicas": config.autoscale_min_replicas,
            "maxReplicas": config.autoscale_max_replicas,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": config.autoscale_target_utilization},
            }}],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0, "policies": policy},
                "scaleDown": {"stabilizationWindowSeconds": config.autoscale_scale_down_seconds, "policies": policy},
            },
        },
    }


def _disruption_budget(inputs: ManifestInputs) -> dict[str, Any]:
    """At most one replica away at a time for voluntary disruptions (drains): never blocks a drain forever."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(inputs, inputs.name),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(inputs.name)}},
    }


def _inference_service(inputs: ManifestInputs) -> dict[str, Any]:
    """A KServe ``InferenceService`` running our image as a custom predictor (raw deployment mode)."""
    config = inputs.config
    pod = _pod_spec(inputs, container_name="kserve-container")
    predictor: dict[str, Any] = {
        "minReplicas": config.replica_floor,
        "maxReplicas": config.autoscale_max_replicas if config.autoscale_enabled else config.replica_floor,
        **{k: v for k, v in pod.items() if k not in ("enableServiceLinks",)},
    }
    if config.autoscale_enabled:
        predictor["scaleMetric"] = "cpu"
        predictor["scaleTarget"] = config.autoscale_target_utilization
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": _meta(inputs, inputs.name, {
            **_annotations(inputs), "serving.kserve.io/deploymentMode": "RawDeployment",
        }),
        "spec": {"predictor": predictor},
    }
