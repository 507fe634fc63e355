"""What a cluster says of one service: its replicas and autoscaler (:class:`ScaleStatus`), and its record rebuilt from its Deployment.

Both read plain objects only (the Deployment, its HorizontalPodAutoscaler), so the
deployment panel and ``mldeploy k8s status`` show the same line, and ``Webservice(name)``
finds a service another machine deployed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..records import ServiceRecord, now_iso
from .cluster import Cluster
from .config import KubernetesDeploymentConfiguration
from .manifests import (
    ANNOTATION_CONFIG,
    ANNOTATION_ENTRY_SCRIPT,
    ANNOTATION_ENV_HASH,
    ANNOTATION_MODELS,
)

__all__ = ["ScaleStatus", "record_from_deployment", "scale_status"]


@dataclass(frozen=True)
class ScaleStatus:
    """Replicas and the autoscaler's view, as the deployment panel shows them."""

    desired: int
    ready: int
    updated: int
    min_replicas: int | None = None
    max_replicas: int | None = None
    current_utilization: int | None = None
    target_utilization: int | None = None

    def line(self) -> str:
        text = f"replicas {self.ready}/{self.desired} ready"
        if self.target_utilization is not None:
            now = "?" if self.current_utilization is None else f"{self.current_utilization}%"
            text += (f", autoscaler {self.min_replicas}-{self.max_replicas} replicas, CPU {now} "
                     f"(target {self.target_utilization}%)")
        return text


def scale_status(cluster: Cluster, name: str, namespace: str) -> ScaleStatus:
    """Service ``name``'s replicas (desired / ready / updated) and, with autoscaling, its autoscaler's CPU utilisation."""
    deployment = cluster.get("apps/v1", "Deployment", name, namespace) or {}
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    scale = ScaleStatus(
        desired=int(spec.get("replicas") or 0), ready=int(status.get("readyReplicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
    )
    hpa = cluster.get("autoscaling/v2", "HorizontalPodAutoscaler", name, namespace)
    if hpa is None:
        return scale
    hpa_spec, hpa_status = hpa.get("spec") or {}, hpa.get("status") or {}
    target = next((m["resource"]["target"].get("averageUtilization") for m in hpa_spec.get("metrics") or []
                   if m.get("type") == "Resource"), None)
    current = next(((m.get("resource") or {}).get("current", {}).get("averageUtilization")
                    for m in hpa_status.get("currentMetrics") or [] if m.get("type") == "Resource"), None)
    return ScaleStatus(
        scale.desired, scale.ready, scale.updated, hpa_spec.get("minReplicas"), hpa_spec.get("maxReplicas"),
        current, target,
    )


def record_from_deployment(deployment: dict[str, Any], compute_type: str) -> ServiceRecord:
    """A service record rebuilt from a Deployment's labels and annotations (keys are not in it: regen_key makes new ones)."""
    meta = deployment["metadata"]
    notes = meta.get("annotations") or {}
    config = json.loads(notes.get(ANNOTATION_CONFIG) or "{}")
    config["namespace"] = meta.get("namespace")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value", "") for e in container.get("env") or []}
    models = []
    for item in filter(None, str(notes.get(ANNOTATION_MODELS) or "").split(",")):
        model_name, _, version = item.partition(":")
        models.append({"name": model_name, "version": int(version or 1), "id": item})
    spec_hash = notes.get(ANNOTATION_ENV_HASH) or ""
    return ServiceRecord(
        name=str(meta["name"]),
        compute_type=compute_type,
        models=models,
        entry_script=str(notes.get(ANNOTATION_ENTRY_SCRIPT) or env.get("AZUREML_ENTRY_SCRIPT") or "score.py"),
        model_dir=env.get("AZUREML_MODEL_DIR", ""),
        environment={"spec_hash": spec_hash} if spec_hash else None,
        config=KubernetesDeploymentConfiguration.from_dict(config).to_dict(),
        image=str(container["image"]),
        created_time=str(meta.get("creationTimestamp") or now_iso()),
        target={"namespace": meta.get("namespace"), "applied_image": str(container["image"])},
    )
