"""Deployment progress: named phases with timings, the output lines of each, and how far along they say it is.

A :class:`DeploymentProgress` is filled by the deployment's worker thread and
read by ``wait_for_deployment(show_output=True)``, the CLI and the notebook
panels. Readers either poll :meth:`DeploymentProgress.events_since` or
subscribe a listener; both are thread-safe.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from ..errors import DeploymentError, MLDeployError

#: The phases of a deployment, in order.
PHASES: tuple[str, ...] = ("resolve", "environment", "build", "start", "init", "ready")

_STEP = re.compile(r"^\s*Step (\d+)/(\d+) ?:")
#: uv's output lines while it makes an environment, and how far along each says it is.
_UV_MARKS: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"^\s*(Using (C?Python|Python)|Creating virtual environment)"), 0.1),
    (re.compile(r"^\s*Resolved \d+ packages?"), 0.4),
    (re.compile(r"^\s*(Prepared|Downloaded|Built) "), 0.7),
    (re.compile(r"^\s*(Installed|Audited|Uninstalled) \d+ packages?"), 0.95),
)


@dataclass
class Phase:
    """One phase: its name, when it started and ended, and how it went."""

    name: str
    started: float
    ended: float | None = None
    ok: bool | None = None
    detail: str = ""

    @property
    def seconds(self) -> float:
        """Elapsed seconds (up to now while the phase runs)."""
        return (self.ended if self.ended is not None else time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        """Return the phase as JSON-ready data (with ``seconds``)."""
        return {**asdict(self), "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class Event:
    """Something that happened: a phase started or ended, or an output line."""

    seq: int
    kind: str  # "phase-start" | "phase-end" | "line"
    phase: str
    text: str
    time: float = field(default_factory=time.time)


Listener = Callable[[Event], None]


class DeploymentProgress:
    """Phases and output of one deployment operation (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._listeners: list[Listener] = []
        self.phases: list[Phase] = []
        self.started = time.time()
        self.finished: float | None = None
        self.error: BaseException | None = None

    # --- writing (the worker thread) ------------------------------------------------------

    @contextmanager
    def phase(self, name: str, detail: str = "") -> Iterator[Phase]:
        """Run a block as phase ``name``; an exception marks it failed and propagates."""
        current = Phase(name, time.time(), detail=detail)
        with self._lock:
            self.phases.append(current)
        self._emit("phase-start", name, detail)
        try:
            yield current
        except BaseException as err:
            current.ended, current.ok = time.time(), False
            current.detail = current.detail or f"{type(err).__name__}: {err}".splitlines()[0]
            self._emit("phase-end", name, f"failed after {current.seconds:.2f}s")
            raise
        current.ended, current.ok = time.time(), True
        self._emit("phase-end", name, f"done in {current.seconds:.2f}s" + (f" ({current.detail})" if current.detail else ""))

    def log(self, line: str) -> None:
        """Record an output line of the current phase (build output, server log)."""
        with self._lock:
            phase = self.phases[-1].name if self.phases else ""
        self._emit("line", phase, line.rstrip("\n"))

    def log_text(self, text: str) -> None:
        """Record each non-blank line of ``text`` (e.g. a chunk of Docker build output)."""
        for line in text.splitlines():
            if line.strip():
                self.log(line)

    def finish(self, error: BaseException | None = None) -> None:
        """Mark the operation finished (with the error that ended it, if any)."""
        self.error = error
        self.finished = time.time()
        self._emit("finished", "", "failed" if error else "succeeded")

    # --- reading --------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether the operation has finished."""
        return self.finished is not None

    def events_since(self, seq: int = 0) -> list[Event]:
        """Events with ``seq >= seq`` (pass the last seen ``seq + 1`` to get only new ones)."""
        with self._lock:
            return self._events[seq:]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every future event; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def summary(self) -> str:
        """One line per phase with its timing, e.g. ``resolve 0.02s, environment 0.41s (reused)``."""
        with self._lock:
            phases = list(self.phases)
        return ", ".join(
            f"{p.name} {p.seconds:.2f}s" + ("" if p.ok is not False else " FAILED") for p in phases
        )

    def _emit(self, kind: str, phase: str, text: str) -> None:
        with self._lock:
            event = Event(len(self._events), kind, phase, text)
            self._events.append(event)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)  # listeners must not raise; a panel catches its own errors


def follow(
    thread: threading.Thread, progress: DeploymentProgress, *, show_output: bool, timeout_sec: float, what: str
) -> bool:
    """Wait for an operation's ``thread``, printing its events with ``show_output``; return whether it ended.

    Then, if the operation failed, raise its error: an :class:`~jupyter_mldeploy.errors.MLDeployError`
    as it is (its own type says what went wrong), anything else as a ``DeploymentError``
    saying ``f"{what} failed: ..."``.
    """
    printer = Printer(sys.stdout) if show_output else None
    deadline = time.monotonic() + timeout_sec
    seen = 0

    def show() -> None:
        nonlocal seen
        if printer is not None:
            for event in progress.events_since(seen):
                printer(event)
                seen = event.seq + 1

    while thread.is_alive() and time.monotonic() < deadline:
        thread.join(timeout=0.1)
        show()
    show()
    if thread.is_alive():
        return False
    error = progress.error
    if isinstance(error, MLDeployError):
        raise error
    if error is not None:
        raise DeploymentError(f"{what} failed: {error}") from error
    return True


class Printer:
    """Prints deployment events for ``wait_for_deployment(show_output=True)``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        if event.kind == "phase-start":
            self.stream.write(f"[{event.phase}] ...\n")
        elif event.kind == "phase-end":
            self.stream.write(f"[{event.phase}] {event.text}\n")
        elif event.kind == "line":
            self.stream.write(f"    {event.text}\n")
        self.stream.flush()


# --- how far along the output says a phase is (the panels' progress bar, the CLI) ------------


def line_fraction(phase: str, line: str) -> float | None:
    """How far into ``phase`` an output line says the work is (``None``: this line does not say).

    Examples
    --------
    >>> line_fraction("build", "Step 3/12 : COPY src/ /var/azureml-app/src/")
    0.25
    >>> line_fraction("environment", "Resolved 7 packages in 12ms")
    0.4
    """
    if phase == "build":
        step = _STEP.match(line)
        if step:
            done, total = int(step.group(1)), int(step.group(2))
            return min(done / total, 1.0) if total else None
        return None
    if phase == "environment":
        for pattern, fraction in _UV_MARKS:
            if pattern.match(line):
                return fraction
    return None


def overall_fraction(phase: str, within: float) -> float:
    """The bar's value: phases done out of ``PHASES`` plus the fraction of the running one."""
    if phase not in PHASES:
        return 0.0
    return min((PHASES.index(phase) + max(0.0, min(within, 1.0))) / len(PHASES), 1.0)
