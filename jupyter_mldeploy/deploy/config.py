"""Deployment configurations: the settings every target shares (port, auth, workers, timeout, debug, variables).

A target subclasses :class:`DeploymentConfiguration` only to name its ``compute_type``
(and add its own knobs); ``Target.deploy_configuration(...)`` (Azure's spelling) is
defined once, on ``Webservice``. The scoring server's own options (batching, capture,
tracing) come from :class:`~.server_options.ServerOptions`, defined once there. A
configuration says *how* a service runs, never *where*: the target is the class it
belongs to (``deploy.targets.choose_target`` picks one when none is given).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ..errors import InvalidArgumentError
from .server_options import ServerOptions

__all__ = ["DeploymentConfiguration"]


@dataclass
class DeploymentConfiguration(ServerOptions):
    """Settings shared by every target (and the server options of :class:`~.server_options.ServerOptions`).

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
    batch, collect_model_data, capture_sample_rate, capture_max_kb, tracing, otel_endpoint
        Keyword-only: see :class:`~.server_options.ServerOptions`.
    """

    compute_type: ClassVar[str] = ""

    port: int | None = None
    auth_enabled: bool = False
    workers: int = 1
    timeout_ms: int = 60_000
    debug: bool = True
    environment_variables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.port is not None and not (isinstance(self.port, int) and 0 < self.port < 65536):
            raise InvalidArgumentError(f"port must be a number from 1 to 65535 or None (pick a free one), got {self.port!r}.")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise InvalidArgumentError(f"workers must be a whole number >= 1, got {self.workers!r}.")
        if not isinstance(self.timeout_ms, int) or self.timeout_ms < 1:
            raise InvalidArgumentError(f"timeout_ms must be a whole number of milliseconds >= 1, got {self.timeout_ms!r}.")
        self.environment_variables = {str(k): str(v) for k, v in dict(self.environment_variables or {}).items()}
        super().__post_init__()

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as JSON-ready data (with ``compute_type``)."""
        return {"compute_type": self.compute_type, **asdict(self)}
