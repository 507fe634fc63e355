"""``AciWebservice`` and ``AksWebservice``: Azure ML v1's cloud targets, as local Docker and Kubernetes services.

``AciWebservice.deploy_configuration(cpu_cores=..., memory_gb=...)`` gives a Docker
deployment (:class:`~jupyter_mldeploy.LocalWebservice`'s target) whose container is
limited to those cores and that memory, and says so once. ``AksWebservice.deploy_configuration(...)``
gives a :class:`~jupyter_mldeploy.deploy.k8s.config.KubernetesDeploymentConfiguration`
with the same knob names (autoscale, replicas, probes, namespace, ...). ``AciWebservice(ws, name)``
and ``AksWebservice(ws, name)`` find a deployed service as ``Webservice(ws, name)`` does.
Parameters that only mean something in Azure are accepted and noted once as ignored.
"""

from __future__ import annotations

from typing import Any

from ..deploy.docker import DockerDeploymentConfiguration, LocalWebservice
from ..deploy.k8s.config import KubernetesDeploymentConfiguration
from ..deploy.k8s.target import KubernetesWebservice
from ..deploy.service import Webservice
from ._notes import ignored, note_once

__all__ = ["AciWebservice", "AksWebservice"]

_ACI_CLOUD_ONLY = (
    "tags", "properties", "description", "location", "ssl_enabled", "enable_app_insights", "ssl_cert_pem_file",
    "ssl_key_pem_file", "ssl_cname", "dns_name_label", "primary_key", "secondary_key",
    "cmk_vault_base_url", "cmk_key_name", "cmk_key_version", "vnet_name", "subnet_name",
)
_AKS_CLOUD_ONLY = (
    "enable_app_insights", "max_request_wait_time", "primary_key", "secondary_key", "tags",
    "properties", "description", "token_auth_enabled", "compute_target_name", "blobfuse_enabled",
)


class _Finder:
    """``Target(ws, name)`` gives the deployed service ``name``, as ``Webservice(ws, name)``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Webservice:  # type: ignore[misc]
        return Webservice(*args, **kwargs)


class AciWebservice(_Finder):
    """Azure Container Instances in v1; here a local Docker container with ACI's resource limits.

    Examples
    --------
    >>> config = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1)   # doctest: +SKIP
    >>> config.compute_type, config.cpu_cores, config.memory_gb                  # doctest: +SKIP
    ('docker', 1, 1)
    """

    @staticmethod
    def deploy_configuration(
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        description: str | None = None,
        location: str | None = None,
        auth_enabled: bool | None = None,
        ssl_enabled: bool | None = None,
        enable_app_insights: bool | None = None,
        ssl_cert_pem_file: str | None = None,
        ssl_key_pem_file: str | None = None,
        ssl_cname: str | None = None,
        dns_name_label: str | None = None,
        primary_key: str | None = None,
        secondary_key: str | None = None,
        collect_model_data: bool | None = None,
        cmk_vault_base_url: str | None = None,
        cmk_key_name: str | None = None,
        cmk_key_version: str | None = None,
        vnet_name: str | None = None,
        subnet_name: str | None = None,
        port: int | None = None,
    ) -> DockerDeploymentConfiguration:
        """A Docker deployment limited to ``cpu_cores`` and ``memory_gb`` (each unlimited when not given).

        ``auth_enabled`` keeps its v1 meaning (off by default); ``port`` (not in v1) picks the
        host port on 127.0.0.1 (default: a free one). ``collect_model_data=True`` keeps the
        service's requests and answers in its ``capture.jsonl`` (``service.get_captured(n)``).
        """
        given = dict(locals())
        ignored("AciWebservice.deploy_configuration", given, _ACI_CLOUD_ONLY)
        limits = ", ".join(part for part in (
            f"{cpu_cores} CPU cores" if cpu_cores is not None else "",
            f"{memory_gb} GB of memory" if memory_gb is not None else "") if part)
        note_once("aci", "AciWebservice deploys to a local Docker container" + (
            f" limited to {limits} (cpu_cores and memory_gb are the container's limits)." if limits
            else " (give cpu_cores= and memory_gb= to limit it, as ACI does)."))
        return LocalWebservice.deploy_configuration(
            port=port, auth_enabled=bool(auth_enabled), cpu_cores=cpu_cores, memory_gb=memory_gb, debug=False,
            collect_model_data=bool(collect_model_data),
        )


class AksWebservice(_Finder):
    """Azure Kubernetes Service in v1; here the Kubernetes target (:class:`KubernetesWebservice`).

    Examples
    --------
    >>> config = AksWebservice.deploy_configuration(autoscale_max_replicas=4)   # doctest: +SKIP
    >>> config.compute_type, config.autoscale_max_replicas                       # doctest: +SKIP
    ('kubernetes', 4)
    """

    @staticmethod
    def deploy_configuration(
        autoscale_enabled: bool | None = None,
        autoscale_min_replicas: int | None = None,
        autoscale_max_replicas: int | None = None,
        autoscale_refresh_seconds: int | None = None,
        autoscale_target_utilization: int | None = None,
        collect_model_data: bool | None = None,
        auth_enabled: bool | None = None,
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        enable_app_insights: bool | None = None,
        scoring_timeout_ms: int | None = None,
        replica_max_concurrent_requests: int | None = None,
        max_request_wait_time: int | None = None,
        num_replicas: int | None = None,
        primary_key: str | None = None,
        secondary_key: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        description: str | None = None,
        gpu_cores: int | None = None,
        period_seconds: int | None = None,
        initial_delay_seconds: int | None = None,
        timeout_seconds: int | None = None,
        success_threshold: int | None = None,
        failure_threshold: int | None = None,
        namespace: str | None = None,
        token_auth_enabled: bool | None = None,
        compute_target_name: str | None = None,
        cpu_cores_limit: float | None = None,
        memory_gb_limit: float | None = None,
        blobfuse_enabled: bool | None = None,
        **kubernetes_options: Any,
    ) -> KubernetesDeploymentConfiguration:
        """A Kubernetes deployment with v1's AKS knobs and defaults.

        Knobs left ``None`` keep v1's defaults; ``**kubernetes_options`` passes settings
        that exist only here (``image_repository``, ``context``, ``service_type``, ``port``,
        ``tracing``, ``otel_endpoint``, ...) to :meth:`KubernetesWebservice.deploy_configuration`.
        ``collect_model_data=True`` captures requests and answers in each pod (read them with
        ``service.get_captured(n)``), where v1 wrote them to blob storage.
        """
        given = dict(locals())
        ignored("AksWebservice.deploy_configuration", given, _AKS_CLOUD_ONLY)
        knobs = {
            name: given[name]
            for name in (
                "autoscale_enabled", "autoscale_min_replicas", "autoscale_max_replicas", "autoscale_refresh_seconds",
                "autoscale_target_utilization", "auth_enabled", "cpu_cores", "memory_gb", "scoring_timeout_ms",
                "replica_max_concurrent_requests", "num_replicas", "gpu_cores", "period_seconds",
                "initial_delay_seconds", "timeout_seconds", "success_threshold", "failure_threshold", "namespace",
                "cpu_cores_limit", "memory_gb_limit", "collect_model_data",
            )
            if given[name] is not None
        }
        return KubernetesWebservice.deploy_configuration(**knobs, **kubernetes_options)
