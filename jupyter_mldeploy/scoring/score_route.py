"""The ``/score`` handler: the request to the script on the worker's script thread, its answer back.

:class:`ScoreRoute` is the ``/score`` part of
:class:`~jupyter_mldeploy.scoring.app.ScoringApp` (which inherits it, so a
request reaches it with one method call): auth, readiness, the method, the
body limit, then ``EntryScript.handle`` through the :class:`~.runner.Runner`
(504 on a timeout), and the script's
:class:`~jupyter_mldeploy.scoring.contract.ScoringResponse` sent buffered or
streamed chunk by chunk.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .asgi import Receive, Scope, Send, header_bytes, ms_header, send_error, send_response
from .batching import Batcher
from .contract import ErrorCode, ScoringRequest, ScoringResponse, error_response
from .guards import (
    CLIENT_GONE,
    ClientGone,
    authorized,
    read_body,
    send_not_ready,
    send_too_large,
    send_unauthorized,
)
from .logs import ServerLog
from .metrics import TIMEOUTS, WorkerMetrics
from .runner import Runner, RunTimeout
from .settings import ServeSettings
from .state import ScriptState

__all__ = ["CROWDED", "ScoreRoute"]

_END = object()
#: more requests than this waiting in one worker: run() calls queue on the script thread (fairness)
CROWDED = 16


def _iterate(body: Iterable[bytes]) -> Iterator[bytes]:
    return iter(body)


def _next_chunk(it: Iterator[bytes]) -> Any:
    return next(it, _END)


class ScoreRoute:
    """``/score``, mixed into :class:`~jupyter_mldeploy.scoring.app.ScoringApp`, which sets these attributes."""

    state: ScriptState
    settings: ServeSettings
    runner: Runner
    metrics: WorkerMetrics
    log: ServerLog
    #: how many requests wait in this worker (set by the worker from uvicorn's task set)
    backlog: Callable[[], int] | None
    _keys: tuple[bytes, ...]
    _limit: int
    #: the worker's :class:`~.tracing.Tracing` when tracing is on (:mod:`.signals` sets it), else None
    tracing: Any = None

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
        entry = self.state.entry
        method = scope["method"]
        if method == "OPTIONS" and entry is not None and method not in entry.allowed_methods:
            # which methods /score takes is no secret: answered without a key, as the docs say
            allow = ", ".join(sorted({*entry.allowed_methods, "OPTIONS"})).encode()
            await send_response(send, 200, b"", None, rid, extra + [(b"allow", allow)], None)
            return 200, None
        if self._keys and not authorized(self._keys, auth):
            return await send_unauthorized(send, rid, extra), None
        if entry is None:
            return await send_not_ready(send, self.state.init_error, rid, extra), None
        allowed = entry.allowed_methods
        if method not in allowed:
            allow = ", ".join(sorted({*allowed, "OPTIONS"})).encode()
            return await send_error(
                send, 405, ErrorCode.METHOD_NOT_ALLOWED,
                f"{method} is not supported on /score; use {' or '.join(sorted(allowed))}.",
                rid, extra + [(b"allow", allow)],
            ), None
        if length > self._limit:
            return await send_too_large(send, rid, extra, self.settings.max_body_mb), None
        try:
            body = await read_body(receive, self._limit)
        except ClientGone:
            return CLIENT_GONE, None  # nothing to answer: the client is gone
        if body is None:
            return await send_too_large(send, rid, extra, self.settings.max_body_mb), None
        request = ScoringRequest(
            method=method,
            path=scope["path"],
            query_string=scope["query_string"].decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=body,
            request_id=rid,
            client=(scope.get("client") or (None,))[0],
        )
        response = await self._run_entry(entry, request)
        headers = extra
        try:
            if response.headers:
                pairs = response.headers.items() if isinstance(response.headers, dict) else response.headers
                headers = extra + [
                    (header_bytes(k.lower()), header_bytes(str(v)))
                    for k, v in pairs
                    if k.lower() not in ("content-length", "content-type", "transfer-encoding", "connection")
                ]
            content_type = header_bytes(response.content_type) if response.content_type else None
        except ValueError as err:
            self.log.error(f"rid={rid} run() returned a header HTTP cannot carry: {err}")
            return await send_error(
                send, 500, ErrorCode.RUN_FAILED,
                f"run() returned a response header HTTP cannot carry ({err}); header names and values "
                "must be Latin-1 text without line breaks: percent-encode other text.",
                rid, extra,
            ), None
        body_out = response.body
        if isinstance(body_out, (bytes, bytearray, memoryview)):
            await send_response(send, response.status, bytes(body_out), content_type, rid, headers, response.run_ms)
            return response.status, response.run_ms
        await self._stream(send, response, body_out, content_type, rid, headers)
        return response.status, response.run_ms

    async def _run_entry(self, entry: Any, request: ScoringRequest) -> ScoringResponse:
        """The script's answer to ``request`` (alone, or in a batch for ``@batched`` scripts), or a 504/500.

        The one place every route that runs the script (``/score``, OIP ``infer``) calls it; with
        tracing on, inside a ``run`` span.
        """
        if self.tracing is not None:
            return await self.tracing.run_span(self._run_script, entry, request)
        return await self._run_script(entry, request)

    async def _run_script(self, entry: Any, request: ScoringRequest) -> ScoringResponse:
        if self.backlog is not None:
            self.runner.crowded = self.backlog() > CROWDED
        if entry.batching is not None:
            return await self._batcher(entry).submit(request)
        ok, value = await self._guarded(entry.handle, request, request.request_id, request.path)
        return value if ok else value(request.request_id)

    def _batcher(self, entry: Any) -> Batcher:
        batcher: Batcher | None = entry.batcher
        if batcher is None:

            async def call(requests: list[ScoringRequest]) -> list[ScoringResponse]:
                ok, value = await self._guarded(entry.handle_batch, requests, requests[0].request_id,
                                                requests[0].path, crowd_inline=True)
                return value if ok else [value(r.request_id) for r in requests]

            batcher = entry.batcher = Batcher(entry.batching, call, self.metrics.observe_batch, self.backlog)
        return batcher

    async def _guarded(self, fn: Callable[[Any], Any], arg: Any, rid: str,
                       path: str, crowd_inline: bool = False) -> tuple[bool, Any]:
        """``(True, fn(arg))`` run through the runner, or ``(False, make)``: ``make(rid)`` is the 504/500 answer."""
        try:
            return True, await self.runner.call(fn, arg, crowd_inline=crowd_inline)
        except RunTimeout:
            self.metrics.add(TIMEOUTS, 1)
            self.log.error(
                f"rid={rid} run() took longer than --timeout-ms {self.settings.timeout_ms}: answered 504; "
                "this worker will be replaced (a thread cannot be stopped)"
            )
            ms = self.settings.timeout_ms
            message = (f"run() did not finish within {ms} ms: make run() faster, send less data per request, "
                       "or start the server with a higher --timeout-ms (env SCORING_TIMEOUT_MS).")
            return False, lambda r: error_response(504, ErrorCode.TIMEOUT, message, r, timeout_ms=ms)
        except Exception as err:  # noqa: BLE001 - handle() must not raise; if it does, answer 500 and log
            self.log.error(f"rid={rid} internal error while handling {path}:\n{traceback.format_exc()}")
            message = (f"The server failed while handling the request ({type(err).__name__}: {err}); "
                       "see the server log for the traceback.")
            return False, lambda r: error_response(500, ErrorCode.INTERNAL, message, r)

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
            out.append((b"x-ms-run-fn-exec-ms", ms_header(response.run_ms)))
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
