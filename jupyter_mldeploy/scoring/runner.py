"""Run the script's blocking calls one at a time per worker, in arrival order, with a timeout.

Scripts written for azmlinfsrv (gunicorn sync workers) assume one ``run()``
at a time per process, so each worker runs the script on exactly one thread,
in arrival order: nothing overtakes, which keeps the tail latency under load
close to the average (no starvation). A watchdog timer on the event loop
checks the call in progress; one running longer than the timeout is given up:
its caller gets :class:`RunTimeout` (the server answers 504), the stuck thread
is abandoned, a fresh thread carries on with the queue, and ``on_hang`` tells
the worker to get itself replaced (only a process exit can kill a thread).

Fast scripts skip the thread: handing a call to a thread and back costs two
thread wake-ups and a GIL hand-over (measured: about 100 us of CPU per request
on a 2-core VM, a third of a small model's whole request). So while the calls
are quick (moving average under ``INLINE_MAX_S``) and nothing is queued, a
call runs right on the event-loop thread, guarded by a ``SIGALRM`` interval
timer that raises :class:`RunTimeout` inside it when it overruns (only on
the main thread, where signals are delivered). A script whose calls are slow
moves to the thread, so health probes keep answering while ``run()`` works.
Under a crowd of waiting requests (the app sets ``crowded``) calls also go
through the thread's FIFO queue: the event loop then keeps reading requests
while the script runs and answers strictly in arrival order, which measured
a lower p99 at 64 connections than running inline. A batch (``@batched``,
``MLDEPLOY_BATCH``) is the crowd served at once, so a quick batch runs inline
even then (``crowd_inline``): no thread hand-over and no GIL ping-pong with the
event loop per batch (batched req/s at 64 connections on the benchmark's
Ridge: faster in 7 of 8 interleaved A/B pairs, median 1.4x).
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

#: calls averaging less than this run inline on the event-loop thread
INLINE_MAX_S = 0.002


class RunTimeout(BaseException):
    """A call ran longer than the timeout (internal: the app turns it into a 504).

    A ``BaseException`` so that the script's own ``except Exception`` (and the
    entry-script layer's) does not turn it into an ordinary 500.
    """


class _Job:
    __slots__ = ("args", "ctx", "fn", "future", "started")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.args = args
        self.future = future
        self.ctx = contextvars.copy_context()
        self.started = 0.0


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return  # timed out or cancelled meanwhile
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class Runner:
    """Run blocking callables one at a time on one thread, in submission order.

    Parameters
    ----------
    timeout_s
        Longest a call may run before its caller gets :class:`RunTimeout`.
    on_hang
        Called (on the event loop) the first time a call overruns.

    Examples
    --------
    >>> async def main():
    ...     runner = Runner(timeout_s=5)
    ...     try:
    ...         return await runner.call(sum, [1, 2, 3])
    ...     finally:
    ...         runner.close()
    >>> asyncio.run(main())
    6
    """

    def __init__(self, timeout_s: float, on_hang: Callable[[], None] | None = None) -> None:
        self.timeout_s = timeout_s
        self.on_hang = on_hang
        self.hangs = 0
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._generation = 0
        self._running: _Job | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._interval = min(max(timeout_s / 10.0, 0.005), 0.25)
        self._pending = 0
        self._inline = False
        #: set by the app while many requests wait: then calls queue on the thread (see module doc)
        self.crowded = False
        self._armed = False
        self.ewma_s = 0.0
        self._start_thread()

    def enable_inline(self) -> bool:
        """Allow quick calls on the event-loop thread (main thread only); returns whether it is on."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            return False

        def on_alarm(signum: int, frame: object) -> None:
            if self._armed:
                self._armed = False
                raise RunTimeout(f"run() took longer than {self.timeout_s:g} s")

        signal.signal(signal.SIGALRM, on_alarm)
        self._inline = True
        return True

    def _start_thread(self) -> None:
        self._generation += 1
        thread = threading.Thread(
            target=self._work, args=(self._generation,), name=f"mldeploy-run-{self._generation}", daemon=True
        )
        thread.start()

    def _work(self, generation: int) -> None:
        get = self._queue.get
        while generation == self._generation:
            job = get()
            if job is None:
                return
            if generation != self._generation:  # abandoned while waiting: hand the job on
                self._queue.put(job)
                return
            job.started = time.monotonic()
            self._running = job
            try:
                value = job.ctx.run(job.fn, *job.args)
                ok = True
            except BaseException as err:  # noqa: BLE001 - handed to the awaiting coroutine
                value, ok = err, False
            if self._running is job:
                self._running = None
            loop = job.future.get_loop()
            try:
                loop.call_soon_threadsafe(_resolve, job.future, ok, value)
            except RuntimeError:
                return  # loop closed: the worker is exiting

    async def call(self, fn: Callable[..., Any], *args: Any, crowd_inline: bool = False) -> Any:
        """Run ``fn(*args)`` on the runner thread (in the caller's context) and return its result.

        A quick call runs inline on the event loop instead (see the module docstring); with
        ``crowd_inline`` (a batch) also while the app says the worker is crowded.
        """
        if (self._inline and self._pending == 0 and self.ewma_s < INLINE_MAX_S
                and (crowd_inline or not self.crowded)):
            return self._call_inline(fn, args)
        loop = asyncio.get_running_loop()
        if self._watchdog is None:
            self._loop = loop
            self._watchdog = loop.call_later(self._interval, self._check)
        future: asyncio.Future[Any] = loop.create_future()
        job = _Job(fn, args, future)
        self._pending += 1
        self._queue.put(job)
        try:
            return await future
        finally:
            self._pending -= 1
            if job.started:
                self.ewma_s = 0.8 * self.ewma_s + 0.2 * (time.monotonic() - job.started)

    def _call_inline(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        # hide the server's loop so a script may call asyncio.run() as it could under azmlinfsrv
        asyncio._set_running_loop(None)
        self._armed = True
        signal.setitimer(signal.ITIMER_REAL, self.timeout_s)
        try:
            return fn(*args)
        except RunTimeout:
            self.hangs += 1
            if self.on_hang is not None:
                self.on_hang()
            raise
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._armed = False
            asyncio._set_running_loop(loop)
            self.ewma_s = 0.8 * self.ewma_s + 0.2 * (time.perf_counter() - started)

    def _check(self) -> None:
        job = self._running
        if job is not None and not job.future.done() and time.monotonic() - job.started > self.timeout_s:
            self.hangs += 1
            self._running = None
            self._start_thread()  # the stuck thread is abandoned; a fresh one takes the queue
            job.future.set_exception(RunTimeout(f"run() took longer than {self.timeout_s:g} s"))
            if self.on_hang is not None:
                self.on_hang()
        if self._loop is not None and not self._loop.is_closed():
            self._watchdog = self._loop.call_later(self._interval, self._check)

    def close(self) -> None:
        """Stop the thread after the queued calls (an abandoned, stuck thread dies with the process)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._queue.put(None)
