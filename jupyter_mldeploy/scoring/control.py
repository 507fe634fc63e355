"""A worker's control channel: ``POST /-/reload`` and the supervisor's swap messages.

``POST /-/reload`` (with ``Authorization: Bearer <control key>``; without a control key
the route does not exist) asks for a code swap: the worker relays it to the supervisor,
which runs it over every worker (:mod:`.swap`), and answers when it is over: 200 with
the new generation, or 500 ``InitFailed`` with the failing ``init()``'s message and
traceback (the old version keeps serving). The body may name another entry script or
source folder, or another model folder (``{"entry_script": ..., "source_dir": ...,
"model_dir": ...}``: a new model version is swapped in the same way), and folders of
packages to add (``"site_dirs": [...]``: an environment change that only adds packages;
409 when the server cannot see one); by default the current ones are loaded again.

:class:`WorkerControl` runs on its own thread: it reads the supervisor's lines
(``prepare``, ``commit``, ``abort``, ``result``), loads and initialises the new version
there (the event loop keeps serving the old one), and reports back on the worker's pipe.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .asgi import JSON, Receive, Scope, Send, send_error, send_response
from .contract import ErrorCode
from .guards import ClientGone, authorized, read_body
from .reload import Reloader, SwapTarget
from .swap import ROUTE, SWAP_TIMEOUT_S, decode

__all__ = ["ROUTE", "WorkerControl", "reload_route"]

_MAX_BODY = 64 * 1024


class WorkerControl:
    """The worker's end of the supervisor's control pipe, and the swaps it relays.

    Parameters
    ----------
    fd
        The control pipe's read end (``None``: no supervisor; swaps run in this worker alone).
    reloader
        Loads, commits or drops new versions.
    send
        ``send(word, payload)`` writes a line to the supervisor.
    current
        ``current()``: the :class:`SwapTarget` being served (the default of a swap).
    on_commit
        Called with the committed target (the worker updates its settings and environment).
    """

    def __init__(
        self,
        fd: int | None,
        reloader: Reloader,
        send: Callable[[str, dict[str, Any]], None],
        current: Callable[[], SwapTarget],
        on_commit: Callable[[SwapTarget], None],
    ) -> None:
        self.fd = fd
        self.reloader = reloader
        self.send = send
        self.current = current
        self.on_commit = on_commit
        self._pending_target: SwapTarget | None = None
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._count = 0
        self._thread = threading.Thread(target=self._loop, name="mldeploy-control", daemon=True)

    def start(self) -> None:
        """Start reading the supervisor's lines."""
        if self.fd is not None:
            self._thread.start()

    async def swap(self, target: SwapTarget) -> dict[str, Any]:
        """Ask for a swap to ``target`` and wait for its outcome (``ok``, ``error``, ``workers``, ``seconds``)."""
        if self.fd is None:  # no supervisor: this worker alone
            started = time.perf_counter()
            error = await asyncio.get_running_loop().run_in_executor(None, self._local_swap, target)
            return {"ok": error is None, "error": error, "workers": 1, "seconds": time.perf_counter() - started}
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        with self._lock:
            self._count += 1
            key = f"{os.getpid()}-{self._count}"
            self._waiting[key] = (loop, future)
        self.send("swap", {"req": key, **target.payload()})
        try:
            return await asyncio.wait_for(future, SWAP_TIMEOUT_S + 30)
        finally:
            with self._lock:
                self._waiting.pop(key, None)

    def _local_swap(self, target: SwapTarget) -> dict[str, str] | None:
        error = self.reloader.reload(target, "asked by POST /-/reload")
        if error is None:
            self.on_commit(target)
        return error

    # --- the control thread -----------------------------------------------------------------

    def _loop(self) -> None:
        assert self.fd is not None
        buffer = b""
        while True:
            try:
                data = os.read(self.fd, 65536)
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
            except OSError:
                return
            if not data:
                return  # the supervisor is gone (the heartbeat notices too)
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line:
                    self._handle(*decode(line))

    def _handle(self, word: str, payload: dict[str, Any]) -> None:
        sid = payload.get("swap")
        if word == "prepare":
            try:
                target = SwapTarget.from_payload(payload, self.current())
            except TypeError as err:  # the supervisor relays what a worker checked: not expected
                self.send("preparefailed", {"swap": sid, "message": f"unreadable swap target: {err}", "traceback": ""})
                return
            started = time.perf_counter()
            error = self.reloader.prepare(target, str(payload.get("why") or "asked"))
            if error is None:
                self._pending_target = target
                self.send("prepared", {"swap": sid, "seconds": round(time.perf_counter() - started, 3)})
            else:
                self.send("preparefailed", {"swap": sid, **error})
        elif word == "commit":
            generation = self.reloader.commit()
            if self._pending_target is not None:
                self.on_commit(self._pending_target)
                self._pending_target = None
            self.send("committed", {"swap": sid, "generation": generation})
        elif word == "abort":
            self._pending_target = None
            error = payload.get("error") or None
            self.reloader.abort(error if isinstance(error, dict) and error.get("message") else None)
        elif word == "result":
            with self._lock:
                waiting = self._waiting.get(str(payload.get("req")))
            if waiting is not None:
                loop, future = waiting
                loop.call_soon_threadsafe(_resolve, future, payload)


def _resolve(future: asyncio.Future[dict[str, Any]], payload: dict[str, Any]) -> None:
    if not future.done():
        future.set_result(payload)


async def reload_route(
    control: WorkerControl | None, control_key: bytes, scope: Scope, receive: Receive, send: Send,
    rid: str, auth: bytes | None, extra: list[tuple[bytes, bytes]],
) -> int:
    """Answer ``POST /-/reload`` (see the module docstring); 404 when the server has no control key."""
    if control is None or not control_key:
        return await send_error(send, 404, ErrorCode.NOT_FOUND,
                                f"No route {ROUTE}: this server was started without a control key.", rid, extra)
    if not authorized((control_key,), auth):
        return await send_error(send, 401, ErrorCode.UNAUTHORIZED,
                                f"{ROUTE} needs 'Authorization: Bearer <control key>' (the deployment's own key, "
                                "kept in its service folder).", rid, extra + [(b"www-authenticate", b"Bearer")])
    if scope["method"] != "POST":
        return await send_error(send, 405, ErrorCode.METHOD_NOT_ALLOWED, f"{scope['method']} is not supported on "
                                f"{ROUTE}; use POST.", rid, extra + [(b"allow", b"POST")])
    try:
        body = await read_body(receive, _MAX_BODY)
    except ClientGone:
        return 499
    current = control.current()
    try:
        asked = json.loads(body) if body else {}
        if not isinstance(asked, dict):
            raise TypeError("not an object")
        target = SwapTarget.from_payload(asked, current)
    except (TypeError, ValueError) as err:
        return await send_error(send, 400, ErrorCode.INVALID_JSON,
                                f"The body of {ROUTE} must be a JSON object such as {{\"entry_script\": \"score.py\", "
                                f"\"source_dir\": \"/app/src\", \"model_dir\": ..., \"site_dirs\": [...]}} "
                                f"(all optional): {err}.", rid, extra)
    missing = target.missing_site_dirs()
    if missing:  # 409: the caller restarts the server on the new environment instead
        return await send_error(send, 409, ErrorCode.NOT_FOUND,
                                f"site_dirs {', '.join(missing)} are not folders this server can see (a container "
                                "started without the environments mounted?); restart it on the new environment.",
                                rid, extra)
    outcome = await control.swap(target)
    if not outcome.get("ok"):
        error = outcome.get("error") or {}
        return await send_error(send, 500, ErrorCode.INIT_FAILED,
                                f"{error.get('message', 'init() failed')} (the previous version keeps serving)",
                                rid, extra, traceback=error.get("traceback", ""))
    answer = {"status": "Swapped", "entry_script": target.entry_script, "workers": outcome.get("workers", 0),
              "seconds": round(float(outcome.get("seconds", 0.0)), 3)}
    await send_response(send, 200, json.dumps(answer).encode(), JSON, rid, extra, None)
    return 200
