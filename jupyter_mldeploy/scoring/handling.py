"""Run one scoring request through a loaded entry script's ``run()`` and turn the outcome into an answer.

:class:`ScriptHandler` is the request side of
:class:`~jupyter_mldeploy.scoring.entry_script.EntryScript`: built once from
what inspecting ``run()`` found (plain, schema or ``@rawhttp``; the data
parameter; ``request_headers``; declared Content-Types), it picks the path each
request takes up front. :meth:`ScriptHandler.handle` then turns a framework-free
:class:`~jupyter_mldeploy.scoring.contract.ScoringRequest` into ``run()``'s
arguments, calls it, and turns what it returns (or raises) into a
:class:`~jupyter_mldeploy.scoring.contract.ScoringResponse`, the way
azmlinfsrv does for existing scripts, with precise 4xx answers for bad input.
This is the per-request hot path: one bound method per request, no lookups.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from time import perf_counter
from typing import Any
from urllib.parse import parse_qsl

from ..errors import ScoringInputError
from ._json import DEFAULT_EXAMPLE, UnserializableResultError, encode_result, parse_body
from .aml import AMLRequest, AMLResponse
from .batching import BatchOptions, batch_options
from .contract import ErrorCode, ScoringRequest, ScoringResponse, error_body, error_response
from .datastructures import Headers
from .schema import RunSchema
from .tracebacks import describe_error, format_user_traceback, user_location

__all__ = ["ScriptHandler"]

logger = logging.getLogger("jupyter_mldeploy.scoring.handling")

_dumps = json.dumps
_FAST_JSON_TYPES = frozenset({dict, list, str, int, float, bool, tuple})
#: response headers the server writes itself (a script's own copies are dropped)
_SET_BY_SERVER = frozenset({"content-type", "content-length", "x-ms-run-function-failed"})


# --- request helpers -------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def query_object(query_string: str) -> dict[str, Any]:
    """Turn ``a=1&b=[1,2]&c=x&c=y`` into ``{"a": 1, "b": [1, 2], "c": ["x", "y"]}`` (as azmlinfsrv).

    Examples
    --------
    >>> query_object("a=1&b=[1,2]&c=x&c=y&d=null")
    {'a': 1, 'b': [1, 2], 'c': ['x', 'y'], 'd': None}
    """
    grouped: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        grouped.setdefault(key, []).append(value)
    return {k: _parse_value(v[0]) if len(v) == 1 else [_parse_value(x) for x in v] for k, v in grouped.items()}


def _is_json_type(media_type: str) -> bool:
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _media_match(media_type: str, pattern: str) -> bool:
    if pattern in ("*/*", media_type):
        return True
    if pattern.endswith("/*"):
        return media_type.startswith(pattern[:-1])
    return False


def _decode_utf8(body: bytes, strip_bom: bool = False) -> str:
    try:
        return body.decode("utf-8-sig" if strip_bom else "utf-8")
    except UnicodeDecodeError as err:
        raise ScoringInputError(
            f"The request body is not valid UTF-8 ({err.reason} at byte {err.start}). Send text encoded as "
            "UTF-8, or decorate run() with @rawhttp to receive raw bytes.",
            400,
            ErrorCode.NOT_UTF8,
        ) from err


def _encode_chunk(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, (bytearray, memoryview)):
        return bytes(item)
    if isinstance(item, str):
        return item.encode()
    return encode_result(item) + b"\n"


def _header_map(pairs: list[tuple[str, str]]) -> dict[str, str] | list[tuple[str, str]]:
    """The headers as a dict, or as the list of pairs when a name repeats (``Set-Cookie`` twice)."""
    names = {k.lower() for k, _ in pairs}
    return dict(pairs) if len(names) == len(pairs) else pairs


def _is_streamable(result: Any) -> bool:
    return isinstance(result, Iterator) and not isinstance(result, (str, bytes, bytearray, dict, list, tuple))


# --- running requests --------------------------------------------------------------------


class ScriptHandler:
    """Answers requests with an inspected ``run()``; :meth:`handle` never raises.

    Parameters
    ----------
    run
        The script's ``run()`` (already checked to take a data argument).
    schema
        What its inference_schema decorators declare, or ``None``: bodies are then
        parsed into typed arguments.
    is_rawhttp
        ``run()`` receives an :class:`AMLRequest` (never together with ``schema``).
    accepts_headers
        ``run()`` has a ``request_headers`` parameter.
    data_name, data_keyword
        The parameter that takes the input data, and whether it is keyword-only.
    accept
        The lower-cased media types a plain script declared in ``CONTENT_TYPES``, or ``None``.
    debug
        Put tracebacks into 500 answers (the default for local deployments).
    batch
        Batch requests into one call of ``run`` (the ``MLDEPLOY_BATCH`` setting), else as
        ``@batched`` on ``run`` says.
    """

    def __init__(self, run: Callable[..., Any], *, schema: RunSchema | None, is_rawhttp: bool,
                 accepts_headers: bool, data_name: str, data_keyword: bool,
                 accept: tuple[str, ...] | None, debug: bool, batch: BatchOptions | None = None) -> None:
        self._run: Callable[..., Any] = run
        self.schema: RunSchema | None = schema
        self.is_rawhttp = is_rawhttp
        self.accepts_headers = accepts_headers
        self.debug = debug
        self._data_name = data_name
        self._data_keyword = data_keyword
        self._accept: tuple[str, ...] | None = accept
        #: ``@batched`` options (``None``: one request per call) and, once serving, the queue
        self.batching: BatchOptions | None = batch or batch_options(run)
        self.batcher: Any = None
        if schema is not None:
            self._example = schema.example
            self._call_schema = schema.base_function or run
            self._handler: Callable[[ScoringRequest], ScoringResponse] = self._handle_schema
        elif is_rawhttp:
            self._example = DEFAULT_EXAMPLE
            self._handler = self._handle_raw
        else:
            self._example = DEFAULT_EXAMPLE
            self._handler = self._handle_plain

    def handle(self, request: ScoringRequest) -> ScoringResponse:
        """Run one request through ``run()`` and return the answer; never raises.

        Bad input gets a 4xx JSON error saying what to fix, ``run()`` raising a
        500 with the exception type and message (and the traceback in debug
        mode). ``run_ms`` holds the time spent in ``run()``.
        """
        try:
            return self._handler(request)
        except ScoringInputError as err:
            return error_response(err.status, err.code, str(err), request.request_id,
                                  parameter=getattr(err, "parameter", None))
        except Exception as err:
            logger.exception("internal error while handling request %s", request.request_id)
            return error_response(500, ErrorCode.INTERNAL,
                                  f"Internal error in the scoring server: {describe_error(err)}", request.request_id)

    def _plain_input(self, request: ScoringRequest) -> str:
        """What a plain ``run(raw_data)`` gets for ``request``: the body text (GET: the query as JSON)."""
        if request.method == "GET":
            return _dumps(query_object(request.query_string))
        if self._accept is not None:
            self._check_declared(request)
        return _decode_utf8(request.body)

    def _bad_json(self, err: json.JSONDecodeError, raw: str) -> ScoringInputError | None:
        """The 400 for a ``run()`` that could not parse the body it was given (the client's fault), else None."""
        if not (isinstance(err.doc, str) and err.doc.strip() == raw.strip()):
            return None
        empty = not raw.strip()
        return ScoringInputError(
            (f"The request body is empty. Send a JSON document like {self._example}" if empty else
             f"Invalid JSON at line {err.lineno} column {err.colno}: {err.msg}. "
             f"Send a JSON document like {self._example}"),
            400,
            ErrorCode.EMPTY_BODY if empty else ErrorCode.INVALID_JSON,
        )

    def _handle_plain(self, request: ScoringRequest) -> ScoringResponse:
        raw = self._plain_input(request)
        start = perf_counter()
        try:
            if self.accepts_headers:
                headers = Headers(request.headers)
                if self._data_keyword:
                    result = self._run(**{self._data_name: raw}, request_headers=headers)
                else:
                    result = self._run(raw, request_headers=headers)
            elif self._data_keyword:
                result = self._run(**{self._data_name: raw})
            else:
                result = self._run(raw)
        except json.JSONDecodeError as err:
            bad = self._bad_json(err, raw)
            if bad is not None:
                raise bad from err
            return self._run_failed(request, err, start)
        except ScoringInputError:
            raise
        except (Exception, SystemExit) as err:  # noqa: BLE001 - user code may raise anything
            return self._run_failed(request, err, start)
        return self._respond(result, request, start)

    # --- @batched scripts ------------------------------------------------------------------------

    def handle_batch(self, requests: list[ScoringRequest]) -> list[ScoringResponse]:
        """Answer several requests with one call of a ``@batched`` ``run``; one answer per request, never raises.

        A request whose body cannot be read gets its 4xx alone; a whole call that raises is
        repeated per request, so that only the requests that fail answer 500.
        """
        answers: list[ScoringResponse | None] = [None] * len(requests)
        taken: list[int] = []
        raws: list[str] = []
        for i, request in enumerate(requests):
            try:
                raws.append(self._plain_input(request))
                taken.append(i)
            except ScoringInputError as err:
                answers[i] = error_response(err.status, err.code, str(err), request.request_id)
        for i, answer in zip(taken, self._run_batch([requests[i] for i in taken], raws)):
            answers[i] = answer
        return [a for a in answers if a is not None]

    def _run_batch(self, requests: list[ScoringRequest], raws: list[str]) -> list[ScoringResponse]:
        if not raws:
            return []
        start = perf_counter()
        try:
            if self.accepts_headers:
                headers = [Headers(r.headers) for r in requests]
                results = (self._run(**{self._data_name: raws}, request_headers=headers) if self._data_keyword
                           else self._run(raws, request_headers=headers))
            else:
                results = self._run(**{self._data_name: raws}) if self._data_keyword else self._run(raws)
            if not isinstance(results, (list, tuple)) or len(results) != len(raws):
                got = f"{len(results)} answers" if isinstance(results, (list, tuple)) else type(results).__name__
                raise TypeError(f"a @batched run() returns a list of {len(raws)} answers, one per input, got {got}")
        except (Exception, SystemExit) as err:  # noqa: BLE001 - user code may raise anything
            if len(raws) > 1:  # find the culprits: each request alone
                return [self._run_batch([r], [raw])[0] for r, raw in zip(requests, raws)]
            bad = self._bad_json(err, raws[0]) if isinstance(err, json.JSONDecodeError) else None
            if bad is not None:
                return [error_response(bad.status, bad.code, str(bad), requests[0].request_id)]
            return [self._run_failed(requests[0], err, start)]
        return [self._run_failed(r, result, start) if isinstance(result, BaseException)
                else self._respond(result, r, start) for r, result in zip(requests, results)]

    def _check_declared(self, request: ScoringRequest) -> None:
        """Enforce the Content-Types a script declared in ``CONTENT_TYPES`` (415, and JSON validity)."""
        assert self._accept is not None
        media = request.content_type or self._accept[0]
        if not any(_media_match(media, a) for a in self._accept):
            raise ScoringInputError(
                f"This service takes {', '.join(self._accept)} bodies, not {media}: send the body with "
                f"'Content-Type: {self._accept[0]}'.",
                415,
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            )
        if _is_json_type(media):
            if not request.body.strip():
                raise ScoringInputError(
                    f"The request body is empty. Send a JSON document like {self._example}", 400, ErrorCode.EMPTY_BODY
                )
            parse_body(_decode_utf8(request.body, strip_bom=True), self._example)

    def _handle_schema(self, request: ScoringRequest) -> ScoringResponse:
        assert self.schema is not None
        if request.method == "GET":
            body: Any = query_object(request.query_string)
        else:
            media = request.content_type
            if media and not _is_json_type(media):
                raise ScoringInputError(
                    f"This service takes JSON, not {media}: send the body with 'Content-Type: application/json', "
                    f"e.g. {self._example}",
                    415,
                    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                )
            if not request.body.strip():
                raise ScoringInputError(
                    f"The request body is empty. Send a JSON object like {self._example}", 400, ErrorCode.EMPTY_BODY
                )
            body = parse_body(_decode_utf8(request.body, strip_bom=True), self._example)
        kwargs = self.schema.arguments(body)
        if self.accepts_headers:
            kwargs["request_headers"] = Headers(request.headers)
        start = perf_counter()
        try:
            result = self._call_schema(**kwargs)
        except ScoringInputError:
            raise
        except (Exception, SystemExit) as err:  # noqa: BLE001 - user code may raise anything
            return self._run_failed(request, err, start)
        return self._respond(result, request, start)

    def _handle_raw(self, request: ScoringRequest) -> ScoringResponse:
        aml_request = AMLRequest(request.method, request.path, request.query_string, request.headers,
                                 request.body, request.request_id, request.client)
        start = perf_counter()
        try:
            if self.accepts_headers:
                headers = aml_request.headers
                if self._data_keyword:
                    result = self._run(**{self._data_name: aml_request}, request_headers=headers)
                else:
                    result = self._run(aml_request, request_headers=headers)
            elif self._data_keyword:
                result = self._run(**{self._data_name: aml_request})
            else:
                result = self._run(aml_request)
        except ScoringInputError:
            raise
        except (Exception, SystemExit) as err:  # noqa: BLE001 - user code may raise anything
            return self._run_failed(request, err, start)
        return self._respond(result, request, start)

    # --- answers -----------------------------------------------------------------------------

    def _run_failed(self, request: ScoringRequest, err: BaseException, start: float,
                    what: str = "run() raised") -> ScoringResponse:
        run_ms = (perf_counter() - start) * 1000.0
        tb = format_user_traceback(err)
        logger.error("%s %s for request %s\n%s", what, describe_error(err), request.request_id, tb.rstrip())
        response = error_response(
            500,
            ErrorCode.RUN_FAILED,
            f"{what} {describe_error(err)}{user_location(err)}",
            request.request_id,
            headers={"x-ms-run-function-failed": "True"},
            exception_type=type(err).__name__,
            traceback=tb if self.debug else None,
        )
        response.run_ms = run_ms
        return response

    def _respond(self, result: Any, request: ScoringRequest, start: float) -> ScoringResponse:
        kind = type(result)
        if kind in _FAST_JSON_TYPES:
            try:
                body = _dumps(result).encode()
            except (TypeError, ValueError):
                pass
            else:
                return ScoringResponse(200, body, "application/json", {}, (perf_counter() - start) * 1000.0)
        if result is None:
            return ScoringResponse(200, b"{}", "application/json", {}, (perf_counter() - start) * 1000.0)
        if isinstance(result, AMLResponse):
            headers = [(k, v) for k, v in result.headers if k.lower() not in _SET_BY_SERVER]
            if result.run_function_failed:
                headers.append(("x-ms-run-function-failed", "True"))
            payload: bytes | Iterable[bytes] = result.stream if result.stream is not None else result.body
            return ScoringResponse(result.status_code, payload, result.content_type, _header_map(headers),
                                   (perf_counter() - start) * 1000.0)
        if isinstance(result, (bytes, bytearray, memoryview)):
            return ScoringResponse(200, bytes(result), "application/octet-stream", {},
                                   (perf_counter() - start) * 1000.0)
        if _is_streamable(result):
            return self._stream(result, request, start)
        if inspect.iscoroutine(result):  # async def run(...): run it to completion in this worker thread
            try:
                result = asyncio.run(result)
            except (Exception, SystemExit) as err:  # noqa: BLE001 - user code may raise anything
                return self._run_failed(request, err, start)
            return self._respond(result, request, start)
        if inspect.isasyncgen(result):
            return self._run_failed(
                request,
                TypeError("run() returned an async generator; return a plain generator to stream"),
                start,
                what="run() returned an unusable value:",
            )
        if hasattr(result, "get_data") and hasattr(result, "status_code") and hasattr(result, "headers"):
            return self._foreign_response(result, start)
        try:
            body = encode_result(result, self.schema.output_orient if self.schema else None)
        except UnserializableResultError as err:
            return self._run_failed(request, err, start, what="run() returned a value that is not JSON:")
        return ScoringResponse(200, body, "application/json", {}, (perf_counter() - start) * 1000.0)

    def _foreign_response(self, result: Any, start: float) -> ScoringResponse:
        """Convert a Flask/werkzeug response (the real AMLResponse when azureml is installed)."""
        headers: list[tuple[str, str]] = []
        content_type = "application/octet-stream"
        for name, value in result.headers.items():
            low = name.lower()
            if low == "content-type":
                content_type = str(value)
            elif low != "content-length":
                headers.append((name, str(value)))
        return ScoringResponse(int(result.status_code), result.get_data(), content_type, _header_map(headers),
                               (perf_counter() - start) * 1000.0)

    def _stream(self, result: Iterator[Any], request: ScoringRequest, start: float) -> ScoringResponse:
        try:
            first = next(result)
        except StopIteration:
            return ScoringResponse(200, b"", "text/plain; charset=utf-8", {}, (perf_counter() - start) * 1000.0)
        except (Exception, SystemExit) as err:  # noqa: BLE001 - user code may raise anything
            return self._run_failed(request, err, start)
        if isinstance(first, (bytes, bytearray, memoryview)):
            content_type = "application/octet-stream"
        elif isinstance(first, str):
            content_type = "text/plain; charset=utf-8"
        else:
            content_type = "application/x-ndjson"
        chunks = self._chunks(first, result, request.request_id, content_type == "application/x-ndjson")
        return ScoringResponse(200, chunks, content_type, {}, (perf_counter() - start) * 1000.0)

    def _chunks(self, first: Any, rest: Iterator[Any], request_id: str, ndjson: bool) -> Iterator[bytes]:
        try:
            yield _encode_chunk(first)
            for item in rest:
                yield _encode_chunk(item)
        except (Exception, SystemExit) as err:  # noqa: BLE001 - user code may raise anything
            tb = format_user_traceback(err)
            logger.error("run() raised %s while streaming request %s\n%s", describe_error(err), request_id,
                         tb.rstrip())
            if ndjson:
                yield error_body(ErrorCode.RUN_FAILED, f"run() raised {describe_error(err)} while streaming",
                                 request_id, traceback=tb if self.debug else None) + b"\n"
        finally:
            close = getattr(rest, "close", None)
            if close is not None:
                close()
