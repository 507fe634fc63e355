"""One worker process: import the script, run ``init()`` once, then serve the shared socket with uvicorn.

The supervisor starts each worker as ``python -m jupyter_mldeploy.scoring.workers``
with the listening socket and one end of a pipe inherited. The worker writes
one-word lines to the pipe: ``ready`` or ``initfailed`` once ``init()`` is
done (it accepts connections only from then on, so a request never lands on
a worker still loading its model), ``beat`` every second from the event loop
(a worker whose loop is frozen gets killed), and ``hung`` when a ``run()``
overran its timeout (the supervisor then starts a replacement and, once that
one is ready, stops this one with SIGTERM; the stuck thread dies with the
process, in-flight requests finish first). Code swaps use a second pipe, from
the supervisor: the worker's :class:`~.control.WorkerControl` thread loads
the new version there and reports on the first pipe (see :mod:`.swap`).

A failed load or ``init()`` does not end the process: ``/`` stays healthy,
``/ready`` and ``/score`` answer 503 ``InitFailed`` with the traceback, and
the log has the full traceback and a listing of the model folder, so a
deployment can show the cause at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any

from ..errors import MLDeployError
from . import monitoring
from .app import create_app
from .azmlinfsrv import script_environment
from .control import WorkerControl
from .lifecycle import freeze_heap, load_and_init, model_folder_listing
from .logs import LogWriter, ServerLog, install
from .metrics import READY, WorkerMetrics
from .reload import Reloader, SwapTarget
from .settings import ServeSettings
from .signals import with_signals
from .state import ScriptState
from .swap import encode, write_all

HEARTBEAT_S = 1.0
KEEP_ALIVE_S = 65


class _Pipe:
    """The worker's end of its pipe to the supervisor (writes never raise; lines never interleave)."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.broken = False
        self._lock = threading.Lock()

    def send(self, word: str, payload: dict[str, Any] | None = None) -> None:
        if self.fd is None or self.broken:
            return
        try:
            with self._lock:  # the event loop (beats) and the control thread (swaps) both write
                write_all(self.fd, encode(word, payload))
        except OSError:
            self.broken = True  # supervisor gone


def _make_server(app: Any, settings: ServeSettings) -> Any:
    import uvicorn

    from .protocol import CoalescingHttpToolsProtocol, Limits

    CoalescingHttpToolsProtocol.limits = Limits(
        max_header_bytes=int(settings.max_header_kb * 1024),
        max_headers=settings.max_headers,
        read_timeout_s=settings.read_timeout_s,
    )

    class WorkerServer(uvicorn.Server):
        """uvicorn's server without its signal capture (the worker installs its own handlers)."""

        def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
            return contextlib.nullcontext()

    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - Windows
        loop = "asyncio"
    config = uvicorn.Config(
        app,
        http=CoalescingHttpToolsProtocol,
        ws="none",
        loop=loop,
        lifespan="off",
        access_log=False,
        log_config=None,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=settings.max_connections,
        timeout_graceful_shutdown=max(5, int(settings.timeout_s) + 5),
        server_header=False,
        date_header=False,
        backlog=2048,
    )
    return WorkerServer(config)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - Windows
        return asyncio.new_event_loop()


def run_worker(
    settings: ServeSettings,
    sock: socket.socket,
    pipe_fd: int | None = None,
    worker_id: str = "1",
    metrics_folder: str | None = None,
    control_fd: int | None = None,
    health_sock: socket.socket | None = None,
) -> int:
    """Load the script, serve ``sock`` (and the probes on ``health_sock``) until told to stop; return the exit code."""
    writer = LogWriter(1)
    install(writer)
    log = ServerLog(writer, prefix=f"worker {worker_id}: ")
    pipe = _Pipe(pipe_fd)
    # the variables azmlinfsrv sets for scripts; the model folder as given (a relative one as well)
    os.environ.update(script_environment(str(settings.script_path), settings.model_dir, os.environ))
    # ModelDataCollector / Run.log of scripts written for Azure (scoring/monitoring.py)
    monitoring.configure(settings.data_path, int(settings.capture_max_kb * 1024),
                         int(settings.capture_rotate_mb * 1024 * 1024), writer.line)
    metrics = WorkerMetrics(metrics_folder, f"worker-{worker_id}-{os.getpid()}.bin")
    state = ScriptState()
    if settings.debugpy:
        from .debugging import listen

        listen(settings.debugpy, wait=settings.debugpy_wait, log=log)
    started = time.perf_counter()
    try:
        state.serve(load_and_init(settings))
    except Exception as err:  # noqa: BLE001 - any failure: serve 503 with the traceback instead
        text = getattr(err, "traceback_text", "") or traceback.format_exc()
        message = str(err) if isinstance(err, MLDeployError) else f"{type(err).__name__}: {err}"
        state.fail(message, text)
        log.error(
            f"the entry script {settings.script_path} failed to load or init(): {err}\n{text}\n"
            f"{model_folder_listing(os.environ.get('AZUREML_MODEL_DIR'))}\n"
            "/ready and /score answer 503 with this traceback until the script is fixed"
            + (" (saving it reloads)" if settings.reload else " and the server restarted" if settings.stay_up
               else "")
            + (" and swapped in (saving it does, with --reload)" if settings.reload else
               " and swapped in (service.reload()) or the server restarted")
        )
        writer.flush()  # the traceback is out before the supervisor (maybe) exits on it
        pipe.send("initfailed")
    else:
        freeze_heap()
        metrics.set(READY, 1)
        log.info(f"ready in {time.perf_counter() - started:.2f}s (pid {os.getpid()})")
        pipe.send("ready")

    def on_hang() -> None:
        pipe.send("hung")

    def load(target: SwapTarget) -> Any:
        model_dir = target.model_dir or settings.model_dir
        before = _set_env(dict.fromkeys(_MODEL_DIR_NAMES, model_dir)) if model_dir else {}  # read by init()
        try:
            entry = load_and_init(dataclasses.replace(settings, entry_script=target.entry_script,
                                                      source_dir=target.source_dir, model_dir=model_dir,
                                                      site_dirs=target.site_dirs))
        except BaseException:
            _set_env(before)
            raise
        metrics.set(READY, 1)
        return entry

    def on_commit(target: SwapTarget) -> None:
        _take_target(settings, target)

    control = WorkerControl(
        control_fd, Reloader(state, load, log, metrics), pipe.send,
        lambda: SwapTarget(settings.entry_script, settings.source_dir, settings.model_dir, settings.site_dirs),
        on_commit,
    )
    app = create_app(
        state, settings, metrics=metrics, metrics_folder=metrics_folder, writer=writer,
        on_hang=on_hang, worker_label=worker_id, control=control,
    )
    # a debug run keeps run() off the event loop: a request paused at a breakpoint pauses only itself
    if not settings.debugpy and os.environ.get("MLDEPLOY_INLINE_RUN", "auto").lower() not in ("0", "false", "no", "off"):
        app.runner.enable_inline()
    control.start()

    served, close_signals = with_signals(app, settings)  # tracing, capture: nothing when off
    server = _make_server(served, settings)
    tasks = server.server_state.tasks
    app.backlog = tasks.__len__  # requests parsed and waiting in this worker
    servers = [(server, sock)]
    if health_sock is not None:  # its own server on the same loop: the scoring port pays nothing for it
        from .health_port import HealthApp

        servers.append((_make_server(HealthApp(app, sock.getsockname()[1]), settings), health_sock))

    def stop(*_: object) -> None:
        for each, _sock in servers:
            if each.should_exit:
                each.force_exit = True
            each.should_exit = True

    def drain_then_stop(*_: object) -> None:
        """SIGTERM with ``drain_s``: keep serving (every answer closes its connection), then stop."""
        if app.draining or not settings.drain_s:
            stop()
            return
        app.draining = True
        log.info(f"stopping in {settings.drain_s:g}s: answers close their connections meanwhile")
        asyncio.get_running_loop().call_later(settings.drain_s, stop)

    async def heartbeat() -> None:
        while not server.should_exit:
            pipe.send("beat")
            if pipe.broken and pipe_fd is not None:
                log.warning("the supervisor is gone: stopping")
                stop()
            await asyncio.sleep(HEARTBEAT_S)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, drain_then_stop)
        loop.add_signal_handler(signal.SIGINT, stop)
        beat = asyncio.ensure_future(heartbeat())
        try:
            await asyncio.gather(*(each.serve(sockets=[listening]) for each, listening in servers))
        finally:
            beat.cancel()

    loop = _new_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve())
    finally:
        app.runner.close()
        close_signals()
        monitoring.close()
        metrics.set(READY, 0)
        metrics.close()
        writer.close()
    return 0


def _take_target(settings: ServeSettings, target: SwapTarget) -> None:
    """After a swap: the worker's settings, ``sys.path`` and script-visible environment follow the new version."""
    old_source = settings.source_dir or str(settings.script_path.parent)
    settings.entry_script, settings.source_dir = target.entry_script, target.source_dir
    settings.model_dir = target.model_dir or settings.model_dir
    settings.site_dirs = target.site_dirs
    new_source = settings.source_dir or str(settings.script_path.parent)
    if new_source != old_source and old_source in sys.path:
        sys.path.remove(old_source)
    for name, value in settings.to_env().items():
        if name.endswith(("ENTRY_SCRIPT", "SOURCE_DIR", "SOURCE_DIRECTORY", "MODEL_DIR")):
            os.environ[name] = value


_MODEL_DIR_NAMES = ("MLDEPLOY_MODEL_DIR", "AZUREML_MODEL_DIR")


def _set_env(values: dict[str, str | None]) -> dict[str, str | None]:
    """Set (or, for ``None``, unset) environment variables; return what they were."""
    was = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return was


def main() -> None:
    """Worker process entry point (started by the supervisor; not for direct use)."""
    with os.fdopen(int(os.environ.pop("MLDEPLOY_SETTINGS_FD")), "rb") as handle:  # once, then closed
        settings = ServeSettings.from_json(handle.read().decode())
    sock = socket.socket(fileno=int(os.environ["MLDEPLOY_WORKER_FD"]))
    pipe_fd = int(os.environ["MLDEPLOY_WORKER_PIPE"])
    control_fd = os.environ.get("MLDEPLOY_CONTROL_FD")
    health_fd = os.environ.get("MLDEPLOY_HEALTH_FD")
    code = run_worker(
        settings, sock, pipe_fd, os.environ.get("MLDEPLOY_WORKER_ID", "1"), os.environ.get("MLDEPLOY_METRICS_DIR"),
        int(control_fd) if control_fd else None, socket.socket(fileno=int(health_fd)) if health_fd else None,
    )
    sys.stdout.flush()
    # os._exit: a run() thread stuck in the script must not keep the process alive
    os._exit(code)


if __name__ == "__main__":
    main()
