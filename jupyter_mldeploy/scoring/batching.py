"""Adaptive batching, opt-in per script: ``@batched`` on ``run`` and the per-worker queue that feeds it.

A script opts in by decorating a vectorised ``run`` (a list of request bodies in, a list
of answers out, in the same order)::

    from jupyter_mldeploy import batched

    @batched(max_batch_size=32, max_latency_ms=5)
    def run(raw_batch):
        rows = [json.loads(raw)["data"] for raw in raw_batch]
        ...
        return [answer_for_request_1, answer_for_request_2, ...]

:class:`Batcher` (one per loaded script, on the worker's event loop) groups concurrent
requests: a batch goes to the script thread as soon as ``max_batch_size`` requests wait,
or as soon as no other request is on its way in this worker (every request the worker
holds is in the queue: waiting could only add latency), or at the latest when the oldest
has waited ``max_latency_ms``. While a batch runs the queue fills, and the next batch
leaves as soon as it ends under the same rules, so under load batches grow by themselves
and nobody waits for a timer; alone, a request is not held back at all. At most
``max_queue`` requests wait; more answer 503 with ``Retry-After``. Scripts without the
decorator never touch this module's queue.

A script whose ``run`` is already vectorised can be batched without the decorator, by a
setting: ``MLDEPLOY_BATCH=max_batch_size=32,max_latency_ms=5[,max_queue=N]`` (``mldeploy
serve --batch ...``, ``deploy_configuration(batch=...)``), read by :func:`parse_batch`.
The setting wins over the decorator's knobs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import InvalidArgumentError
from .contract import ScoringRequest, ScoringResponse, error_response

__all__ = ["BATCH_ATTR", "BATCH_SETTING", "BatchOptions", "Batcher", "batch_options", "batched", "parse_batch"]

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute :func:`batched` sets on the decorated ``run``.
BATCH_ATTR = "_mldeploy_batch"
#: Error code of the answer to a request that found the queue full.
OVERLOADED = "Overloaded"
#: The environment name of the setting that batches a script without the decorator.
BATCH_SETTING = "MLDEPLOY_BATCH"
_EXAMPLE = "max_batch_size=32,max_latency_ms=5"


@dataclass(frozen=True)
class BatchOptions:
    """How a batched ``run`` is fed (see :func:`batched`)."""

    max_batch_size: int = 32
    max_latency_ms: float = 5.0
    max_queue: int = 0  # 0: 8 batches

    @property
    def queue_limit(self) -> int:
        """Most requests that may wait for a batch."""
        return self.max_queue or 8 * self.max_batch_size

    @property
    def spec(self) -> str:
        """These options as the ``MLDEPLOY_BATCH`` value :func:`parse_batch` reads back.

        Examples
        --------
        >>> BatchOptions(16, 2.5).spec
        'max_batch_size=16,max_latency_ms=2.5'
        """
        text = f"max_batch_size={self.max_batch_size},max_latency_ms={self.max_latency_ms:g}"
        return text + (f",max_queue={self.max_queue}" if self.max_queue else "")


def _checked(max_batch_size: object, max_latency_ms: object, max_queue: object) -> BatchOptions:
    """The options, or :class:`InvalidArgumentError` naming the bad knob (the decorator's and the setting's check)."""
    if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
        raise InvalidArgumentError(f"max_batch_size must be a whole number >= 1, got {max_batch_size!r}")
    if isinstance(max_latency_ms, bool) or not isinstance(max_latency_ms, (int, float)) or not 0 <= max_latency_ms <= 60_000:
        raise InvalidArgumentError(
            f"max_latency_ms must be a number of milliseconds from 0 to 60000, got {max_latency_ms!r}")
    if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 0:
        raise InvalidArgumentError(f"max_queue must be a whole number >= 0 (0: 8 batches), got {max_queue!r}")
    return BatchOptions(max_batch_size, float(max_latency_ms), max_queue)


def parse_batch(spec: str) -> BatchOptions:
    """Read the batching setting ``max_batch_size=32,max_latency_ms=5[,max_queue=N]`` (knobs left out: defaults).

    ``on`` (or ``1``, ``true``) is every default. A bad part raises
    :class:`InvalidArgumentError` naming it and showing a good value.

    Examples
    --------
    >>> parse_batch("max_batch_size=64, max_latency_ms=2")
    BatchOptions(max_batch_size=64, max_latency_ms=2.0, max_queue=0)
    >>> parse_batch("on").max_batch_size
    32
    >>> parse_batch("max_batch_size=lots")
    Traceback (most recent call last):
    ...
    jupyter_mldeploy.errors.InvalidArgumentError: MLDEPLOY_BATCH: 'max_batch_size=lots': max_batch_size must be a whole number >= 1, got 'lots'; write it as max_batch_size=32,max_latency_ms=5[,max_queue=N]
    """
    text = str(spec).strip()
    if text.lower() in ("on", "1", "true", "yes"):
        return BatchOptions()
    hint = f"write it as {_EXAMPLE}[,max_queue=N]"
    if not text:
        raise InvalidArgumentError(f"{BATCH_SETTING} is empty; {hint} (or leave it unset: no batching)")
    knobs: dict[str, object] = {}
    defaults = BatchOptions()

    def options() -> BatchOptions:
        return _checked(knobs.get("max_batch_size", defaults.max_batch_size),
                        knobs.get("max_latency_ms", defaults.max_latency_ms), knobs.get("max_queue", defaults.max_queue))

    for part in (p.strip() for p in text.split(",")):
        name, sep, raw = part.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name or not raw:
            raise InvalidArgumentError(f"{BATCH_SETTING}: {part!r} is not KNOB=VALUE; {hint}")
        if name not in ("max_batch_size", "max_latency_ms", "max_queue"):
            raise InvalidArgumentError(
                f"{BATCH_SETTING}: {part!r}: unknown knob {name!r}; the knobs are max_batch_size, "
                f"max_latency_ms and max_queue ({hint})")
        if name in knobs:
            raise InvalidArgumentError(f"{BATCH_SETTING}: {name} is given twice; {hint}")
        value: object = raw
        try:
            value = float(raw) if name == "max_latency_ms" else int(raw)
        except ValueError:
            pass  # _checked names it
        knobs[name] = value
        try:
            options()  # the part just read is the one a failure names
        except InvalidArgumentError as err:
            raise InvalidArgumentError(f"{BATCH_SETTING}: {part!r}: {err}; {hint}") from None
    return options()


def batched(max_batch_size: int = 32, max_latency_ms: float = 5.0, max_queue: int = 0) -> Callable[[F], F]:
    """Mark ``run`` as vectorised: concurrent requests reach it together, as a list.

    ``run`` gets a list of what it would get for one request (the body text of each) and
    returns a list of answers, one per input and in the same order; an answer that is an
    ``Exception`` instance fails only its own request (500). When the whole call raises,
    each request of the batch is run again alone, so only the failing ones answer 500.

    Parameters
    ----------
    max_batch_size
        Most requests in one call.
    max_latency_ms
        Longest a request waits for others to join its batch while the worker is idle.
    max_queue
        Most requests waiting (default 8 batches); beyond, 503 with ``Retry-After``.

    Examples
    --------
    >>> @batched(max_batch_size=8, max_latency_ms=2)
    ... def run(raw_batch):
    ...     return [len(raw) for raw in raw_batch]
    >>> run(["ab", "c"]), batch_options(run).max_batch_size
    ([2, 1], 8)
    """
    options = _checked(max_batch_size, max_latency_ms, max_queue)

    def mark(func: F) -> F:
        setattr(func, BATCH_ATTR, options)
        return func

    return mark


def batch_options(func: Any) -> BatchOptions | None:
    """The :class:`BatchOptions` of a ``run`` decorated with :func:`batched`, else ``None``."""
    options = getattr(func, BATCH_ATTR, None)
    return options if isinstance(options, BatchOptions) else None


class Batcher:
    """The queue in front of one batched script, on the worker's event loop.

    ``call`` runs a list of requests through the script (on the script thread, with the
    timeout) and returns one answer per request;
    ``observe(batch_size, waits)`` records a dispatched batch in the metrics;
    ``in_worker()`` (optional) counts the requests the worker holds now, wherever they are
    (being read, queued here, in the running batch): when all it holds are queued, nobody
    else can join, so the batch leaves at once. Without it the queue waits ``max_latency_ms``.
    """

    def __init__(self, options: BatchOptions,
                 call: Callable[[list[ScoringRequest]], Awaitable[list[ScoringResponse]]],
                 observe: Callable[[int, list[float]], None],
                 in_worker: Callable[[], int] | None = None) -> None:
        self.options = options
        self._call = call
        self._observe = observe
        self._in_worker = in_worker
        self._in_batch = 0  # requests of the batch running now (still held by the worker)
        self._waiting: list[tuple[ScoringRequest, asyncio.Future[ScoringResponse], float]] = []
        self._running = False
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Future[None] | None = None  # the batch running now (a reference keeps it alive)
        self._latency_s = options.max_latency_ms / 1000.0

    async def submit(self, request: ScoringRequest) -> ScoringResponse:
        """Queue ``request`` for the next batch and return its own answer."""
        if len(self._waiting) >= self.options.queue_limit:
            return error_response(
                503, OVERLOADED,
                f"The batch queue is full ({self.options.queue_limit} requests wait): retry shortly, or raise "
                "max_queue (@batched(max_queue=...) or MLDEPLOY_BATCH=...,max_queue=N) / add workers.",
                request.request_id, headers={"retry-after": "1"},
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ScoringResponse] = loop.create_future()
        self._waiting.append((request, future, time.perf_counter()))
        if not self._running:
            if len(self._waiting) >= self.options.max_batch_size or self._latency_s == 0 or self._nobody_else():
                self._dispatch()
            elif self._timer is None:
                self._timer = loop.call_later(self._latency_s, self._dispatch)
        return await future

    def _nobody_else(self) -> bool:
        """Whether every request the worker holds is queued here or in the running batch (none can join)."""
        return self._in_worker is not None and self._in_worker() <= len(self._waiting) + self._in_batch

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._running or not self._waiting:
            return
        size = self.options.max_batch_size
        batch, self._waiting = self._waiting[:size], self._waiting[size:]
        self._running = True
        self._in_batch = len(batch)
        self._task = asyncio.ensure_future(self._run(batch))

    async def _run(self, batch: list[tuple[ScoringRequest, asyncio.Future[ScoringResponse], float]]) -> None:
        now = time.perf_counter()
        self._observe(len(batch), [now - queued for _, _, queued in batch])
        try:
            answers = await self._call([request for request, _, _ in batch])
        except BaseException as err:
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(err)
            raise
        finally:
            self._running = False
            self._next()  # (this batch's requests still count as held: their answers are not out yet)
        for index, (_, future, _) in enumerate(batch):
            if future.done():
                continue  # the client went away
            future.set_result(answers[index])

    def _next(self) -> None:
        if not self._waiting:
            self._in_batch = 0
            return
        waited = time.perf_counter() - self._waiting[0][2]
        if len(self._waiting) >= self.options.max_batch_size or waited >= self._latency_s or self._nobody_else():
            self._dispatch()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._latency_s - waited, self._dispatch)
