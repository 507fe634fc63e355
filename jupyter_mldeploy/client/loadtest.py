"""Load-test a local scoring service: N POSTs to ``/score`` at concurrency C, timed and summarised.

:func:`load_test` sends exactly ``requests`` POSTs (unless cancelled or out of time)
from ``concurrency`` threads, each with its own keep-alive connection, and times each
one with :func:`time.perf_counter`. Error answers and connection failures are counted,
never raised. :class:`LoadTestResult` holds the latencies and their summary
(percentiles, throughput, errors by status, a histogram and its picture).

This is a local tool: it only sends traffic to loopback addresses (``127.0.0.1``,
``localhost``, ``::1``).

Percentiles use linear interpolation between closest ranks, the definition of
``statistics.quantiles(data, n=100, method="inclusive")`` (and of numpy's default):
p50 of ``[1, 2, 3, 4]`` is 2.5.

Examples
--------
>>> from jupyter_mldeploy.client.loadtest import load_test        # doctest: +SKIP
>>> result = load_test(service, {"data": [1, 2]}, requests=200, concurrency=8)  # doctest: +SKIP
>>> print(result)                                                 # doctest: +SKIP
>>> result.p95, result.errors_by_status                           # doctest: +SKIP
(0.0042, {})
"""

from __future__ import annotations

import ipaddress
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidArgumentError, ScoringRequestError

__all__ = [
    "CLIENT_ERROR",
    "CONNECTION_ERROR",
    "MAX_CONCURRENCY",
    "MAX_REQUESTS",
    "LoadTestResult",
    "check_headers",
    "encode_body",
    "load_test",
    "percentile",
    "resolve_target",
    "status_label",
    "swagger_example",
]

#: The status recorded for a request that got no HTTP answer (refused, reset, timed out).
CONNECTION_ERROR = 0
#: The status recorded for a request the client itself failed to send (an unexpected error).
CLIENT_ERROR = -1
MAX_CONCURRENCY = 256
MAX_REQUESTS = 100_000

#: ``on_progress(done, total)``; returning ``False`` stops the run.
ProgressCallback = Callable[[int, int], "bool | None"]
Body = Any


# --- the target --------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_target(target: Any, auth_key: str | None = None) -> tuple[str, str | None]:
    """Return ``(base_url, auth_key)`` for a ``Webservice`` or a loopback URL string.

    A ``Webservice`` gives its port and, when auth is on, its primary key.

    Raises
    ------
    InvalidArgumentError
        The URL is not http on a loopback address, or the service has no port yet.

    Examples
    --------
    >>> resolve_target("http://127.0.0.1:5001/score")
    ('http://127.0.0.1:5001', None)
    """
    if isinstance(target, str):
        parts = urlsplit(target if "://" in target else f"http://{target}")
        host = parts.hostname or ""
        if parts.scheme != "http" or not host:
            raise InvalidArgumentError(
                f"cannot use {target!r} as a service URL; pass e.g. 'http://127.0.0.1:5001' or a Webservice"
            )
        if not _is_loopback(host):
            raise InvalidArgumentError(
                f"refusing to send test traffic to {host!r}: this is a local tool and only targets "
                "loopback addresses (127.0.0.1, localhost, ::1); deploy the service locally and pass its URL"
            )
        try:
            port = parts.port
        except ValueError as err:
            raise InvalidArgumentError(
                f"{target!r} has a bad port ({err}); pass e.g. 'http://127.0.0.1:5001'"
            ) from err
        if port is None:
            raise InvalidArgumentError(f"{target!r} has no port; pass e.g. 'http://127.0.0.1:5001'")
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        prefix = parts.path.rstrip("/").removesuffix("/score")
        return f"http://{netloc}{prefix}", auth_key
    port = getattr(target, "port", None)
    name = getattr(target, "name", None)
    if name is None or not hasattr(target, "auth_enabled"):
        raise InvalidArgumentError(
            f"cannot load-test a {type(target).__name__}; pass a Webservice or a URL such as 'http://127.0.0.1:5001'"
        )
    if not port:
        state = getattr(target, "state", "?")
        if state == "Deleted":
            raise InvalidArgumentError(
                f"service {name!r} was deleted; deploy it again to send it requests"
            )
        raise InvalidArgumentError(
            f"service {name!r} has no port yet (state {state}); "
            "wait with service.wait_for_deployment() and try again"
        )
    key = auth_key
    if key is None and target.auth_enabled:
        key = target.get_keys()[0]
    return f"http://127.0.0.1:{int(port)}", key


def swagger_example(doc: Mapping[str, Any]) -> Any | None:
    """The example input of ``POST /score`` in a swagger 2 or OpenAPI 3 document, or ``None``.

    An empty example (``{}``, what undecorated scripts advertise) counts as none.

    Examples
    --------
    >>> swagger_example({"paths": {"/score": {"post": {"parameters": [{"in": "body",
    ...     "schema": {"$ref": "#/definitions/ServiceInput"}}]}}},
    ...     "definitions": {"ServiceInput": {"example": {"data": [[1, 2]]}}}})
    {'data': [[1, 2]]}
    """

    def resolve(node: Any) -> Any:
        seen = 0
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 10:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                return None
            target: Any = doc
            for part in ref[2:].split("/"):
                target = target.get(part) if isinstance(target, Mapping) else None
            node, seen = target, seen + 1
        return node

    def from_schema(schema: Any) -> Any | None:
        schema = resolve(schema)
        if isinstance(schema, Mapping):
            if "example" in schema:
                return schema["example"]
            examples = schema.get("examples")
            if isinstance(examples, list) and examples:
                return examples[0]
        return None

    post = (doc.get("paths") or {}).get("/score", {}).get("post") or {}
    candidates: list[Any] = []
    for param in post.get("parameters") or []:
        param = resolve(param)
        if isinstance(param, Mapping) and param.get("in") == "body":
            candidates += [param.get("example"), from_schema(param.get("schema"))]
    body = resolve(post.get("requestBody")) or {}
    media = (body.get("content") or {}).get("application/json") or {}
    if "example" in media:
        candidates.append(media["example"])
    for example in (media.get("examples") or {}).values():
        candidates.append(
            resolve(example).get("value") if isinstance(resolve(example), Mapping) else None
        )
    candidates.append(from_schema(media.get("schema")))
    for candidate in candidates:
        if candidate not in (None, {}, [], ""):
            return candidate
    return None


def encode_body(body: Body, content_type: str | None = None) -> tuple[bytes, str]:
    """Return ``(bytes, content_type)`` for a body: bytes as they are, str as UTF-8, else JSON.

    Raises
    ------
    InvalidArgumentError
        The body is not bytes, str or JSON-able.

    Examples
    --------
    >>> encode_body({"data": [1]})
    (b'{"data": [1]}', 'application/json')
    """
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), content_type or "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), content_type or "application/json"
    try:
        return json.dumps(body, allow_nan=False).encode(), content_type or "application/json"
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(
            f"the body cannot be sent as JSON ({err}); pass a JSON-able object (dict, list, numbers, "
            "strings), a JSON string, or bytes"
        ) from err


# --- percentiles and the result -----------------------------------------------------------


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


def status_label(status: int) -> str:
    """How a status of ``errors_by_status`` reads: ``'500'``, ``'connection error'``, ``'client error'``.

    Examples
    --------
    >>> status_label(503), status_label(CONNECTION_ERROR), status_label(CLIENT_ERROR)
    ('503', 'connection error', 'client error')
    """
    if status == CONNECTION_ERROR:
        return "connection error"
    if status == CLIENT_ERROR:
        return "client error"
    return str(status)


#: RFC 9110 token characters: what a header name may be made of.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Return ``headers`` as a ``{name: value}`` dict of strings, checked to be sendable over HTTP/1.1.

    A name must be a non-empty HTTP token (letters, digits, ``-`` and a few symbols); a value
    must be Latin-1 text without CR, LF or NUL (what ``http.client`` can put on the wire).

    Raises
    ------
    InvalidArgumentError
        A header cannot be sent; the message names it and says what to change.

    Examples
    --------
    >>> check_headers({"X-Trace": 42})
    {'X-Trace': '42'}
    >>> check_headers({"X-User": "\u65e5\u672c"})
    Traceback (most recent call last):
    ...
    jupyter_mldeploy.errors.InvalidArgumentError: header 'X-User' has characters that cannot be sent in an HTTP header ('\u65e5' is not Latin-1); percent-encode or base64 the value (e.g. urllib.parse.quote(value)). Nothing was sent.
    """
    checked: dict[str, str] = {}
    for raw_name, raw_value in (headers or {}).items():
        name, value = str(raw_name), str(raw_value)
        bad_name = next((c for c in name if c not in _TOKEN), None)
        if not name or bad_name is not None:
            what = "is empty" if not name else f"has the character {bad_name!r}"
            raise InvalidArgumentError(
                f"header name {name!r} {what}; a header name is letters, digits and '-' "
                "(e.g. 'X-Trace'). Nothing was sent."
            )
        control = next((c for c in value if c in "\r\n\x00"), None)
        if control is not None:
            raise InvalidArgumentError(
                f"header {name!r} has a {control!r} in its value; a header value is one line of "
                "text: remove the line break. Nothing was sent."
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError as err:
            raise InvalidArgumentError(
                f"header {name!r} has characters that cannot be sent in an HTTP header "
                f"({value[err.start]!r} is not Latin-1); percent-encode or base64 the value "
                "(e.g. urllib.parse.quote(value)). Nothing was sent."
            ) from err
        checked[name] = value
    return checked


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
        """The latency histogram as PNG bytes of ``width`` x ``height`` pixels, p50/p95/p99 marked.

        Drawn with matplotlib's object API (no pyplot, no global state); needs matplotlib
        (the ``jupyter`` extra).
        """
        if width < 100 or height < 80 or width > 4000 or height > 4000:
            raise InvalidArgumentError(
                f"plot size {width}x{height} is out of range; pick width and height between 100x80 and 4000x4000 pixels"
            )
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as err:
            raise InvalidArgumentError(
                "plot_png needs matplotlib: pip install 'jupyter-mldeploy[jupyter]'"
            ) from err
        dpi = 100
        figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot(1, 1, 1)
        edges, counts = self.histogram()
        edges_ms = [e * 1000 for e in edges]
        if self.latencies:
            axes.stairs(counts, edges_ms, fill=True, color="#8cb4e0", edgecolor="#2f6db5")
            for name, value, colour in (
                ("p50", self.p50, "#1a7f37"),
                ("p95", self.p95, "#9a6700"),
                ("p99", self.p99, "#cf222e"),
            ):
                axes.axvline(
                    value * 1000,
                    color=colour,
                    linestyle="--",
                    linewidth=1.2,
                    label=f"{name} {value * 1000:.2f} ms",
                )
            axes.legend(
                loc="lower center",
                bbox_to_anchor=(0.5, 1.0),
                ncol=3,
                fontsize="small",
                frameon=False,
            )
        else:
            axes.text(0.5, 0.5, "no answers", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlabel("latency (ms)")
        axes.set_ylabel("requests")
        figure.tight_layout()
        out = BytesIO()
        figure.savefig(out, format="png", dpi=dpi)
        return out.getvalue()


# --- running it ------------------------------------------------------------------------------


def _check(requests: int, concurrency: int, timeout: float, deadline_s: float) -> None:
    if (
        isinstance(requests, bool)
        or not isinstance(requests, int)
        or not 1 <= requests <= MAX_REQUESTS
    ):
        raise InvalidArgumentError(
            f"requests must be a whole number from 1 to {MAX_REQUESTS}, got {requests!r}"
        )
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidArgumentError(
            f"concurrency must be a whole number of at least 1, got {concurrency!r}"
        )
    if concurrency > MAX_CONCURRENCY:
        raise InvalidArgumentError(
            f"concurrency {concurrency} is above the limit of {MAX_CONCURRENCY}; use fewer workers"
        )
    if concurrency > requests:
        raise InvalidArgumentError(
            f"concurrency {concurrency} is more than the {requests} requests to send; "
            f"use concurrency <= requests (e.g. concurrency={requests})"
        )
    if not timeout > 0 or not deadline_s > 0:
        raise InvalidArgumentError(
            f"timeout and deadline_s must be positive seconds, got timeout={timeout!r}, deadline_s={deadline_s!r}"
        )


def _bodies(
    body: Body, requests: int, content_type: str | None
) -> list[tuple[bytes, str]] | tuple[bytes, str]:
    if callable(body):
        return [encode_body(body(i), content_type) for i in range(requests)]
    return encode_body(body, content_type)


class _Run:
    """The shared state of one load test's workers."""

    def __init__(self, requests: int, cancel: threading.Event, deadline: float) -> None:
        self.requests = requests
        self.cancel = cancel
        self.deadline = deadline
        self.lock = threading.Lock()
        self.next_index = 0
        self.done = 0
        self.stopped: str | None = None
        self.latencies: list[float] = []
        self.ok_latencies: list[float] = []
        self.errors: dict[int, int] = {}
        self.samples: dict[int, str] = {}

    def take(self) -> int | None:
        with self.lock:
            if self.cancel.is_set():
                self.stopped = self.stopped or "cancelled"
                return None
            if time.monotonic() >= self.deadline:
                self.stopped = self.stopped or "deadline"
                return None
            if self.next_index >= self.requests:
                return None
            index = self.next_index
            self.next_index += 1
            return index

    def record(self, status: int, latency: float | None, sample: str) -> None:
        with self.lock:
            self.done += 1
            if latency is not None:
                self.latencies.append(latency)
                if 200 <= status < 300:
                    self.ok_latencies.append(latency)
            if not 200 <= status < 300:
                self.errors[status] = self.errors.get(status, 0) + 1
                self.samples.setdefault(status, sample)


def _worker(
    run: _Run,
    base_url: str,
    key: str | None,
    timeout: float,
    bodies: Any,
    extra_headers: Mapping[str, str],
) -> None:
    from .client import ScoringClient

    client = ScoringClient(base_url, auth_key=key, timeout=timeout)
    typed_type = any(name.lower() == "content-type" for name in extra_headers)
    try:
        while (index := run.take()) is not None:
            payload, content_type = bodies[index] if isinstance(bodies, list) else bodies
            # a Content-Type among the headers wins over the body's (one header, any case)
            headers = (
                dict(extra_headers)
                if typed_type
                else {"Content-Type": content_type, **extra_headers}
            )
            started = time.perf_counter()
            try:
                answer = client.request("POST", "/score", payload, headers)
            except ScoringRequestError as err:
                run.record(CONNECTION_ERROR, None, str(err)[:300])
                continue
            except Exception as err:  # noqa: BLE001 - counted and shown, never lost in a thread
                client.close()  # the connection may be half-written: start a fresh one
                run.record(CLIENT_ERROR, None, f"{type(err).__name__}: {err}"[:300])
                continue
            latency = time.perf_counter() - started
            sample = ""
            if not 200 <= answer.status < 300:
                error = answer.error or {}
                sample = str(error.get("message") or answer.text)[:300]
            run.record(answer.status, latency, sample)
    finally:
        client.close()


def load_test(
    target: Any,
    body: Body,
    requests: int = 200,
    concurrency: int = 8,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    on_progress: ProgressCallback | None = None,
    *,
    auth_key: str | None = None,
    content_type: str | None = None,
    cancel: threading.Event | None = None,
    deadline_s: float = 600.0,
    progress_interval: float = 0.1,
) -> LoadTestResult:
    """Send ``requests`` POSTs of ``body`` to ``target``'s ``/score`` with ``concurrency`` workers.

    Parameters
    ----------
    target
        A ``Webservice`` (its port, and its primary key when auth is on) or a loopback
        base URL such as ``"http://127.0.0.1:5001"``.
    body
        A JSON-able object, a JSON string, bytes (sent as ``application/octet-stream``), or a
        callable ``body(i)`` returning one of those for request ``i`` (0-based; all bodies are
        built before the first request is sent).
    requests, concurrency
        How many requests in all, and how many in flight at once (1 to 256, at most ``requests``).
    headers
        Extra request headers. A ``Content-Type`` here (any case) wins over ``content_type``
        and the body's own, as in the panel's Send. Checked up front with :func:`check_headers`.
    timeout
        Seconds to wait for each answer; a request that takes longer counts as a connection error.
    on_progress
        Called as ``on_progress(done, total)`` from the calling thread about every
        ``progress_interval`` seconds and once at the end; returning ``False`` stops the run.
    auth_key
        Bearer key for a URL target (a Webservice brings its own).
    cancel
        Set this event (from another thread) to stop the run; requests in flight finish.
    deadline_s
        Stop sending new requests after this many seconds in all.

    Returns
    -------
    LoadTestResult
        Latencies, percentiles, throughput and errors by status. Errors never raise: a
        request that fails in the client itself is counted under :data:`CLIENT_ERROR`.

    Raises
    ------
    InvalidArgumentError
        Bad ``requests``/``concurrency``/``timeout``, a body that is not JSON-able, a header
        (or ``content_type``, or auth key) that cannot be sent over HTTP, or a target that is
        not a local service.

    Examples
    --------
    >>> result = load_test("http://127.0.0.1:5001", {"data": [1]}, requests=100, concurrency=4)  # doctest: +SKIP
    >>> result.ok, round(result.p50 * 1000, 1)                                                 # doctest: +SKIP
    (100, 1.9)
    """
    _check(requests, concurrency, timeout, deadline_s)
    extra = check_headers(headers)
    if content_type is not None:
        check_headers({"Content-Type": content_type})
    base_url, key = resolve_target(target, auth_key)
    if key is not None:
        check_headers({"Authorization": f"Bearer {key}"})
    bodies = _bodies(body, requests, content_type)
    cancel = cancel or threading.Event()
    started = time.perf_counter()
    run = _Run(requests, cancel, time.monotonic() + deadline_s)
    threads = [
        threading.Thread(
            target=_worker,
            args=(run, base_url, key, timeout, bodies, extra),
            name=f"mldeploy-loadtest-{i}",
            daemon=True,
        )
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    try:
        while alive := [t for t in threads if t.is_alive()]:
            alive[0].join(progress_interval)
            if on_progress is not None and on_progress(run.done, requests) is False:
                cancel.set()
    except KeyboardInterrupt:
        cancel.set()
        for thread in threads:
            thread.join(timeout + 1)
        raise
    wall = time.perf_counter() - started
    if on_progress is not None:
        on_progress(run.done, requests)
    return LoadTestResult(
        url=base_url,
        requests=requests,
        concurrency=concurrency,
        sent=run.done,
        wall_s=wall,
        latencies=run.latencies,
        errors_by_status=dict(run.errors),
        error_samples=dict(run.samples),
        stopped=run.stopped if run.done < requests else None,
        ok_latencies=run.ok_latencies,
    )
