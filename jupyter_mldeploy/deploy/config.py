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

__all__ = ["DeploymentConfiguration", "server_variables"]


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
    """

    compute_type: ClassVar[str] = ""

    port: int | None = None
    auth_enabled: bool = False
    workers: int = 1
    timeout_ms: int = 60_000
    debug: bool = True
    environment_variables: dict[str, str] = field(default_factory=dict)
    batch: str | None = None

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
