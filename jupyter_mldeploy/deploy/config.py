"""Deployment configurations: the settings every target shares (port, auth, workers, timeout, debug, variables).

A target subclasses :class:`DeploymentConfiguration` only to name its ``compute_type``;
``Target.deploy_configuration(...)`` (Azure's spelling) is defined once, on
``Webservice``. A configuration says *how* a service runs, never *where*: the target
is the class it belongs to (``deploy.targets.choose_target`` picks one when none is
given).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ..errors import InvalidArgumentError
from ..scoring.batching import BATCH_SETTING, BatchOptions, parse_batch

__all__ = ["DeploymentConfiguration", "server_variables", "signal_settings"]


@dataclass
class DeploymentConfiguration:
    """Settings shared by every target.

    Parameters
    ----------
    port
        Host port on 127.0.0.1; ``None`` picks a free one.
    auth_enabled
        Require ``Authorization: Bearer KEY`` on ``/score`` (keys from ``get_keys()``).
    workers
        Scoring worker processes.
    timeout_ms
        Longest a ``run()`` may take before the answer is 504.
    debug
        Put ``run()`` tracebacks in 500 answers (on by default for local deployments).
    environment_variables
        Extra variables for the scoring server.
    batch
        Adaptive batching for an entry script whose ``run`` is already vectorised (a list of
        request bodies in, a list of answers out), without ``@batched`` in the script:
        ``"max_batch_size=32,max_latency_ms=5"`` (``,max_queue=N`` too), or a
        :class:`~jupyter_mldeploy.scoring.batching.BatchOptions`. The server gets it as
        ``MLDEPLOY_BATCH``. ``None``: as the script says.
    collect_model_data
        Keep requests and answers of ``/score`` and OIP ``infer`` in the service's
        ``capture.jsonl`` (read them with ``service.get_captured(n)``); Azure's name.
    capture_sample_rate, capture_max_kb
        The share of requests kept (0-1) and the largest body kept whole (bigger ones
        are truncated with a marker).
    tracing, otel_endpoint
        Trace requests with OpenTelemetry, exported over OTLP/HTTP to ``otel_endpoint``
        (default ``http://localhost:4318``, as seen from the server); the service's
        environment needs ``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http``.
    """

    compute_type: ClassVar[str] = ""

    port: int | None = None
    auth_enabled: bool = False
    workers: int = 1
    timeout_ms: int = 60_000
    debug: bool = True
    environment_variables: dict[str, str] = field(default_factory=dict)
    batch: str | None = None
    collect_model_data: bool = False
    capture_sample_rate: float = 1.0
    capture_max_kb: float = 64.0
    tracing: bool = False
    otel_endpoint: str | None = None

    def __post_init__(self) -> None:
        if self.port is not None and not (isinstance(self.port, int) and 0 < self.port < 65536):
            raise InvalidArgumentError(f"port must be a number from 1 to 65535 or None (pick a free one), got {self.port!r}.")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise InvalidArgumentError(f"workers must be a whole number >= 1, got {self.workers!r}.")
        if not isinstance(self.timeout_ms, int) or self.timeout_ms < 1:
            raise InvalidArgumentError(f"timeout_ms must be a whole number of milliseconds >= 1, got {self.timeout_ms!r}.")
        self.environment_variables = {str(k): str(v) for k, v in dict(self.environment_variables or {}).items()}
        if isinstance(self.batch, BatchOptions):
            self.batch = self.batch.spec
        elif self.batch is not None:
            if not isinstance(self.batch, str):
                raise InvalidArgumentError(
                    f"batch must be text like 'max_batch_size=32,max_latency_ms=5' or None, got {self.batch!r}.")
            self.batch = parse_batch(self.batch).spec
        if not isinstance(self.capture_sample_rate, (int, float)) or not 0 <= self.capture_sample_rate <= 1:
            raise InvalidArgumentError(
                f"capture_sample_rate must be from 0 to 1 (the share of requests kept), got {self.capture_sample_rate!r}."
            )
        if not isinstance(self.capture_max_kb, (int, float)) or self.capture_max_kb <= 0:
            raise InvalidArgumentError(f"capture_max_kb must be a positive number of KiB, got {self.capture_max_kb!r}.")
        if self.otel_endpoint is not None and not str(self.otel_endpoint).startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f"otel_endpoint must be an http:// or https:// URL (an OTLP/HTTP receiver), got {self.otel_endpoint!r}."
            )

    def signal_settings(self, data_dir: str) -> dict[str, Any]:
        """The server settings of capture and tracing for this configuration (files under ``data_dir``)."""
        return signal_settings(self.to_dict(), data_dir)

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as JSON-ready data (with ``compute_type``)."""
        return {"compute_type": self.compute_type, **asdict(self)}


def server_variables(config: Mapping[str, Any]) -> dict[str, str]:
    """The variables a target starts its server with, from a configuration's :meth:`~DeploymentConfiguration.to_dict`.

    The user's ``environment_variables``, and ``MLDEPLOY_BATCH`` when ``batch`` is set.

    Examples
    --------
    >>> server_variables(DeploymentConfiguration(batch="max_batch_size=8").to_dict())
    {'MLDEPLOY_BATCH': 'max_batch_size=8,max_latency_ms=5'}
    """
    env = {str(k): str(v) for k, v in (config.get("environment_variables") or {}).items()}
    if config.get("batch"):
        env[BATCH_SETTING] = str(config["batch"])
    return env
def signal_settings(config: dict[str, Any], data_dir: str) -> dict[str, Any]:
    """``ServeSettings`` fields for capture and tracing from a saved configuration (``to_dict()``).

    Only what the configuration turns on is set, so a deployment's ``environment_variables``
    (``MLDEPLOY_CAPTURE``, ``OTEL_EXPORTER_OTLP_ENDPOINT``, ...) can still turn it on.

    Examples
    --------
    >>> signal_settings({"collect_model_data": True, "capture_sample_rate": 0.5}, "/data")["capture_sample"]
    0.5
    """
    out: dict[str, Any] = {"data_dir": data_dir}
    if config.get("collect_model_data"):
        out.update(capture=True, capture_sample=float(config.get("capture_sample_rate", 1.0)),
                   capture_max_kb=float(config.get("capture_max_kb", 64.0)))
    if config.get("tracing") or config.get("otel_endpoint"):
        out["otel"] = True
        if config.get("otel_endpoint"):
            out["otel_endpoint"] = str(config["otel_endpoint"])
    return out
