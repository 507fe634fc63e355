"""The Kubernetes target: ``KubernetesWebservice``, its configuration, its manifests and the replica planner.

One package, added over the shared deployment pipeline: :mod:`.config` (AKS v1's knobs),
:mod:`.manifests` (the objects, as data), :mod:`.cluster` (the official client, the only
importer of it), :mod:`.pods` (rollout progress and failing pods explained),
:mod:`.exposure` and :mod:`.portforward` (where the service answers from here), :mod:`.logs`
(all pods' logs as one), :mod:`.status` (replicas, autoscaler, records from Deployments),
:mod:`.target` (the ``Webservice`` hooks), :mod:`.render` (a deploy request's manifests
without a cluster) and :mod:`.planner` (how many replicas a load needs).
"""

from __future__ import annotations

from .config import KubernetesDeploymentConfiguration, check_kubernetes_name
from .manifests import ManifestInputs, render_manifests, to_yaml
from .planner import ReplicaPlan, plan_replicas
from .render import RenderedService, manifest_inputs, render_service
from .target import KubernetesWebservice, ScaleStatus

__all__ = [
    "KubernetesDeploymentConfiguration",
    "KubernetesWebservice",
    "ManifestInputs",
    "RenderedService",
    "ReplicaPlan",
    "ScaleStatus",
    "check_kubernetes_name",
    "manifest_inputs",
    "plan_replicas",
    "render_manifests",
    "render_service",
    "to_yaml",
]
