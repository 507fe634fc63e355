"""What a load test measured: latencies, their percentiles and histogram, errors by status, throughput.

Percentiles use linear interpolation between closest ranks, the definition of
``statistics.quantiles(data, n=100, method="inclusive")`` (and of numpy's default):
p50 of ``[1, 2, 3, 4]`` is 2.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgumentError
from .sending import status_label

__all__ = ["LoadTestResult", "percentile"]


def percentile(sorted_values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ascending ``sorted_values``, interpolating between ranks.

    Same as ``statistics.quantiles(values, n=100, method="inclusive")[p - 1]`` for integer ``p``.

    Examples
    --------
    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not sorted_values:
        return math.nan
    if not 0 <= p <= 100:
        raise InvalidArgumentError(f"percentile must be between 0 and 100, got {p}")
    position = (len(sorted_values) - 1) * p / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


@dataclass
class LoadTestResult:
    """What a load test measured.

    ``latencies`` are the client-measured seconds of every request that got an HTTP
    answer (any status), in completion order; connection errors have none. ``p50``,
    ``p95``, ``p99``, ``min``, ``max`` and ``mean`` are over these (all answers);
    ``ok_p50``, ``ok_p95`` and ``ok_p99`` over the 2xx answers only (``ok_latencies``),
    which matters when fast error answers would set the percentiles.
    ``errors_by_status`` counts non-2xx answers by status, requests with no answer
    under :data:`CONNECTION_ERROR` (0), and requests the client failed to send (an
    unexpected error, its message in ``error_samples``) under :data:`CLIENT_ERROR` (-1).
    ``sent`` is below ``requests`` only when the run was stopped (``stopped`` says why:
    ``"cancelled"`` or ``"deadline"``).

    Examples
    --------
    >>> result = LoadTestResult("http://127.0.0.1:5001", 4, 2, 4, 0.01,
    ...                         latencies=[0.001, 0.002, 0.003], errors_by_status={500: 1, 0: 1})
    >>> round(result.p50 * 1000, 3), result.ok, result.errors_text()
    (2.0, 2, 'connection error x 1, 500 x 1')
    """

    url: str
    requests: int
    concurrency: int
    sent: int
    wall_s: float
    latencies: list[float] = field(default_factory=list)
    errors_by_status: dict[int, int] = field(default_factory=dict)
    #: one error message (body excerpt or connection error) per status, for display
    error_samples: dict[int, str] = field(default_factory=dict)
    stopped: str | None = None
    #: latencies (s) of the 2xx answers only, in completion order
    ok_latencies: list[float] = field(default_factory=list)

    @property
    def ok(self) -> int:
        """How many requests got a 2xx answer."""
        return self.sent - sum(self.errors_by_status.values())

    @property
    def errors(self) -> int:
        """How many requests failed (non-2xx or no answer)."""
        return sum(self.errors_by_status.values())

    @property
    def throughput(self) -> float:
        """Answered requests per second of wall time."""
        return len(self.latencies) / self.wall_s if self.wall_s > 0 else 0.0

    def _sorted(self) -> list[float]:
        cached: list[float] | None = getattr(self, "_sorted_cache", None)
        if cached is None or len(cached) != len(self.latencies):
            cached = sorted(self.latencies)
            object.__setattr__(self, "_sorted_cache", cached)
        return cached

    def percentile(self, p: float) -> float:
        """The ``p``-th latency percentile in seconds (NaN when nothing was answered)."""
        return percentile(self._sorted(), p)

    def _ok_sorted(self) -> list[float]:
        if not self.errors_by_status:  # every answer was 2xx
            return self._sorted()
        cached: list[float] | None = getattr(self, "_ok_sorted_cache", None)
        if cached is None or len(cached) != len(self.ok_latencies):
            cached = sorted(self.ok_latencies)
            object.__setattr__(self, "_ok_sorted_cache", cached)
        return cached

    def ok_percentile(self, p: float) -> float:
        """The ``p``-th latency percentile (s) of the 2xx answers only (NaN when there were none)."""
        return percentile(self._ok_sorted(), p)

    @property
    def ok_p50(self) -> float:
        """Median latency of the 2xx answers (s)."""
        return self.ok_percentile(50)

    @property
    def ok_p95(self) -> float:
        """95th percentile latency of the 2xx answers (s)."""
        return self.ok_percentile(95)

    @property
    def ok_p99(self) -> float:
        """99th percentile latency of the 2xx answers (s)."""
        return self.ok_percentile(99)

    @property
    def p50(self) -> float:
        """Median latency of all answers (s)."""
        return self.percentile(50)

    @property
    def p95(self) -> float:
        """95th percentile latency (s)."""
        return self.percentile(95)

    @property
    def p99(self) -> float:
        """99th percentile latency (s)."""
        return self.percentile(99)

    @property
    def min(self) -> float:
        """Fastest answer (s)."""
        return self._sorted()[0] if self.latencies else math.nan

    @property
    def max(self) -> float:
        """Slowest answer (s)."""
        return self._sorted()[-1] if self.latencies else math.nan

    @property
    def mean(self) -> float:
        """Mean latency (s)."""
        return sum(self.latencies) / len(self.latencies) if self.latencies else math.nan

    def histogram(self, bins: int = 20) -> tuple[list[float], list[int]]:
        """``(edges, counts)`` of the latencies (s): ``bins`` equal-width bins from min to max.

        ``edges`` has ``bins + 1`` values; a latency equal to the top edge falls in the last bin.
        """
        if bins < 1:
            raise InvalidArgumentError(f"bins must be at least 1, got {bins}")
        if not self.latencies:
            return [0.0] * (bins + 1), [0] * bins
        low, high = self.min, self.max
        if high <= low:  # all equal: one bin-width around the value
            low, high = low - 0.0005, high + 0.0005
        width = (high - low) / bins
        edges = [low + i * width for i in range(bins)] + [high]
        counts = [0] * bins
        for value in self.latencies:
            index = min(int((value - low) / width), bins - 1)
            counts[index] += 1
        return edges, counts

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary; times in milliseconds, status keys as strings.

        ``latency_ms`` is over all answers, ``ok_latency_ms`` over the 2xx answers only.
        """

        def ms(value: float) -> float | None:
            return None if math.isnan(value) else round(value * 1000.0, 3)

        return {
            "url": self.url,
            "requests": self.requests,
            "concurrency": self.concurrency,
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "errors_by_status": {str(k): v for k, v in sorted(self.errors_by_status.items())},
            "error_samples": {str(k): v for k, v in sorted(self.error_samples.items())},
            "stopped": self.stopped,
            "wall_s": round(self.wall_s, 4),
            "throughput_rps": round(self.throughput, 2),
            "latency_ms": {
                "min": ms(self.min),
                "mean": ms(self.mean),
                "p50": ms(self.p50),
                "p95": ms(self.p95),
                "p99": ms(self.p99),
                "max": ms(self.max),
            },
            "ok_latency_ms": {
                "p50": ms(self.ok_p50),
                "p95": ms(self.ok_p95),
                "p99": ms(self.ok_p99),
            },
        }

    def errors_text(self) -> str:
        """``'400 x 3, connection error x 1'`` (or ``'none'``)."""
        if not self.errors_by_status:
            return "none"
        return ", ".join(
            f"{status_label(k)} x {v}" for k, v in sorted(self.errors_by_status.items())
        )

    def __str__(self) -> str:
        def ms(value: float) -> str:
            return "-" if math.isnan(value) else f"{value * 1000:.2f}"

        stopped = f" (stopped: {self.stopped})" if self.stopped else ""
        rows = [
            ("target", f"{self.url}/score"),
            (
                "requests",
                f"{self.sent} of {self.requests} sent{stopped}, {self.ok} ok, {self.errors} errors",
            ),
            ("concurrency", str(self.concurrency)),
            ("wall time", f"{self.wall_s:.3f} s"),
            ("throughput", f"{self.throughput:.1f} req/s"),
            ("latency ms", f"min {ms(self.min)}  mean {ms(self.mean)}  max {ms(self.max)}"),
            (
                "percentiles",
                f"p50 {ms(self.p50)}  p95 {ms(self.p95)}  p99 {ms(self.p99)} ms (all answers)",
            ),
        ]
        if self.errors:
            rows.append(
                (
                    "2xx only",
                    f"p50 {ms(self.ok_p50)}  p95 {ms(self.ok_p95)}  p99 {ms(self.ok_p99)} ms",
                )
            )
        rows.append(("errors", self.errors_text()))
        return "\n".join(f"{label:<12} {value}" for label, value in rows)

    def plot_png(self, width: int = 640, height: int = 320) -> bytes:
        """The latency histogram as PNG bytes of ``width`` x ``height`` pixels, p50/p95/p99 marked (see :mod:`.plot`)."""
        from .plot import latency_png

        return latency_png(self, width, height)
