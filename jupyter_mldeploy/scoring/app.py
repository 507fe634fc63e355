"""The scoring server's ASGI application: request ids, routing, the small routes, the access log.

Routes (see docs/scoring-server.md):

``GET /``               liveness: ``Healthy`` while the process serves; 503 ``InitFailed`` once the script failed.
``GET /ready``          readiness: 200 once ``init()`` succeeded; 503 ``InitFailed`` with the traceback otherwise.
``POST|GET|OPTIONS /score``  calls ``EntryScript.handle`` on the worker's one script thread.
``GET /swagger.json``   the OpenAPI document (``?version=3`` or ``3.1`` for OpenAPI 3; 404 for other versions).
``GET /metrics``        Prometheus text, summed over all workers.
``/v2/...``             the Open Inference Protocol v2 REST routes (:mod:`.oip_route`).
``POST /-/reload``      swap in new code in every worker (only with the control key; :mod:`.control`).

The app is a plain ASGI callable (no framework objects on the request path):
the request becomes a :class:`~.contract.ScoringRequest`, the script's
:class:`~.contract.ScoringResponse` goes back with headers and body in two
ASGI messages, and everything HTTP-level (401, 405, 413, 503, 504) is
answered without touching the script. ``/score`` itself is
:class:`~.score_route.ScoreRoute` (inherited); auth, CORS and the body limit
are in :mod:`.guards`; sending is in :mod:`.asgi`.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from ..errors import InvalidArgumentError
from .asgi import JSON, Receive, Scope, Send, send_error, send_response
from .azmlinfsrv import server_version_headers
from .contract import ErrorCode, current_request_id
from .control import ROUTE as CONTROL_ROUTE
from .control import WorkerControl, reload_route
from .guards import authorized, cors_headers, preflight_headers, send_not_ready, send_unauthorized
from .logs import LogWriter, ServerLog, timestamp
from .metrics import IN_FLIGHT, WorkerMetrics, model_slots, read_folder, render, score_model
from .oip_route import OipRoute, model_table, server_version
from .runner import Runner
from .settings import ServeSettings
from .state import ScriptState
from .swagger import normalize_version

_RID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_RID_HEADERS = (b"x-request-id", b"x-ms-request-id", b"x-ms-client-request-id")
_ROUTES = "GET /, GET /ready, POST|GET /score, GET /swagger.json, GET /metrics, and the OIP routes under /v2"
#: health-probe routes: their passing answers are left out of the access log
_PROBES = frozenset({"/", "/ready"})
#: what a draining server adds to every answer, so clients open their next connection elsewhere
_CLOSE = (b"connection", b"close")
_bits = random.Random().getrandbits  # seeded from os.urandom; ids need to be unique, not secret


def new_request_id() -> str:
    """A random version-4 UUID string (about 1 us, no syscall: uuid.uuid4() reads os.urandom)."""
    h = f"{_bits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class ScoringApp(OipRoute):
    """The ASGI callable; build it with :func:`create_app`. ``/score`` and ``/v2/...`` are inherited."""

    def __init__(
        self,
        state: ScriptState,
        settings: ServeSettings,
        *,
        metrics: WorkerMetrics | None = None,
        metrics_folder: str | None = None,
        writer: LogWriter | None = None,
        on_hang: Callable[[], None] | None = None,
        worker_label: str = "1",
        live_workers: Callable[[], int | None] | None = None,
        backlog: Callable[[], int] | None = None,
        control: WorkerControl | None = None,
    ) -> None:
        self.state = state
        self.control = control  # POST /-/reload (code swaps), with settings.control_key
        self.settings = settings
        self.metrics = metrics or WorkerMetrics()
        self.metrics_folder = metrics_folder
        self.writer = writer or LogWriter()
        self.log = ServerLog(self.writer)
        self.runner = Runner(settings.timeout_s, on_hang=self._hung)
        self._on_hang = on_hang
        self._worker = worker_label
        self._live_workers = live_workers
        #: how many requests wait in this worker (set by the worker from uvicorn's task set)
        self.backlog = backlog
        self._keys = tuple(k.encode() for k in settings.auth_keys)
        self._control_key = settings.control_key.encode()
        self._cors = tuple(settings.cors_origins)
        self._metrics_auth = settings.metrics_auth and bool(self._keys)
        #: on every answer, as azmlinfsrv's x-ms-server-version (off with SERVER_VERSION_LOG_RESPONSE_ENABLED=false)
        self._always: list[tuple[bytes, bytes]] = server_version_headers(os.environ)
        self._cors_any = "*" in self._cors
        self._limit = settings.max_body_bytes
        self._swagger_cache: dict[tuple[int, str, str], bytes] = {}
        self._oip_models = model_table(settings)
        #: per-model counters of /metrics: the slot of each (model, version), and the one /score counts under
        self._model_slots = model_slots(self._oip_models)
        self._score_slot = self._model_slots[score_model(self._oip_models)]
        self._oip_version = server_version()
        #: set when the worker was told to stop with drain_s: answers close their connection, /ready is 503
        self.draining = False

    # --- the ASGI entry point ---------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
            return
        started = time.perf_counter()
        rid = ""
        auth: bytes | None = None
        origin: bytes | None = None
        length = -1
        preflight = False
        for name, value in scope["headers"]:
            if name in _RID_HEADERS:
                if not rid:
                    text = value.decode("latin-1")
                    if _RID_OK.match(text):
                        rid = text
            elif name == b"authorization":
                auth = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                preflight = True
        if not rid:
            rid = new_request_id()
        current_request_id.set(rid)
        path = scope["path"]
        method = scope["method"]
        extra: list[tuple[bytes, bytes]] = [_CLOSE, *self._always] if self.draining else self._always
        if origin is not None and self._cors:
            extra = extra + cors_headers(origin, self._cors, self._cors_any)
            if preflight and method == "OPTIONS" and extra:
                status = 204
                await send_response(send, 204, b"", None, rid, extra + preflight_headers(), None)
                self._access(method, path, status, started, rid)
                return
        if path == "/score":
            self.metrics.add(IN_FLIGHT, 1)
            try:
                status, run_ms = await self._score(scope, receive, send, rid, auth, length, extra)
            finally:
                self.metrics.add(IN_FLIGHT, -1)
            elapsed = time.perf_counter() - started
            self.metrics.observe(status, elapsed, None if run_ms is None else run_ms / 1000.0)
            self.metrics.count_model(self._score_slot, 0, status)
        elif path[:3] == "/v2" and (len(path) == 3 or path[3] == "/"):
            status = await self._oip(scope, receive, send, rid, auth, extra, started)
        elif path == CONTROL_ROUTE:
            status = await reload_route(self.control, self._control_key, scope, receive, send, rid, auth, extra)
        else:
            status = await self._other(scope, send, rid, auth, extra, path, method)
        self._access(method, path, status, started, rid)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.runner.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _access(self, method: str, path: str, status: int, started: float, rid: str) -> None:
        if status == 200 and path in _PROBES and method in ("GET", "HEAD"):
            return  # a passing health probe (Docker HEALTHCHECK, panels, wait loops) is not news
        ms = (time.perf_counter() - started) * 1000.0
        self.writer.line(f"{timestamp()} access {method} {path} {status} {ms:.2f}ms rid={rid} worker={self._worker}")

    # --- other routes -----------------------------------------------------------------

    async def _other(
        self,
        scope: Scope,
        send: Send,
        rid: str,
        auth: bytes | None,
        extra: list[tuple[bytes, bytes]],
        path: str,
        method: str,
    ) -> int:
        if path not in ("/", "/ready", "/swagger.json", "/metrics"):
            return await send_error(
                send, 404, ErrorCode.NOT_FOUND, f"No route {path}; the routes are {_ROUTES}.", rid, extra
            )
        if method not in ("GET", "HEAD"):
            if method == "OPTIONS":
                await send_response(send, 200, b"", None, rid, extra + [(b"allow", b"GET, HEAD, OPTIONS")], None)
                return 200
            return await send_error(
                send, 405, ErrorCode.METHOD_NOT_ALLOWED, f"{method} is not supported on {path}; use GET.",
                rid, extra + [(b"allow", b"GET, HEAD, OPTIONS")],
            )
        if path == "/":
            if self.state.init_error is not None:  # never "Healthy" once the script failed (as /ready, /score)
                return await send_not_ready(send, self.state.init_error, rid, extra,
                                            detailed=not self._keys or authorized(self._keys, auth))
            await send_response(send, 200, b"Healthy", b"text/plain; charset=utf-8", rid, extra, None)
            return 200
        if path == "/ready":
            # open to probes; the details (script path, init() traceback) only with the key when auth is on
            return await self._ready(send, rid, extra, not self._keys or authorized(self._keys, auth))
        if path == "/metrics":
            if self._metrics_auth and not authorized(self._keys, auth):
                return await send_unauthorized(send, rid, extra)
            snaps = read_folder(self.metrics_folder) if self.metrics_folder else [self.metrics.snapshot()]
            live = self._live_workers() if self._live_workers else None
            text = render(snaps, live, self._oip_models, self.settings.service_name).encode()
            await send_response(send, 200, text, b"text/plain; version=0.0.4; charset=utf-8", rid, extra, None)
            return 200
        # /swagger.json
        if self._keys and not authorized(self._keys, auth):
            return await send_unauthorized(send, rid, extra)
        entry = self.state.entry
        if entry is None:
            return await send_not_ready(send, self.state.init_error, rid, extra)
        return await self._swagger(scope, send, entry, rid, extra)

    async def _ready(self, send: Send, rid: str, extra: list[tuple[bytes, bytes]], detailed: bool) -> int:
        state = self.state
        if self.draining:
            return await send_error(
                send, 503, ErrorCode.SHUTTING_DOWN, "The server is stopping; send requests to another replica.",
                rid, extra,
            )
        if state.entry is None:
            return await send_not_ready(send, state.init_error, rid, extra, detailed=detailed)
        info: dict[str, object] = {"status": "Ready", "generation": state.generation}
        if detailed:
            info["entry_script"] = str(getattr(state.entry, "path", ""))
            if state.reload_error is not None:
                info["reload_error"] = state.reload_error
        elif state.reload_error is not None:
            info["reload_failed"] = True
        await send_response(send, 200, json.dumps(info).encode(), JSON, rid, extra, None)
        return 200

    async def _swagger(
        self, scope: Scope, send: Send, entry: Any, rid: str, extra: list[tuple[bytes, bytes]]
    ) -> int:
        query = parse_qs(scope["query_string"].decode("latin-1"))
        try:
            version = normalize_version(query.get("version", ["2"])[-1])
        except InvalidArgumentError as err:
            return await send_error(send, 404, ErrorCode.NOT_FOUND, str(err), rid, extra)
        host = ""
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
                break
        key = (self.state.generation, version, host)
        body = self._swagger_cache.get(key)
        if body is None:
            try:
                doc = await self.runner.call(
                    lambda: entry.swagger(version, service_name=self.settings.service_name, host=host or None)
                )
            except InvalidArgumentError as err:  # e.g. Swagger 2 cannot describe this schema
                return await send_error(send, 404, ErrorCode.NOT_FOUND, str(err), rid, extra)
            except Exception as err:  # noqa: BLE001 - a broken schema must not take the server down
                self.log.error(f"rid={rid} swagger generation failed:\n{traceback.format_exc()}")
                return await send_error(
                    send, 500, ErrorCode.INTERNAL,
                    f"Could not build swagger.json from the script's schema decorators "
                    f"({type(err).__name__}: {err}); check the input_schema/output_schema samples.",
                    rid, extra,
                )
            body = json.dumps(doc).encode()
            if len(self._swagger_cache) > 32:
                self._swagger_cache.clear()
            self._swagger_cache[key] = body
        await send_response(send, 200, body, JSON, rid, extra, None)
        return 200

    # --- hangs ------------------------------------------------------------------------

    def _hung(self) -> None:
        if self._on_hang is not None:
            self._on_hang()


def create_app(
    entry: Any,
    settings: ServeSettings,
    **kwargs: Any,
) -> ScoringApp:
    """Build the ASGI app serving ``entry`` (an initialised ``EntryScript``, or a :class:`ScriptState`).

    Parameters
    ----------
    entry
        The script to serve; pass a :class:`ScriptState` to share it with a reloader or
        to serve a failed ``init()`` (503 with the traceback).
    settings
        Server settings (timeout, body limit, auth keys, CORS origins).
    **kwargs
        ``metrics``, ``metrics_folder``, ``writer``, ``on_hang``, ``worker_label``, ``live_workers``, ``control``.

    Examples
    --------
    >>> from jupyter_mldeploy.scoring.entry_script import load_entry_script   # doctest: +SKIP
    >>> script = load_entry_script("score.py"); script.init()                   # doctest: +SKIP
    >>> app = create_app(script, ServeSettings(entry_script="score.py"))         # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, port=5001)                              # doctest: +SKIP
    """
    if isinstance(entry, ScriptState):
        state = entry
    else:
        state = ScriptState()
        state.serve(entry)
    return ScoringApp(state, settings, **kwargs)
