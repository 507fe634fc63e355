"""Load-test a local scoring service: N POSTs to ``/score`` at concurrency C, timed and summarised.

:func:`load_test` sends exactly ``requests`` POSTs (unless cancelled or out of time)
from ``concurrency`` threads, each with its own keep-alive connection, and times each
one with :func:`time.perf_counter`. Error answers and connection failures are counted,
never raised. :class:`~jupyter_mldeploy.client.stats.LoadTestResult` holds the latencies and
their summary (percentiles, throughput, errors by status, a histogram and its picture).

This is a local tool: it only sends traffic to loopback addresses (``127.0.0.1``,
``localhost``, ``::1``).

Examples
--------
>>> from jupyter_mldeploy.client.loadtest import load_test        # doctest: +SKIP
>>> result = load_test(service, {"data": [1, 2]}, requests=200, concurrency=8)  # doctest: +SKIP
>>> print(result)                                                 # doctest: +SKIP
>>> result.p95, result.errors_by_status                           # doctest: +SKIP
(0.0042, {})
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import InvalidArgumentError, ScoringRequestError
from .sending import (
    CLIENT_ERROR,
    CONNECTION_ERROR,
    check_headers,
    encode_body,
    resolve_target,
    status_label,
    swagger_example,
)
from .stats import LoadTestResult, percentile

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

MAX_CONCURRENCY = 256
MAX_REQUESTS = 100_000

#: ``on_progress(done, total)``; returning ``False`` stops the run.
ProgressCallback = Callable[[int, int], "bool | None"]
Body = Any


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
