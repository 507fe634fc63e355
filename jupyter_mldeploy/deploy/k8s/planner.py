"""How many replicas a load needs: Azure ML v1's AKS sizing rule, explained, fed a target rate and a measured latency.

The AKS guidance (``how-to-deploy-azure-kubernetes-service``, "Autoscaling")::

    replicas = ceil(target_rps * request_seconds / (max_concurrent_requests * target_utilization))

with ``target_utilization`` as a fraction (v1's 70 is 0.7). :func:`plan_replicas` computes it,
compares it with the autoscaler's bounds and returns a :class:`ReplicaPlan` whose
:meth:`~ReplicaPlan.explain` shows the formula with the numbers, and whose
:meth:`~ReplicaPlan.deploy_configuration_kwargs` are the settings to pass to
``KubernetesWebservice.deploy_configuration``. The latency can be given, or read from a
load test (:func:`~jupyter_mldeploy.client.loadtest.load_test`'s result, or the JSON of
``mldeploy loadtest --json``): by default the median of its 2xx answers.

Examples
--------
>>> plan = plan_replicas(20, 0.1)
>>> plan.replicas
3
>>> plan.deploy_configuration_kwargs()["autoscale_max_replicas"]
10
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidArgumentError
from .config import _positive, _whole  # the same messages as the configuration's

__all__ = ["LATENCY_STATISTICS", "ReplicaPlan", "measured_latency", "plan_replicas"]

#: What a load test's latency may be summarised by (``ok_*`` are over the 2xx answers only).
LATENCY_STATISTICS = ("p50", "p95", "p99", "mean")
#: The most replicas a plan may suggest (as ``autoscale_max_replicas`` allows).
MAX_REPLICAS = 1000


@dataclass(frozen=True)
class ReplicaPlan:
    """The numbers of one sizing: the inputs, the replicas the formula needs, and what the bounds allow.

    ``needed`` is the formula's result; ``replicas`` is it held within
    ``min_replicas``..``max_replicas`` (what the autoscaler would run at that load).
    ``latency_source`` says where ``request_seconds`` came from.
    """

    target_rps: float
    request_seconds: float
    max_concurrent_requests: int
    target_utilization: int
    min_replicas: int
    max_replicas: int
    latency_source: str = "given"

    @property
    def utilization_fraction(self) -> float:
        """``target_utilization`` as a fraction (70 -> 0.7)."""
        return self.target_utilization / 100.0

    @property
    def concurrent_requests(self) -> float:
        """Requests in flight at the target rate, with the utilisation's headroom: ``rps * seconds / utilization``."""
        return self.target_rps * self.request_seconds / self.utilization_fraction

    @property
    def needed(self) -> int:
        """The formula's replica count (at least 1)."""
        raw = self.concurrent_requests / self.max_concurrent_requests
        return max(1, math.ceil(round(raw, 9)))  # 0.7 / 0.7 is 1, not 1.0000000000000002 -> 2

    @property
    def replicas(self) -> int:
        """``needed`` held within the autoscaler's bounds."""
        return min(max(self.needed, self.min_replicas), self.max_replicas)

    @property
    def fits(self) -> bool:
        """Whether ``max_replicas`` allows the replicas the load needs."""
        return self.needed <= self.max_replicas

    def explain(self) -> str:
        """The formula with these numbers, the result, and how it compares with the bounds."""
        u = self.utilization_fraction
        raw = self.concurrent_requests / self.max_concurrent_requests
        lines = [
            "replicas = ceil(target_rps * request_seconds / (max_concurrent_requests * target_utilization))",
            (f"         = ceil({_num(self.target_rps)} * {_num(self.request_seconds)} / "
             f"({self.max_concurrent_requests} * {_num(u)}))"),
            f"         = ceil({_num(raw)}) = {self.needed}",
            f"request_seconds: {self.latency_source}",
        ]
        if not self.fits:
            lines.append(
                f"{self.needed} replicas are needed but autoscale_max_replicas is {self.max_replicas}: raise it to "
                f"{self.needed}, give each replica more concurrent requests, or expect about "
                f"{_num(self.capacity_rps(self.max_replicas))} req/s at most."
            )
        elif self.needed < self.min_replicas:
            lines.append(
                f"autoscale_min_replicas {self.min_replicas} is more than the load needs: "
                f"{self.min_replicas} replicas run anyway."
            )
        else:
            lines.append(
                f"within autoscale_min_replicas {self.min_replicas} .. autoscale_max_replicas {self.max_replicas}."
            )
        lines.append(
            f"The autoscaler adds replicas when their CPU use passes {self.target_utilization}% of what they ask "
            "for (cpu_cores), not on request counts as AKS did: this plan is the replica count to expect at "
            f"{_num(self.target_rps)} req/s."
        )
        return "\n".join(lines)

    def capacity_rps(self, replicas: int) -> float:
        """The rate ``replicas`` replicas serve at the target utilisation (the formula solved for ``target_rps``)."""
        return replicas * self.max_concurrent_requests * self.utilization_fraction / self.request_seconds

    def deploy_configuration_kwargs(self) -> dict[str, Any]:
        """Settings for ``KubernetesWebservice.deploy_configuration(**kwargs)``: autoscaling able to reach ``needed``."""
        return {
            "autoscale_enabled": True,
            "autoscale_min_replicas": self.min_replicas,
            "autoscale_max_replicas": max(self.max_replicas, min(self.needed, MAX_REPLICAS)),
            "autoscale_target_utilization": self.target_utilization,
            "replica_max_concurrent_requests": self.max_concurrent_requests,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (inputs, ``needed``, ``replicas``, ``fits``, the suggested settings)."""
        return {
            "target_rps": self.target_rps, "request_seconds": self.request_seconds,
            "max_concurrent_requests": self.max_concurrent_requests,
            "target_utilization": self.target_utilization, "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas, "latency_source": self.latency_source,
            "needed": self.needed, "replicas": self.replicas, "fits": self.fits,
            "deploy_configuration": self.deploy_configuration_kwargs(),
        }

    def __str__(self) -> str:
        return self.explain()


def plan_replicas(
    target_rps: float,
    request_seconds: float | None = None,
    *,
    load_test: Any = None,
    latency: str = "p50",
    max_concurrent_requests: int = 1,
    target_utilization: int = 70,
    min_replicas: int = 1,
    max_replicas: int = 10,
) -> ReplicaPlan:
    """Size a service for ``target_rps`` requests per second with the AKS rule (defaults: v1's).

    Parameters
    ----------
    target_rps
        The request rate to serve (above zero).
    request_seconds
        Seconds one request takes on a replica. Give this or ``load_test``.
    load_test
        A :class:`~jupyter_mldeploy.client.stats.LoadTestResult`, or its ``to_dict()`` (the JSON of
        ``mldeploy loadtest --json``): its measured latency is used (see ``latency``).
    latency
        Which of the load test's latencies: ``"p50"`` (default), ``"p95"``, ``"p99"`` (over the 2xx
        answers) or ``"mean"`` (over all answers).
    max_concurrent_requests, target_utilization, min_replicas, max_replicas
        ``replica_max_concurrent_requests``, ``autoscale_target_utilization`` (1-100),
        ``autoscale_min_replicas`` and ``autoscale_max_replicas`` as in ``deploy_configuration``.

    Raises
    ------
    InvalidArgumentError
        A value out of range, both or neither of ``request_seconds`` and ``load_test``, or a load
        test with no successful answer.
    """
    _positive("target_rps", target_rps, "the requests per second to serve, e.g. 20")
    _whole("max_concurrent_requests", max_concurrent_requests, 1, 64)
    if isinstance(target_utilization, bool) or not isinstance(target_utilization, int) \
            or not 1 <= target_utilization <= 100:
        raise InvalidArgumentError(
            "target_utilization is a percentage, a whole number from 1 to 100 (v1's default is 70, "
            f"meaning 0.7), got {target_utilization!r}."
        )
    _whole("min_replicas", min_replicas, 1, MAX_REPLICAS)
    _whole("max_replicas", max_replicas, 1, MAX_REPLICAS)
    if min_replicas > max_replicas:
        raise InvalidArgumentError(
            f"min_replicas={min_replicas} is more than max_replicas={max_replicas}: give min <= max "
            "(for example min 1, max 10)."
        )
    if (request_seconds is None) == (load_test is None):
        raise InvalidArgumentError(
            "give the seconds one request takes (request_seconds=0.05) or a load test's result "
            "(load_test=load_test(service, body)), one of the two."
        )
    if load_test is not None:
        request_seconds, source = measured_latency(load_test, latency)
    else:
        _positive("request_seconds", request_seconds, "seconds per request, e.g. 0.05 for 50 ms")
        source = "given"
    assert request_seconds is not None
    return ReplicaPlan(
        float(target_rps), float(request_seconds), max_concurrent_requests, target_utilization,
        min_replicas, max_replicas, source,
    )


def measured_latency(load_test: Any, latency: str = "p50") -> tuple[float, str]:
    """``(seconds, where it came from)``: a load test's (or its JSON's) ``latency`` statistic.

    Raises
    ------
    InvalidArgumentError
        ``latency`` is not one of :data:`LATENCY_STATISTICS`, the object is no load test result,
        or no request was answered with a 2xx.
    """
    if latency not in LATENCY_STATISTICS:
        raise InvalidArgumentError(
            f"latency must be one of {', '.join(LATENCY_STATISTICS)} (of the load test's answers), got {latency!r}."
        )
    if isinstance(load_test, Mapping):
        table = load_test.get("latency_ms" if latency == "mean" else "ok_latency_ms")
        value = table.get(latency) if isinstance(table, Mapping) else None
        seconds = None if value is None else float(value) / 1000.0
        ok, concurrency = load_test.get("ok"), load_test.get("concurrency")
    elif hasattr(load_test, "ok_p50") and hasattr(load_test, "mean"):
        seconds = float(load_test.mean if latency == "mean" else getattr(load_test, f"ok_{latency}"))
        ok, concurrency = load_test.ok, load_test.concurrency
    else:
        raise InvalidArgumentError(
            f"load_test must be the result of load_test(...) or its to_dict() (mldeploy loadtest --json), "
            f"got {type(load_test).__name__}."
        )
    if not ok or seconds is None or math.isnan(seconds) or seconds <= 0:
        raise InvalidArgumentError(
            "the load test has no successful (2xx) answer to measure: fix the requests it sent (see its errors) "
            "and run it again, or give request_seconds."
        )
    what = "mean of all answers" if latency == "mean" else f"{latency} of {ok} 2xx answers"
    return seconds, f"measured by a load test: {what} = {seconds * 1000:.2f} ms at concurrency {concurrency}"


def _num(value: float) -> str:
    return f"{value:.4g}"

