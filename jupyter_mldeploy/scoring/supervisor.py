"""The supervisor: owns the listening socket and keeps N worker processes serving it.

It imports nothing heavy (no uvicorn, no script) and does only process work:

- binds the socket once (or takes one handed over with ``--fd``) and starts
  ``workers`` children that inherit it (the kernel spreads connections);
- restarts a worker that dies (crash, ``kill -9``, OOM), with a growing delay
  if it keeps dying before it gets ready;
- replaces a *hung* worker (a ``run()`` over the timeout): it starts the
  replacement first and stops the hung one (SIGTERM, then SIGKILL after a
  grace period) once the replacement is ready, so serving never stops and no
  stuck thread outlives its process;
- kills a worker whose event loop stopped sending heartbeats (not in debug runs:
  a worker paused at a breakpoint sends none);
- runs code swaps over all workers (:mod:`.swap`), asked by a worker's
  ``POST /-/reload`` or by ``--reload``'s file watcher (:mod:`.watch`);
- on SIGTERM/SIGINT stops the workers gracefully and exits 0.
"""

from __future__ import annotations

import errno
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PortInUseError, ScoringServerError
from .keys import take_keys
from .logs import LogWriter, ServerLog
from .metrics import zero_in_flight
from .settings import ServeSettings
from .swap import Swap, SwapCoordinator, decode, encode, write_all
from .watch import Watcher

STOP_GRACE_S = 10.0


def bind_socket(host: str, port: int, backlog: int = 2048, flag: str = "--port") -> socket.socket:
    """Bind and listen on ``host:port`` (port 0: a free port), raising :class:`PortInUseError` if taken.

    ``flag`` is the option that chose the port, named in the errors.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=backlog)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"port {port} on {host} is already in use; stop what listens there, pick another "
                f"{flag}, or pass {flag} 0 for a free one"
            ) from err
        raise ScoringServerError(f"cannot listen on {host}:{port} ({err}); check --host and {flag}") from err
    sock.set_inheritable(True)
    return sock


@dataclass
class Worker:
    """The supervisor's record of one worker process."""

    wid: int
    proc: subprocess.Popen[bytes]
    pipe: int
    started: float
    control: int = -1  # the supervisor's end of the worker's control pipe
    state: str = "starting"  # starting | ready | initfailed | hung | stopping
    last_beat: float = field(default_factory=time.monotonic)
    stop_deadline: float | None = None
    replaced_by: int | None = None
    buffer: bytes = b""

    @property
    def metrics_name(self) -> str:
        return f"worker-{self.wid}-{self.proc.pid}.bin"


class Supervisor:
    """Run the scoring server: bind, start workers, watch them, stop cleanly.

    Parameters
    ----------
    settings
        Server settings; ``settings.fd`` hands over an already listening socket.

    Examples
    --------
    >>> Supervisor(ServeSettings(entry_script="score.py", port=0)).run()   # doctest: +SKIP
    """

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.writer = LogWriter(1)
        self.log = ServerLog(self.writer)
        self.workers: dict[int, Worker] = {}
        self._next_id = 0
        self._stopping = False
        self._exit_code = 0
        self._fast_deaths = 0
        self._restart_at = 0.0
        self._missing = 0
        self.metrics_dir = ""
        self.sock: socket.socket | None = None
        #: the probes-only listener (``health_port``), if asked for
        self.health_sock: socket.socket | None = None
        self.swaps = SwapCoordinator(self._send, lambda: {w.wid: w.state for w in self.workers.values()},
                                     self._swapped)
        self._watched: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        self._wake_w = -1
        self._rebase = False  # a swap moved the script: the watcher follows

    # --- lifecycle --------------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; return the exit code."""
        s = self.settings
        if s.fd is not None:
            self.sock = socket.socket(fileno=s.fd)
            self.sock.set_inheritable(True)
        else:
            self.sock = bind_socket(s.host, s.port)
        host, port = self.sock.getsockname()[:2]
        if s.health_port is not None:
            try:
                self.health_sock = bind_socket(s.host, s.health_port, flag="--health-port")
            except Exception:
                self.sock.close()
                raise
        self.metrics_dir = tempfile.mkdtemp(prefix="mldeploy-metrics-")
        shown = f"[{host}]" if ":" in host else host
        self.log.info(
            f"scoring server for {s.script_path} listening on http://{shown}:{port} "
            f"(score: http://{shown}:{port}/score, swagger: http://{shown}:{port}/swagger.json, "
            f"workers: {s.workers}, pid {os.getpid()})"
        )
        if self.health_sock is not None:
            health = self.health_sock.getsockname()[1]
            self.log.info(f"Health Port: {health} (only the probes: liveness GET http://{shown}:{health}/, "
                          f"readiness GET http://{shown}:{health}/ready)")
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        self._wake_w = wake_w
        watcher = Watcher(self._watch_paths(), self._on_watch) if s.reload else None
        handlers = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        handlers[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, lambda *_: None)
        try:
            for _ in range(s.workers):
                self._spawn()
            if watcher is not None:
                watcher.start()
            while not self._stopping:
                self._tick(wake_r)
                if watcher is not None:
                    self._watch_tick(watcher)
            self.swaps.cancel_all("the server is stopping; the previous version was serving until then")
            self._shutdown()
        finally:
            if watcher is not None:
                watcher.stop()
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            os.close(wake_r)
            os.close(wake_w)
            self.sock.close()
            if self.health_sock is not None:
                self.health_sock.close()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            self.log.info("scoring server stopped")
            self.writer.close()
        return self._exit_code

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping = True

    # --- workers ----------------------------------------------------------------------

    def _spawn(self) -> Worker:
        assert self.sock is not None
        self._next_id += 1
        wid = self._next_id
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        # the settings (with the keys) go through a pipe the worker reads once: never through
        # its environment, which the entry script (and /proc/PID/environ) could read
        settings_r, settings_w = os.pipe()
        control_r, control_w = os.pipe()
        env = dict(os.environ)
        env.update(
            MLDEPLOY_SETTINGS_FD=str(settings_r),
            MLDEPLOY_WORKER_FD=str(self.sock.fileno()),
            MLDEPLOY_WORKER_PIPE=str(write_fd),
            MLDEPLOY_CONTROL_FD=str(control_r),
            MLDEPLOY_WORKER_ID=str(wid),
            MLDEPLOY_METRICS_DIR=self.metrics_dir,
            PYTHONUNBUFFERED="1",
        )
        fds = [self.sock.fileno(), write_fd, settings_r, control_r]
        if self.health_sock is not None:
            env["MLDEPLOY_HEALTH_FD"] = str(self.health_sock.fileno())
            fds.append(self.health_sock.fileno())
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_mldeploy.scoring.workers"],
                pass_fds=tuple(fds),
                env=env,
                stdin=subprocess.DEVNULL,
            )
            with os.fdopen(settings_w, "wb") as handle:
                handle.write(self.settings.to_json().encode())
        finally:
            os.close(settings_r)
            os.close(control_r)
        os.close(write_fd)
        worker = Worker(wid=wid, proc=proc, pipe=read_fd, started=time.monotonic(), control=control_w)
        self.workers[wid] = worker
        self.log.info(f"worker {wid} starting (pid {proc.pid})")
        return worker

    def _tick(self, wake_r: int) -> None:
        fds = [w.pipe for w in self.workers.values()] + [wake_r]
        try:
            readable, _, _ = select.select(fds, [], [], 0.25)
        except InterruptedError:  # pragma: no cover - PEP 475 retries select
            readable = []
        if wake_r in readable:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        now = time.monotonic()
        for worker in list(self.workers.values()):
            if worker.pipe in readable:
                self._read(worker, now)
        self._reap(now)
        self._check(now)

    def _read(self, worker: Worker, now: float) -> None:
        try:
            data = os.read(worker.pipe, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            return
        worker.buffer += data
        *lines, worker.buffer = worker.buffer.split(b"\n")
        for line in lines:
            worker.last_beat = now
            word, payload = decode(line)
            if word == "ready" or word == "initfailed":
                if worker.state == "starting":
                    worker.state = word
                    self._fast_deaths = 0
                    self._retire_replaced(worker, now)
                if word == "initfailed" and not (self.settings.stay_up or self.settings.reload):
                    self.log.error(
                        "the entry script failed to load or init() (traceback above): exiting with code 1, as "
                        "azmlinfsrv does; fix the script and start again, or pass --stay-up (MLDEPLOY_STAY_UP=1) "
                        "to keep serving 503 with the traceback"
                    )
                    self._exit_code = 1
                    self._stopping = True
            elif word == "hung" and worker.state in ("ready", "initfailed"):
                worker.state = "hung"
                self.log.warning(
                    f"worker {worker.wid} has a run() stuck past --timeout-ms: starting a replacement, "
                    "then stopping it"
                )
                if self.swaps.busy:  # started once the swap is over, on the version that won
                    self._missing += 1
                    worker.replaced_by = 0
                else:
                    worker.replaced_by = self._spawn().wid
            elif word == "swap":
                self.swaps.request({"entry_script": payload.get("entry_script") or self.settings.entry_script,
                                    "source_dir": payload.get("source_dir") or self.settings.source_dir,
                                    "model_dir": payload.get("model_dir") or self.settings.model_dir,
                                    "site_dirs": payload.get("site_dirs") or list(self.settings.site_dirs),
                                    "why": "asked by POST /-/reload"},
                                   worker.wid, str(payload.get("req", "")))
                self.swaps.tick(now)
            elif word in ("prepared", "preparefailed", "committed"):
                self.swaps.on_message(worker.wid, word, payload, now)

    def _retire_replaced(self, fresh: Worker, now: float) -> None:
        """Stop hung workers once enough healthy workers serve (their replacements are up)."""
        serving = sum(1 for w in self.workers.values() if w.state in ("ready", "initfailed"))
        for old in list(self.workers.values()):
            if old.state == "hung" and old.stop_deadline is None and serving >= self.settings.workers:
                self._stop_worker(old, now)

    def _stop_worker(self, worker: Worker, now: float, grace: float | None = None) -> None:
        if grace is None:
            grace = self.settings.timeout_s + STOP_GRACE_S
        worker.state = "stopping"
        worker.stop_deadline = now + grace
        try:
            worker.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass

    def _reap(self, now: float) -> None:
        for wid, worker in list(self.workers.items()):
            code = worker.proc.poll()
            if code is None:
                continue
            del self.workers[wid]
            self._close(worker)
            self.swaps.forget_worker(wid, now)
            zero_in_flight(Path(self.metrics_dir) / worker.metrics_name)
            if worker.state == "stopping" or self._stopping:
                self.log.info(f"worker {wid} stopped (exit {code})")
                continue
            self.log.error(f"worker {wid} (pid {worker.proc.pid}) died with exit code {code}: starting another")
            if worker.state == "starting":
                self._fast_deaths += 1
                delay = min(0.25 * 2 ** min(self._fast_deaths, 6), 10.0)
                self._restart_at = max(self._restart_at, now + delay)
            self._missing += 1
            if worker.replaced_by is not None:
                self._missing -= 1  # its replacement is already on the way
        self.swaps.tick(now)
        if self._missing and now >= self._restart_at and not self._stopping and not self.swaps.busy:
            for _ in range(self._missing):
                self._spawn()
            self._missing = 0

    def _check(self, now: float) -> None:
        heartbeat_limit = max(10.0, 2 * self.settings.timeout_s + 5.0)
        for worker in self.workers.values():
            if worker.stop_deadline is not None and now > worker.stop_deadline:
                self.log.warning(f"worker {worker.wid} did not stop in time: killing it")
                worker.proc.kill()
                worker.stop_deadline = now + 5
            elif (worker.state in ("ready", "initfailed") and now - worker.last_beat > heartbeat_limit
                  and not self.settings.debugpy):  # paused at a breakpoint, not stuck
                self.log.error(f"worker {worker.wid} stopped answering (no heartbeat for "
                               f"{now - worker.last_beat:.0f}s): killing it")
                worker.proc.kill()

    def _shutdown(self) -> None:
        now = time.monotonic()
        self.log.info("stopping workers")
        grace = float(self.settings.drain_s) + STOP_GRACE_S  # workers drain first (drain_s), then stop
        for worker in self.workers.values():
            if worker.stop_deadline is None:
                self._stop_worker(worker, now, grace=grace)
        deadline = now + grace + 1
        while self.workers and time.monotonic() < deadline:
            for wid, worker in list(self.workers.items()):
                if worker.proc.poll() is not None:
                    del self.workers[wid]
                    self._close(worker)
            time.sleep(0.02)
        for worker in self.workers.values():
            worker.proc.kill()
            worker.proc.wait()
            self._close(worker)
        self.workers.clear()

    @staticmethod
    def _close(worker: Worker) -> None:
        os.close(worker.pipe)
        if worker.control >= 0:
            os.close(worker.control)
            worker.control = -1

    # --- swaps ------------------------------------------------------------------------

    def _send(self, wid: int, word: str, payload: dict[str, object]) -> None:
        """A line to a worker's control pipe (a worker that is gone is left out by the swap)."""
        worker = self.workers.get(wid)
        if worker is None or worker.control < 0:
            return
        try:
            write_all(worker.control, encode(word, payload))
        except OSError:
            pass  # it died meanwhile: _reap tells the swap

    def _swapped(self, swap: Swap) -> None:
        """A swap ended: on success the supervisor's settings follow, so replacements start the new version."""
        seconds = time.monotonic() - swap.started
        if swap.error is None:
            old_paths = self._watch_paths()
            self.settings.entry_script = str(swap.target.get("entry_script") or self.settings.entry_script)
            self.settings.source_dir = swap.target.get("source_dir") or None
            self.settings.model_dir = swap.target.get("model_dir") or self.settings.model_dir
            self.settings.site_dirs = tuple(swap.target.get("site_dirs") or self.settings.site_dirs)
            if self.settings.model_dir:  # replacement workers inherit it: their init() reads it
                os.environ["AZUREML_MODEL_DIR"] = os.environ["MLDEPLOY_MODEL_DIR"] = self.settings.model_dir
            for name, value in self.settings.to_env().items():
                if name.endswith(("ENTRY_SCRIPT", "SOURCE_DIR", "SOURCE_DIRECTORY")):
                    os.environ[name] = value
            for wid in swap.workers:
                if wid in self.workers and self.workers[wid].state == "initfailed":
                    self.workers[wid].state = "ready"
            self._rebase = old_paths != self._watch_paths()
            self.log.info(f"swap {swap.sid}: every worker ({len(swap.workers)}) serves the new version of "
                          f"{Path(self.settings.entry_script).name} ({seconds:.2f}s, slowest init {swap.prepare_s:.2f}s)")
        else:
            self.log.error(f"swap {swap.sid} failed, every worker keeps the previous version: "
                           f"{swap.error.get('message')}")
        if swap.requester is not None:
            self._send(swap.requester, "result", {
                "req": swap.request_id, "ok": swap.error is None, "error": swap.error,
                "workers": len(swap.workers), "seconds": round(seconds, 3),
            })

    def _watch_paths(self) -> list[Path]:
        s = self.settings
        return [s.script_path, Path(s.source_dir or s.script_path.parent).resolve()]

    def _on_watch(self, changed: list[str]) -> None:
        """The watcher's thread: hand the change to the loop (and wake it)."""
        self._watched.put(changed)
        try:
            os.write(self._wake_w, b"w")
        except OSError:
            pass

    def _watch_tick(self, watcher: Watcher) -> None:
        if self._rebase:
            watcher.rebase(self._watch_paths())
            self._rebase = False
        while not self._watched.empty():
            changed = self._watched.get()
            names = ", ".join(os.path.basename(c) for c in changed[:5]) or "a file"
            self.swaps.request({"entry_script": self.settings.entry_script, "source_dir": self.settings.source_dir,
                                "why": f"{names} changed"}, None)
        self.swaps.tick(time.monotonic())


def serve(settings: ServeSettings) -> int:
    """Run the scoring server in this process until stopped; return the exit code.

    The auth keys are taken first (:func:`~jupyter_mldeploy.scoring.keys.take_keys`): out
    of their file and out of the environment, before a worker starts.
    """
    if settings.tracing:
        from .tracing import check_available

        check_available()  # a missing [otel] extra stops the server here, with the fix, before any worker
    return Supervisor(take_keys(settings, os.environ)).run()
