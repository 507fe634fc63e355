"""The Kubernetes target's settings: Azure ML v1's AKS knobs with their v1 defaults, checked before anything is applied.

:class:`KubernetesDeploymentConfiguration` is what
``KubernetesWebservice.deploy_configuration(...)`` returns. Every value that Kubernetes
or the scoring server would refuse raises one :class:`~jupyter_mldeploy.errors.InvalidArgumentError`
naming the knob, its value and a value that works, when the configuration is made: a bad
setting never reaches a cluster. :func:`check_kubernetes_name` does the same for the
service name (Kubernetes names are stricter than ours).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from ...errors import InvalidArgumentError
from ..config import DeploymentConfiguration

__all__ = [
    "SERVICE_TYPES",
    "KubernetesDeploymentConfiguration",
    "check_kubernetes_name",
    "default_image_repository",
]

#: How the service is reached: inside the cluster with a port-forward this object manages
#: (nothing exposed; works on any cluster), on every node's port, or by a cloud load balancer.
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
#: The variable naming the registry to push service images to when the configuration names none.
IMAGE_REPOSITORY_VARIABLE = "MLDEPLOY_IMAGE_REPOSITORY"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
#: The longest service name: the Service object's name is a DNS-1035 label (63), and
#: the names made from it (``NAME-keys``) must fit too.
MAX_NAME = 58


def check_kubernetes_name(name: str, what: str = "service name") -> str:
    """Return ``name`` if Kubernetes accepts it as a Service (and Deployment) name, else raise saying why.

    Raises
    ------
    InvalidArgumentError
        Not lowercase letters, digits and ``-``, starting with a letter and ending with a
        letter or digit, at most 58 characters (the message suggests a name that works).

    Examples
    --------
    >>> check_kubernetes_name("diabetes-ridge")
    'diabetes-ridge'
    """
    if isinstance(name, str) and len(name) <= MAX_NAME and _DNS_1035.fullmatch(name):
        return name
    suggestion = re.sub(r"[^a-z0-9-]+", "-", str(name).lower()).strip("-")
    suggestion = re.sub(r"^[^a-z]+", "", suggestion)[:MAX_NAME].rstrip("-") or "my-service"
    raise InvalidArgumentError(
        f"{what} {name!r} is not a name Kubernetes accepts: use lowercase letters, digits and '-', "
        f"starting with a letter, ending with a letter or digit, at most {MAX_NAME} characters "
        f"(for example {suggestion!r})."
    )


def default_image_repository() -> str | None:
    """Where service images are pushed when the configuration says nothing (``$MLDEPLOY_IMAGE_REPOSITORY``)."""
    return os.environ.get(IMAGE_REPOSITORY_VARIABLE) or None


@dataclass
class KubernetesDeploymentConfiguration(DeploymentConfiguration):
    """Settings of a Kubernetes deployment (AKS v1's knobs, v1 defaults; see ``docs/kubernetes.md``).

    ``workers`` (the scoring processes per replica) follows ``replica_max_concurrent_requests``:
    each worker scores one request at a time. ``timeout_ms`` is ``scoring_timeout_ms``.
    ``port`` is the local port of the port-forward (``service_type="ClusterIP"``; ``None``:
    a free one). ``debug`` is off: a cluster's 500 answers carry no tracebacks unless asked.
    """

    compute_type: ClassVar[str] = "kubernetes"

    auth_enabled: bool = True
    debug: bool = False
    autoscale_enabled: bool | None = None
    autoscale_min_replicas: int = 1
    autoscale_max_replicas: int = 10
    autoscale_refresh_seconds: int = 1
    autoscale_target_utilization: int = 70
    autoscale_scale_down_seconds: int = 300
    num_replicas: int | None = None
    cpu_cores: float = 0.1
    memory_gb: float = 0.5
    cpu_cores_limit: float | None = None
    memory_gb_limit: float | None = None
    gpu_cores: int | None = None
    replica_max_concurrent_requests: int = 1
    period_seconds: int = 10
    initial_delay_seconds: int = 310
    timeout_seconds: int = 2
    failure_threshold: int = 3
    success_threshold: int = 1
    startup_timeout_seconds: int = 600
    namespace: str | None = None
    image_pull_secrets: list[str] = field(default_factory=list)
    node_selector: dict[str, str] = field(default_factory=dict)
    service_type: str = "ClusterIP"
    node_port: int | None = None
    node_address: str | None = None
    image: str | None = None
    image_repository: str | None = None
    context: str | None = None
    kserve: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.autoscale_enabled is None:
            self.autoscale_enabled = self.num_replicas is None
        self._check_counts()
        self._check_resources()
        self._check_probes()
        self._check_placement()

    # --- the checks ---------------------------------------------------------------------------

    def _check_counts(self) -> None:
        if self.autoscale_enabled and self.num_replicas is not None:
            raise InvalidArgumentError(
                f"num_replicas={self.num_replicas} with autoscale_enabled=True: choose one, either a fixed "
                "num_replicas (autoscale_enabled=False) or autoscale_min_replicas/autoscale_max_replicas."
            )
        if self.num_replicas is not None:
            _whole("num_replicas", self.num_replicas, 1, 1000)
        _whole("autoscale_min_replicas", self.autoscale_min_replicas, 1, 1000)
        _whole("autoscale_max_replicas", self.autoscale_max_replicas, 1, 1000)
        if self.autoscale_min_replicas > self.autoscale_max_replicas:
            raise InvalidArgumentError(
                f"autoscale_min_replicas={self.autoscale_min_replicas} is more than autoscale_max_replicas="
                f"{self.autoscale_max_replicas}: the autoscaler needs min <= max (for example min 1, max 10)."
            )
        if isinstance(self.autoscale_target_utilization, bool) or not isinstance(
            self.autoscale_target_utilization, int
        ) or not 1 <= self.autoscale_target_utilization <= 100:
            raise InvalidArgumentError(
                "autoscale_target_utilization is a percentage of the CPU a replica asks for, a whole number "
                f"from 1 to 100 (v1's default is 70), got {self.autoscale_target_utilization!r}."
            )
        _whole("autoscale_refresh_seconds", self.autoscale_refresh_seconds, 1, 1800)
        _whole("autoscale_scale_down_seconds", self.autoscale_scale_down_seconds, 0, 3600)
        _whole("replica_max_concurrent_requests", self.replica_max_concurrent_requests, 1, 64)
        self.workers = self.replica_max_concurrent_requests

    def _check_resources(self) -> None:
        _positive("cpu_cores", self.cpu_cores, "0.1 is one tenth of a core")
        _positive("memory_gb", self.memory_gb, "0.5 is 512 MiB")
        if self.cpu_cores_limit is not None:
            _positive("cpu_cores_limit", self.cpu_cores_limit, "None for no limit")
            if self.cpu_cores_limit < self.cpu_cores:
                raise InvalidArgumentError(
                    f"cpu_cores_limit={self.cpu_cores_limit} is below cpu_cores={self.cpu_cores}: "
                    "a limit must be at least the request (or None for no limit)."
                )
        if self.memory_gb_limit is not None:
            _positive("memory_gb_limit", self.memory_gb_limit, "None to use memory_gb")
            if self.memory_gb_limit < self.memory_gb:
                raise InvalidArgumentError(
                    f"memory_gb_limit={self.memory_gb_limit} is below memory_gb={self.memory_gb}: "
                    "a limit must be at least the request (or None to limit at memory_gb)."
                )
        if self.gpu_cores is not None:
            _whole("gpu_cores", self.gpu_cores, 0, 64)

    def _check_probes(self) -> None:
        _whole("period_seconds", self.period_seconds, 1, 3600)
        _whole("initial_delay_seconds", self.initial_delay_seconds, 0, 3600)
        _whole("timeout_seconds", self.timeout_seconds, 1, 3600)
        _whole("failure_threshold", self.failure_threshold, 1, 100)
        _whole("success_threshold", self.success_threshold, 1, 100)
        _whole("startup_timeout_seconds", self.startup_timeout_seconds, 1, 86_400)

    def _check_placement(self) -> None:
        if self.namespace is not None:
            check_dns_label(self.namespace, "namespace")
        if isinstance(self.image_pull_secrets, str):
            self.image_pull_secrets = [self.image_pull_secrets]
        self.image_pull_secrets = [str(s) for s in (self.image_pull_secrets or [])]
        for secret in self.image_pull_secrets:
            if len(secret) > 253 or not _DNS_SUBDOMAIN.fullmatch(secret):
                raise InvalidArgumentError(
                    f"image_pull_secrets: {secret!r} is not a Secret name (lowercase letters, digits, '-' and '.'); "
                    "name the docker-registry Secrets in the namespace, e.g. ['acr-pull']."
                )
        self.node_selector = _labels("node_selector", self.node_selector)
        if self.service_type not in SERVICE_TYPES:
            raise InvalidArgumentError(
                f"service_type must be one of {', '.join(SERVICE_TYPES)}, got {self.service_type!r} "
                "(ClusterIP: reached through a port-forward this object manages; NodePort: on each node's port; "
                "LoadBalancer: a cloud load balancer)."
            )
        if self.node_port is not None:
            if self.service_type != "NodePort":
                raise InvalidArgumentError(
                    f"node_port={self.node_port} needs service_type='NodePort' (it is {self.service_type!r})."
                )
            _whole("node_port", self.node_port, 30000, 32767)
        if self.image is not None and (not isinstance(self.image, str) or not self.image.strip()
                                       or any(c.isspace() for c in self.image)):
            raise InvalidArgumentError(f"image must be an image reference such as 'registry/name:tag', got {self.image!r}.")
        if self.image_repository is not None and (
            not isinstance(self.image_repository, str) or ":" in self.image_repository.rsplit("/", 1)[-1]
            or not self.image_repository.strip() or self.image_repository != self.image_repository.strip()
        ):
            raise InvalidArgumentError(
                f"image_repository is where images are pushed, without a tag (e.g. '127.0.0.1:5000/mldeploy' or "
                f"'myregistry.azurecr.io/models'), got {self.image_repository!r}."
            )

    # --- derived values -------------------------------------------------------------------------

    @property
    def replica_floor(self) -> int:
        """The fewest replicas that run: ``num_replicas``, or the autoscaler's minimum."""
        return self.num_replicas if self.num_replicas is not None else self.autoscale_min_replicas

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (with ``compute_type``)."""
        data = super().to_dict()
        data["image_pull_secrets"] = list(self.image_pull_secrets)
        data["node_selector"] = dict(self.node_selector)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KubernetesDeploymentConfiguration:
        """The configuration saved by :meth:`to_dict` (unknown keys are dropped)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def check_dns_label(value: str, what: str) -> str:
    """``value`` if it is a DNS-1123 label (namespaces), else the one clear error."""
    if isinstance(value, str) and len(value) <= 63 and _DNS_LABEL.fullmatch(value):
        return value
    raise InvalidArgumentError(
        f"{what} {value!r} is not a name Kubernetes accepts: lowercase letters, digits and '-', "
        "starting and ending with a letter or digit, at most 63 characters (e.g. 'models')."
    )


def _whole(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgumentError(f"{name} must be a whole number from {low} to {high}, got {value!r}.")


def _positive(name: str, value: Any, example: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise InvalidArgumentError(f"{name} must be a number above zero ({example}), got {value!r}.")


def _labels(what: str, labels: Mapping[str, str] | Sequence[Any] | None) -> dict[str, str]:
    """Check label keys (``[prefix/]name``) and values as Kubernetes does."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise InvalidArgumentError(f"{what} is a mapping of label keys to values, got {labels!r}.")
    checked: dict[str, str] = {}
    for key, value in labels.items():
        key, value = str(key), str(value)
        prefix, _, name = key.rpartition("/")
        ok = (
            (not prefix or (len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)))
            and 0 < len(name) <= 63 and _LABEL_VALUE.fullmatch(name)
            and len(value) <= 63 and _LABEL_VALUE.fullmatch(value)
        )
        if not ok:
            raise InvalidArgumentError(
                f"{what}: {key}={value} is not a Kubernetes label (keys [prefix/]name, names and values up to "
                "63 letters, digits, '-', '_', '.'), e.g. {'kubernetes.io/os': 'linux'}."
            )
        checked[key] = value
    return checked
