"""The scoring server's ASGI application: routes, request ids, auth, CORS, limits, timeouts.

Routes (see docs/scoring-server.md):

``GET /``               liveness: ``Healthy`` while the process serves.
``GET /ready``          readiness: 200 once ``init()`` succeeded; 503 ``InitFailed`` with the traceback otherwise.
``POST|GET|OPTIONS /score``  calls ``EntryScript.handle`` on the worker's one script thread.
``GET /swagger.json``   the OpenAPI document (``?version=3`` or ``3.1`` for OpenAPI 3; 404 for other versions).
``GET /metrics``        Prometheus text, summed over all workers.

The app is a plain ASGI callable (no framework objects on the request path):
the request becomes a :class:`~.contract.ScoringRequest`, the script's
:class:`~.contract.ScoringResponse` goes back with headers and body in two
ASGI messages, and everything HTTP-level (401, 405, 413, 503, 504) is
answered here without touching the script.
"""

from __future__ import annotations

import hmac
import json
import random
import re
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from ..errors import InvalidArgumentError
from .contract import ErrorCode, ScoringRequest, ScoringResponse, current_request_id, error_body
from .logs import LogWriter, ServerLog, timestamp
from .metrics import IN_FLIGHT, TIMEOUTS, WorkerMetrics, read_folder, render
from .runner import Runner, RunTimeout
from .settings import ServeSettings
from .swagger import normalize_version

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_RID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_RID_HEADERS = (b"x-request-id", b"x-ms-request-id", b"x-ms-client-request-id")
_ROUTES = "GET /, GET /ready, POST|GET /score, GET /swagger.json, GET /metrics"
#: health-probe routes: their passing answers are left out of the access log
_PROBES = frozenset({"/", "/ready"})
_END = object()
#: more requests than this waiting in one worker: run() calls queue on the script thread (fairness)
CROWDED = 16
_JSON = b"application/json"
_bits = random.Random().getrandbits  # seeded from os.urandom; ids need to be unique, not secret


def new_request_id() -> str:
    """A random version-4 UUID string (about 1 us, no syscall: uuid.uuid4() reads os.urandom)."""
    h = f"{_bits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class ScriptState:
    """What a worker is serving: the current script, or why there is none.

    ``entry`` is swapped atomically by a reload; a request keeps the object it started with.
    """

    def __init__(self) -> None:
        self.entry: Any = None  # EntryScript once init() succeeded
        self.init_error: dict[str, str] | None = None
        self.reload_error: dict[str, str] | None = None
        self.generation = 0
        self.loaded_at = 0.0

    def serve(self, entry: Any) -> None:
        """Start serving ``entry`` (its ``init()`` already succeeded)."""
        self.entry = entry
        self.init_error = None
        self.generation += 1
        self.loaded_at = time.time()

    def fail(self, message: str, traceback_text: str) -> None:
        """Record that the script could not be loaded or initialised (503 until a reload fixes it)."""
        self.init_error = {"message": message, "traceback": traceback_text}


def _header_bytes(text: str) -> bytes:
    """Encode a header name or value, refusing what HTTP cannot carry (non-Latin-1, line breaks)."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{text[:60]!r} is not Latin-1") from None
    if b"\r" in raw or b"\n" in raw:
        raise ValueError(f"{text[:60]!r} has a line break")
    return raw


def _n(value: float) -> bytes:
    return f"{value:.3f}".encode()


def _iterate(body: Iterable[bytes]) -> Iterator[bytes]:
    return iter(body)


def _next_chunk(it: Iterator[bytes]) -> Any:
    return next(it, _END)


class ScoringApp:
    """The ASGI callable; build it with :func:`create_app`."""

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
    ) -> None:
        self.state = state
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
        self._cors = tuple(settings.cors_origins)
        self._cors_any = "*" in self._cors
        self._limit = settings.max_body_bytes
        self._swagger_cache: dict[tuple[int, str, str], bytes] = {}

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
        extra: list[tuple[bytes, bytes]] = []
        if origin is not None and self._cors:
            extra = self._cors_headers(origin)
            if preflight and method == "OPTIONS" and extra:
                status = 204
                await self._send(send, 204, b"", None, rid, extra + self._preflight_headers(), None)
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

    # --- sending ----------------------------------------------------------------------

    async def _send(
        self,
        send: Send,
        status: int,
        body: bytes,
        content_type: bytes | None,
        rid: str,
        extra: list[tuple[bytes, bytes]],
        run_ms: float | None,
    ) -> None:
        rid_b = rid.encode()
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", rid_b),
            (b"x-ms-request-id", rid_b),
        ]
        if content_type is not None:
            headers.append((b"content-type", content_type))
        if run_ms is not None:
            headers.append((b"x-ms-run-fn-exec-ms", _n(run_ms)))
        if extra:
            headers.extend(extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _error(
        self,
        send: Send,
        status: int,
        code: str,
        message: str,
        rid: str,
        extra: list[tuple[bytes, bytes]],
        **fields: object,
    ) -> int:
        await self._send(send, status, error_body(code, message, rid, **fields), _JSON, rid, extra, None)
        return status

    # --- /score -----------------------------------------------------------------------

    def _authorized(self, auth: bytes | None) -> bool:
        if not self._keys:
            return True
        if auth is None or auth[:7].lower() != b"bearer ":
            return False
        given = auth[7:].strip()
        ok = False
        for key in self._keys:
            ok |= hmac.compare_digest(given, key)
        return ok

    async def _unauthorized(self, send: Send, rid: str, extra: list[tuple[bytes, bytes]]) -> int:
        return await self._error(
            send, 401, ErrorCode.UNAUTHORIZED,
            "Missing or wrong key: send the header 'Authorization: Bearer <key>' with one of the "
            "service's keys (the --auth-key values the server was started with).",
            rid, extra + [(b"www-authenticate", b"Bearer")],
        )

    async def _not_ready(self, send: Send, rid: str, extra: list[tuple[bytes, bytes]]) -> int:
        err = self.state.init_error
        if err is not None:
            return await self._error(
                send, 503, ErrorCode.INIT_FAILED,
                f"{err['message']} (The traceback is in 'traceback' and in the server log; the server "
                "answers 503 until the script is fixed and reloaded or the server restarted.)",
                rid, extra, traceback=err["traceback"],
            )
        return await self._error(
            send, 503, ErrorCode.NOT_READY,
            "The entry script's init() has not finished yet; retry when GET /ready answers 200.", rid, extra,
        )

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or ``None`` once it goes over the limit (reading stops there)."""
        chunks: list[bytes] = []
        size = 0
        limit = self._limit
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    async def _too_large(self, send: Send, rid: str, extra: list[tuple[bytes, bytes]]) -> int:
        mb = self.settings.max_body_mb
        return await self._error(
            send, 413, ErrorCode.PAYLOAD_TOO_LARGE,
            f"The request body is larger than the server's limit of {mb:g} MB: send a smaller body "
            "(e.g. fewer rows per request) or start the server with a higher --max-body-mb "
            "(env MLDEPLOY_MAX_BODY_MB).",
            rid, extra + [(b"connection", b"close")], limit_mb=mb,
        )

    async def _score(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        rid: str,
        auth: bytes | None,
        length: int,
        extra: list[tuple[bytes, bytes]],
    ) -> tuple[int, float | None]:
        if self._keys and not self._authorized(auth):
            return await self._unauthorized(send, rid, extra), None
        entry = self.state.entry
        if entry is None:
            return await self._not_ready(send, rid, extra), None
        method = scope["method"]
        allowed = entry.allowed_methods
        if method not in allowed:
            allow = ", ".join(sorted({*allowed, "OPTIONS"})).encode()
            if method == "OPTIONS":
                await self._send(send, 200, b"", None, rid, extra + [(b"allow", allow)], None)
                return 200, None
            return await self._error(
                send, 405, ErrorCode.METHOD_NOT_ALLOWED,
                f"{method} is not supported on /score; use {' or '.join(sorted(allowed))}.",
                rid, extra + [(b"allow", allow)],
            ), None
        if length > self._limit:
            return await self._too_large(send, rid, extra), None
        body = await self._read_body(receive)
        if body is None:
            return await self._too_large(send, rid, extra), None
        request = ScoringRequest(
            method=method,
            path=scope["path"],
            query_string=scope["query_string"].decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=body,
            request_id=rid,
        )
        if self.backlog is not None:
            self.runner.crowded = self.backlog() > CROWDED
        try:
            response: ScoringResponse = await self.runner.call(entry.handle, request)
        except RunTimeout:
            self.metrics.add(TIMEOUTS, 1)
            self.log.error(
                f"rid={rid} run() took longer than --timeout-ms {self.settings.timeout_ms}: answered 504; "
                "this worker will be replaced (a thread cannot be stopped)"
            )
            return await self._error(
                send, 504, ErrorCode.TIMEOUT,
                f"run() did not finish within {self.settings.timeout_ms} ms: make run() faster, send less "
                "data per request, or start the server with a higher --timeout-ms (env SCORING_TIMEOUT_MS).",
                rid, extra, timeout_ms=self.settings.timeout_ms,
            ), None
        except Exception as err:  # noqa: BLE001 - handle() must not raise; if it does, answer 500 and log
            self.log.error(f"rid={rid} internal error while handling /score:\n{traceback.format_exc()}")
            return await self._error(
                send, 500, ErrorCode.INTERNAL,
                f"The server failed while handling the request ({type(err).__name__}: {err}); "
                "see the server log for the traceback.",
                rid, extra,
            ), None
        headers = extra
        try:
            if response.headers:
                headers = extra + [
                    (_header_bytes(k.lower()), _header_bytes(str(v)))
                    for k, v in response.headers.items()
                    if k.lower() not in ("content-length", "content-type", "transfer-encoding", "connection")
                ]
            content_type = _header_bytes(response.content_type) if response.content_type else None
        except ValueError as err:
            self.log.error(f"rid={rid} run() returned a header HTTP cannot carry: {err}")
            return await self._error(
                send, 500, ErrorCode.RUN_FAILED,
                f"run() returned a response header HTTP cannot carry ({err}); header names and values "
                "must be Latin-1 text without line breaks: percent-encode other text.",
                rid, extra,
            ), None
        body_out = response.body
        if isinstance(body_out, (bytes, bytearray, memoryview)):
            await self._send(send, response.status, bytes(body_out), content_type, rid, headers, response.run_ms)
            return response.status, response.run_ms
        await self._stream(send, response, body_out, content_type, rid, headers)
        return response.status, response.run_ms

    async def _stream(
        self,
        send: Send,
        response: ScoringResponse,
        body: Iterable[bytes],
        content_type: bytes | None,
        rid: str,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        rid_b = rid.encode()
        out = [(b"x-request-id", rid_b), (b"x-ms-request-id", rid_b), *headers]
        if content_type is not None:
            out.append((b"content-type", content_type))
        if response.run_ms is not None:
            out.append((b"x-ms-run-fn-exec-ms", _n(response.run_ms)))
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        iterator = await self.runner.call(_iterate, body)
        while True:
            try:
                chunk = await self.runner.call(_next_chunk, iterator)
            except RunTimeout:
                self.metrics.add(TIMEOUTS, 1)
                self.log.error(f"rid={rid} streaming run() stalled past --timeout-ms: stream cut off")
                raise
            except Exception:
                self.log.error(f"rid={rid} streamed answer failed part-way, connection closed:\n"
                               f"{traceback.format_exc()}")
                raise
            if chunk is _END:
                break
            if chunk:
                await send({"type": "http.response.body", "body": bytes(chunk), "more_body": True})
        await send({"type": "http.response.body", "body": b""})

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
            return await self._error(
                send, 404, ErrorCode.NOT_FOUND, f"No route {path}; the routes are {_ROUTES}.", rid, extra
            )
        if method not in ("GET", "HEAD"):
            if method == "OPTIONS":
                await self._send(send, 200, b"", None, rid, extra + [(b"allow", b"GET, HEAD, OPTIONS")], None)
                return 200
            return await self._error(
                send, 405, ErrorCode.METHOD_NOT_ALLOWED, f"{method} is not supported on {path}; use GET.",
                rid, extra + [(b"allow", b"GET, HEAD, OPTIONS")],
            )
        if path == "/":
            await self._send(send, 200, b"Healthy", b"text/plain; charset=utf-8", rid, extra, None)
            return 200
        if path == "/ready":
            return await self._ready(send, rid, extra)
        if path == "/metrics":
            snaps = read_folder(self.metrics_folder) if self.metrics_folder else [self.metrics.snapshot()]
            live = self._live_workers() if self._live_workers else None
            text = render(snaps, live).encode()
            await self._send(send, 200, text, b"text/plain; version=0.0.4; charset=utf-8", rid, extra, None)
            return 200
        # /swagger.json
        if self._keys and not self._authorized(auth):
            return await self._unauthorized(send, rid, extra)
        entry = self.state.entry
        if entry is None:
            return await self._not_ready(send, rid, extra)
        return await self._swagger(scope, send, entry, rid, extra)

    async def _ready(self, send: Send, rid: str, extra: list[tuple[bytes, bytes]]) -> int:
        state = self.state
        if state.entry is None:
            return await self._not_ready(send, rid, extra)
        info: dict[str, object] = {
            "status": "Ready",
            "entry_script": str(getattr(state.entry, "path", "")),
            "generation": state.generation,
        }
        if state.reload_error is not None:
            info["reload_error"] = state.reload_error
        await self._send(send, 200, json.dumps(info).encode(), _JSON, rid, extra, None)
        return 200

    async def _swagger(
        self, scope: Scope, send: Send, entry: Any, rid: str, extra: list[tuple[bytes, bytes]]
    ) -> int:
        query = parse_qs(scope["query_string"].decode("latin-1"))
        try:
            version = normalize_version(query.get("version", ["2"])[-1])
        except InvalidArgumentError as err:
            return await self._error(send, 404, ErrorCode.NOT_FOUND, str(err), rid, extra)
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
                return await self._error(send, 404, ErrorCode.NOT_FOUND, str(err), rid, extra)
            except Exception as err:  # noqa: BLE001 - a broken schema must not take the server down
                self.log.error(f"rid={rid} swagger generation failed:\n{traceback.format_exc()}")
                return await self._error(
                    send, 500, ErrorCode.INTERNAL,
                    f"Could not build swagger.json from the script's schema decorators "
                    f"({type(err).__name__}: {err}); check the input_schema/output_schema samples.",
                    rid, extra,
                )
            body = json.dumps(doc).encode()
            if len(self._swagger_cache) > 32:
                self._swagger_cache.clear()
            self._swagger_cache[key] = body
        await self._send(send, 200, body, _JSON, rid, extra, None)
        return 200

    # --- CORS -------------------------------------------------------------------------

    def _cors_headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        text = origin.decode("latin-1")
        if self._cors_any:
            return [(b"access-control-allow-origin", b"*"), (b"access-control-expose-headers", b"*")]
        if text in self._cors:
            return [
                (b"access-control-allow-origin", origin),
                (b"vary", b"Origin"),
                (b"access-control-expose-headers", b"x-request-id, x-ms-request-id, x-ms-run-fn-exec-ms"),
            ]
        return []

    @staticmethod
    def _preflight_headers() -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", b"authorization, content-type, x-request-id, x-ms-request-id"),
            (b"access-control-max-age", b"600"),
        ]

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
        ``metrics``, ``metrics_folder``, ``writer``, ``on_hang``, ``worker_label``, ``live_workers``.

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
