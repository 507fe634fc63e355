"""The supervisor's half of a code swap: every worker loads the new version, then all switch together.

A swap starts from ``POST /-/reload`` (a deployment's ``update()`` or ``reload()``,
relayed by the worker that got the request) or from ``--reload``'s file watcher.
:class:`SwapCoordinator` then runs two phases over the workers' pipes:

1. **prepare**: each worker loads the entry script as a fresh module and runs its
   ``init()`` on its control thread, while its event loop keeps serving the old
   version (:class:`~.reload.Reloader`);
2. **commit** once every worker's ``init()`` succeeded: each swaps the new script in
   (requests in flight finish on the version they started with; a keep-alive
   connection sees old answers, then new ones, never a mix within one request); or
   **abort** when one failed: every worker keeps the old version and the caller gets
   that worker's error and traceback.

While a swap runs no worker is started (a worker that died is replaced once it is
over, with the settings of the version that won), and a swap waits for workers that
are still starting. One swap runs at a time; the next waits for it.

Messages are one line each: a word, then JSON (``prepared {"swap": 3}``).
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ROUTE", "SWAP_TIMEOUT_S", "Swap", "SwapCoordinator", "decode", "encode"]

#: The route a swap is asked on (with the control key).
ROUTE = "/-/reload"

#: Longest a swap may take (the slowest worker's load + ``init()``), as long as a deployment may wait.
SWAP_TIMEOUT_S = 600.0


def encode(word: str, payload: dict[str, Any] | None = None) -> bytes:
    """One protocol line: ``word`` and, if given, its JSON payload."""
    return (word if payload is None else f"{word} {json.dumps(payload, separators=(',', ':'))}").encode() + b"\n"


def decode(line: bytes) -> tuple[str, dict[str, Any]]:
    """The word and payload of one protocol line (an unreadable payload reads as empty)."""
    word, _, rest = line.decode("utf-8", "replace").partition(" ")
    try:
        payload = json.loads(rest) if rest else {}
    except ValueError:
        payload = {}
    return word, payload if isinstance(payload, dict) else {}


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (a pipe write may be partial)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@dataclass
class Swap:
    """One swap: what it loads, who asked, and how far the workers are."""

    sid: int
    target: dict[str, Any]
    requester: int | None  # the worker whose /-/reload asked (None: the file watcher)
    request_id: str
    started: float
    stage: str = "waiting"  # waiting | prepare | commit
    workers: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    error: dict[str, Any] | None = None
    prepare_s: float = 0.0


class SwapCoordinator:
    """Runs swaps over the supervisor's workers (see the module docstring).

    Parameters
    ----------
    send
        ``send(worker_id, word, payload)``: a line to one worker's control pipe.
    workers
        ``workers()``: ``{worker_id: state}`` of the live workers (``starting``, ``ready``, ...).
    on_done
        ``on_done(swap)`` after a swap ended (``swap.error`` is ``None`` when it committed).
    timeout_s
        Longest a swap may take.
    """

    def __init__(
        self,
        send: Callable[[int, str, dict[str, Any]], None],
        workers: Callable[[], dict[int, str]],
        on_done: Callable[[Swap], None],
        timeout_s: float = SWAP_TIMEOUT_S,
    ) -> None:
        self.send = send
        self.workers = workers
        self.on_done = on_done
        self.timeout_s = timeout_s
        self.queue: deque[Swap] = deque()
        self.current: Swap | None = None
        self._next = 0

    @property
    def busy(self) -> bool:
        """Whether a swap is running or waiting (workers are not started meanwhile)."""
        return self.current is not None or bool(self.queue)

    def request(self, target: dict[str, Any], requester: int | None, request_id: str = "") -> Swap:
        """Queue a swap to ``target`` (``entry_script``, ``source_dir``); it starts at the next :meth:`tick`."""
        self._next += 1
        swap = Swap(self._next, dict(target), requester, request_id, time.monotonic())
        self.queue.append(swap)
        return swap

    def tick(self, now: float) -> None:
        """Start the next swap when the workers are settled; end one that ran out of time."""
        swap = self.current
        if swap is None and self.queue:
            swap = self.current = self.queue.popleft()
            swap.started = now
        if swap is None:
            return
        if swap.stage == "waiting":
            states = self.workers()
            if any(state == "starting" for state in states.values()):
                pass  # let starting workers finish their first init() on the old version
            else:
                swap.workers = {wid for wid, state in states.items() if state in ("ready", "initfailed")}
                swap.stage = "prepare"
                for wid in swap.workers:
                    self.send(wid, "prepare", {"swap": swap.sid, **swap.target})
                self._advance(now)
                return
        if now - swap.started > self.timeout_s:
            swap.error = {
                "message": f"the new version did not finish loading and init() within {self.timeout_s:g}s; "
                           "the previous version keeps serving",
                "traceback": "",
            }
            self._abort(swap, now)

    def on_message(self, wid: int, word: str, payload: dict[str, Any], now: float) -> None:
        """A worker's ``prepared`` / ``preparefailed`` / ``committed`` line."""
        swap = self.current
        if swap is None or payload.get("swap") != swap.sid or wid not in swap.workers:
            return
        if word == "prepared" and swap.stage == "prepare":
            swap.done.add(wid)
            swap.prepare_s = max(swap.prepare_s, float(payload.get("seconds", 0.0)))
        elif word == "preparefailed" and swap.stage == "prepare":
            swap.error = {"message": str(payload.get("message", "init() failed")),
                          "traceback": str(payload.get("traceback", "")), "worker": wid}
            self._abort(swap, now)
            return
        elif word == "committed" and swap.stage == "commit":
            swap.done.add(wid)
        self._advance(now)

    def forget_worker(self, wid: int, now: float) -> None:
        """A worker of the running swap is gone: the swap goes on with the others."""
        swap = self.current
        if swap is not None and wid in swap.workers:
            swap.workers.discard(wid)
            swap.done.discard(wid)
            self._advance(now)

    def _advance(self, now: float) -> None:
        swap = self.current
        if swap is None or swap.stage == "waiting" or not swap.workers <= swap.done:
            return
        if swap.stage == "prepare":
            swap.stage = "commit"
            swap.done = set()
            for wid in swap.workers:
                self.send(wid, "commit", {"swap": swap.sid})
            if swap.workers:
                return
        self._finish(swap)

    def _abort(self, swap: Swap, now: float) -> None:
        for wid in swap.workers:
            self.send(wid, "abort", {"swap": swap.sid, "error": swap.error or {}})
        self._finish(swap)

    def _finish(self, swap: Swap) -> None:
        self.current = None
        self.on_done(swap)

    def cancel_all(self, reason: str) -> list[Swap]:
        """End every waiting or running swap with ``reason`` (the server is stopping)."""
        ended = []
        for swap in ([self.current] if self.current else []) + list(self.queue):
            swap.error = {"message": reason, "traceback": ""}
            ended.append(swap)
        self.current = None
        self.queue.clear()
        for swap in ended:
            self.on_done(swap)
        return ended
