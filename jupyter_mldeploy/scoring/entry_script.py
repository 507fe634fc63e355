"""Load an Azure ML v1 entry script (``init()``/``run()``) and run one scoring request through it.

:func:`load_entry_script` imports the script as a fresh module and inspects
``run()`` once (``request_headers``? ``@rawhttp``? inference_schema
decorators?). :meth:`EntryScript.handle` then turns a framework-free
:class:`~jupyter_mldeploy.scoring.contract.ScoringRequest` into ``run()``'s
arguments, calls it, and turns what it returns (or raises) into a
:class:`~jupyter_mldeploy.scoring.contract.ScoringResponse`, the way
azmlinfsrv does for existing scripts, with precise 4xx answers for bad input.

Examples
--------
>>> from jupyter_mldeploy.scoring.entry_script import load_entry_script     # doctest: +SKIP
>>> from jupyter_mldeploy.scoring.contract import ScoringRequest              # doctest: +SKIP
>>> script = load_entry_script("score.py")                                  # doctest: +SKIP
>>> script.init()                                                           # doctest: +SKIP
>>> req = ScoringRequest("POST", "/score", "", [("content-type", "application/json")], b'{"data": [[1, 2]]}', "r1")
>>> script.handle(req).body                                                 # doctest: +SKIP
b'{"predictions": [5.0]}'
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import itertools
import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from time import perf_counter
from types import ModuleType, TracebackType
from typing import Any
from urllib.parse import parse_qsl

from ..errors import (
    EntryScriptError,
    EntryScriptLoadError,
    InitError,
    ScoringInputError,
)
from . import azureml_shim
from ._json import DEFAULT_EXAMPLE, UnserializableResultError, encode_result, parse_body
from .aml import AMLRequest, AMLResponse, is_rawhttp
from .contract import ErrorCode, ScoringRequest, ScoringResponse, error_body, error_response
from .datastructures import Headers
from .schema import RunSchema, inspect_run_schema
from .swagger import build_swagger, normalize_version, read_user_swagger

__all__ = ["CONTENT_TYPES_ATTR", "EntryScript", "load_entry_script"]

logger = logging.getLogger("jupyter_mldeploy.scoring.entry_script")

#: Optional module attribute of a script: the Content-Types its ``run()`` accepts for POST bodies.
CONTENT_TYPES_ATTR = "CONTENT_TYPES"

#: Methods ``/score`` passes to a ``@rawhttp`` script (azmlinfsrv: GET and POST only).
RAWHTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
DEFAULT_METHODS = frozenset({"GET", "POST"})

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
_module_counter = itertools.count(1)
_load_lock = threading.Lock()
_dumps = json.dumps
_FAST_JSON_TYPES = frozenset({dict, list, str, int, float, bool, tuple})
# Real Azure modules whose @rawhttp sets a process-wide flag instead of marking the function.
_REAL_RAWHTTP_MODULES = ("azureml.contrib.services.aml_request", "azureml_inference_server_http.api.aml_request")


# --- tracebacks ------------------------------------------------------------------------


def _is_internal(filename: str) -> bool:
    return filename.startswith((_PACKAGE_DIR, "<frozen"))


def _user_tb(tb: TracebackType | None) -> TracebackType | None:
    """Skip our own and importlib's frames at the top of a traceback."""
    while tb is not None and _is_internal(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


def format_user_traceback(err: BaseException) -> str:
    """Format ``err``'s traceback starting at the first frame of the user's code."""
    tb = _user_tb(err.__traceback__)
    return "".join(traceback.format_exception(type(err), err, tb))


def _where(err: BaseException) -> str:
    """`` (at file:line)`` for the deepest frame of the traceback outside our package."""
    last = None
    tb = err.__traceback__
    while tb is not None:
        if not _is_internal(tb.tb_frame.f_code.co_filename):
            last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    return f" (at {last.tb_frame.f_code.co_filename}:{last.tb_lineno})"


def _describe(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


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


def _is_streamable(result: Any) -> bool:
    return isinstance(result, Iterator) and not isinstance(result, (str, bytes, bytearray, dict, list, tuple))


# --- the entry script --------------------------------------------------------------------


class EntryScript:
    """A loaded entry script: call :meth:`init` once, then :meth:`handle` for each request.

    Attributes
    ----------
    path, source_dir : Path
        The script file and the folder put first on ``sys.path``.
    module : ModuleType
        The imported script module (a unique name per load).
    is_rawhttp : bool
        ``run()`` is decorated with ``@rawhttp`` and receives an :class:`AMLRequest`.
    has_schema : bool
        ``run()`` has inference_schema decorators; bodies are parsed into typed arguments.
    allowed_methods : frozenset[str]
        Methods ``/score`` passes to this script.
    debug : bool
        Put tracebacks into 500 answers (the default for local deployments).
    """

    def __init__(self, module: ModuleType, path: Path, source_dir: Path, *, debug: bool = False,
                 real_rawhttp: bool = False) -> None:
        self.module = module
        self.path = path
        self.source_dir = source_dir
        self.debug = debug
        self._swagger_cache: dict[tuple[Any, ...], dict[str, Any]] = {}

        run = getattr(module, "run", None)
        driver = getattr(module, "driver_module", None)  # Azure SDK driver scripts forward to the real one
        if isinstance(driver, ModuleType) and callable(getattr(driver, "run", None)):
            run = driver.run
        if not callable(run):
            raise EntryScriptError(
                f"{path} has no run() function. Define one that takes the request data and returns the "
                "prediction, e.g.\n\ndef run(raw_data):\n    data = json.loads(raw_data)[\"data\"]\n    return model.predict(data).tolist()"
            )
        user_init = getattr(module, "init", None)
        if user_init is not None and not callable(user_init):
            raise EntryScriptError(f"{path}: init is not a function ({type(user_init).__name__}); define def init(): ...")
        self._run: Callable[..., Any] = run
        self._user_init: Callable[[], Any] | None = user_init

        try:
            params = list(inspect.signature(run).parameters.values())
        except (TypeError, ValueError):
            params = [inspect.Parameter("raw_data", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        self.accepts_headers = any(p.name == "request_headers" for p in params)
        data_params = [p for p in params if p.name != "request_headers" and p.kind is not p.VAR_KEYWORD]
        if not data_params:
            raise EntryScriptError(
                f"run() in {path} takes no argument for the input data; declare one, e.g. def run(raw_data): ..."
                + (" (request_headers alone is not enough)" if self.accepts_headers else "")
            )

        self.is_rawhttp = is_rawhttp(run) or real_rawhttp
        self.schema: RunSchema | None = inspect_run_schema(run, exclude=frozenset({"request_headers"}))
        self.has_schema = self.schema is not None
        if self.is_rawhttp and self.has_schema:
            raise EntryScriptError(
                f"run() in {path} is decorated with both @rawhttp and @input_schema; use one: @rawhttp to read "
                "the raw request yourself, or the schema decorators to get typed arguments."
            )
        self.allowed_methods = RAWHTTP_METHODS if self.is_rawhttp else DEFAULT_METHODS

        accept = getattr(module, CONTENT_TYPES_ATTR, None)
        if isinstance(accept, str):
            accept = [accept]
        self._accept: tuple[str, ...] | None = (
            tuple(str(a).split(";", 1)[0].strip().lower() for a in accept) if accept else None
        )

        first = data_params[0]
        self._data_name = first.name
        self._data_keyword = first.kind is first.KEYWORD_ONLY
        if self.has_schema:
            assert self.schema is not None
            self._example = self.schema.example
            self._call_schema = self.schema.base_function or run
            self._handler: Callable[[ScoringRequest], ScoringResponse] = self._handle_schema
        elif self.is_rawhttp:
            self._example = DEFAULT_EXAMPLE
            self._handler = self._handle_raw
        else:
            self._example = DEFAULT_EXAMPLE
            self._handler = self._handle_plain

    @property
    def kind(self) -> str:
        """``"rawhttp"``, ``"schema"`` or ``"plain"``: how ``run()`` gets its input (for logs and UIs)."""
        return "rawhttp" if self.is_rawhttp else "schema" if self.has_schema else "plain"

    def __repr__(self) -> str:
        return f"<EntryScript {self.path} ({self.kind})>"

    # --- lifecycle ---------------------------------------------------------------------------

    def init(self) -> None:
        """Call the script's ``init()`` (if it has one).

        Raises
        ------
        InitError
            ``init()`` raised; ``traceback_text`` holds the traceback from the script's frames on.
        """
        if self._user_init is None:
            return
        try:
            self._user_init()
        except (Exception, SystemExit) as err:
            tb = format_user_traceback(err)
            raise InitError(
                f"init() in {self.path} failed with {_describe(err)}{_where(err)}. Fix the script (see the "
                "traceback) and deploy or reload again.",
                tb,
            ) from err

    # --- requests ----------------------------------------------------------------------------

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
            return error_response(500, ErrorCode.INTERNAL, f"Internal error in the scoring server: {_describe(err)}",
                                  request.request_id)

    def _handle_plain(self, request: ScoringRequest) -> ScoringResponse:
        if request.method == "GET":
            raw = _dumps(query_object(request.query_string))
        else:
            if self._accept is not None:
                self._check_declared(request)
            raw = _decode_utf8(request.body)
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
            if isinstance(err.doc, str) and err.doc.strip() == raw.strip():
                # run() could not parse the body it was given: the client's fault, not a crash
                empty = not raw.strip()
                raise ScoringInputError(
                    (f"The request body is empty. Send a JSON document like {self._example}" if empty else
                     f"Invalid JSON at line {err.lineno} column {err.colno}: {err.msg}. "
                     f"Send a JSON document like {self._example}"),
                    400,
                    ErrorCode.EMPTY_BODY if empty else ErrorCode.INVALID_JSON,
                ) from err
            return self._run_failed(request, err, start)
        except ScoringInputError:
            raise
        except (Exception, SystemExit) as err:  # noqa: BLE001 - user code may raise anything
            return self._run_failed(request, err, start)
        return self._respond(result, request, start)

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
                                 request.body, request.request_id)
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
        logger.error("%s %s for request %s\n%s", what, _describe(err), request.request_id, tb.rstrip())
        response = error_response(
            500,
            ErrorCode.RUN_FAILED,
            f"{what} {_describe(err)}{_where(err)}",
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
            headers = dict(result.headers)
            if result.run_function_failed:
                headers["x-ms-run-function-failed"] = "True"
            payload: bytes | Iterable[bytes] = result.stream if result.stream is not None else result.body
            return ScoringResponse(result.status_code, payload, result.content_type, headers,
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
        headers: dict[str, str] = {}
        content_type = "application/octet-stream"
        for name, value in result.headers.items():
            low = name.lower()
            if low == "content-type":
                content_type = str(value)
            elif low != "content-length":
                headers[name] = f"{headers[name]}, {value}" if name in headers else str(value)
        return ScoringResponse(int(result.status_code), result.get_data(), content_type, headers,
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
            logger.error("run() raised %s while streaming request %s\n%s", _describe(err), request_id, tb.rstrip())
            if ndjson:
                yield error_body(ErrorCode.RUN_FAILED, f"run() raised {_describe(err)} while streaming", request_id,
                                 traceback=tb if self.debug else None) + b"\n"
        finally:
            close = getattr(rest, "close", None)
            if close is not None:
                close()

    # --- swagger -------------------------------------------------------------------------------

    def swagger(self, version: int | str = 2, *, service_name: str = "mldeploy", host: str | None = None,
                auth: bool = False) -> dict[str, Any]:
        """Return the ``swagger.json`` document (OpenAPI 2 for ``version=2``, 3 for ``version=3``).

        Generated from the inference_schema decorators (a minimal valid spec
        without them); a ``swagger.json``/``swagger2.json``/``swagger3.json``
        next to the script is returned instead, as azmlinfsrv does.

        Raises
        ------
        InvalidArgumentError
            Unknown version, or Swagger 2 cannot describe the schema (mixed-type arrays): ask for 3.
        """
        v = normalize_version(version)
        user = read_user_swagger(self.source_dir, v)
        if user is not None:
            return user
        key = (v, service_name, host, auth)
        doc = self._swagger_cache.get(key)
        if doc is None:
            doc = build_swagger(self.schema, v, service_name=service_name, host=host, auth=auth)
            self._swagger_cache[key] = doc
        return json.loads(_dumps(doc))  # a copy the caller may change


# --- loading ---------------------------------------------------------------------------------


def _reset_real_rawhttp_flags() -> None:
    for name in _REAL_RAWHTTP_MODULES:
        module = sys.modules.get(name)
        if module is not None and not azureml_shim.is_shim(module) and hasattr(module, "_rawHttpRequested"):
            setattr(module, "_rawHttpRequested", False)  # noqa: B010 - third-party module global


def _real_rawhttp_requested() -> bool:
    for name in _REAL_RAWHTTP_MODULES:
        module = sys.modules.get(name)
        if module is not None and not azureml_shim.is_shim(module) and getattr(module, "_rawHttpRequested", False):
            return True
    return False


def _module_name(script: Path) -> str:
    stem = re.sub(r"\W", "_", script.stem) or "script"
    return f"mldeploy_entry_{next(_module_counter)}_{stem}"


def load_entry_script(path: str | Path, source_dir: str | Path | None = None, *, debug: bool = False) -> EntryScript:
    """Import an entry script as a fresh module and inspect its ``run()``.

    Parameters
    ----------
    path
        The entry script (``score.py``).
    source_dir
        Folder put first on ``sys.path`` so the script can import its neighbours
        (default: the script's folder).
    debug
        Put tracebacks into 500 answers (local deployments do).

    Raises
    ------
    EntryScriptError
        The file is missing, has no ``run()``, or ``run()`` is unusable.
    EntryScriptLoadError
        Importing the script failed (syntax error, missing package, exception);
        ``traceback_text`` holds the details.

    Examples
    --------
    >>> script = load_entry_script("tests/scoring/scripts/plain_json.py")   # doctest: +SKIP
    >>> script.init(); script.has_schema                                     # doctest: +SKIP
    False
    """
    script = Path(path).expanduser()
    if not script.is_absolute():
        script = Path.cwd() / script
    if not script.exists():
        raise EntryScriptError(
            f"Entry script not found: {script} does not exist (working folder {os.getcwd()}). "
            "Pass the path of your score.py, relative to the working folder or absolute."
        )
    if script.is_dir():
        raise EntryScriptError(
            f"{script} is a folder, not an entry script; pass the script inside it, e.g. {script / 'score.py'}."
        )
    src = Path(source_dir).expanduser() if source_dir is not None else script.parent
    if not src.is_absolute():
        src = Path.cwd() / src
    if not src.is_dir():
        raise EntryScriptError(f"source_dir {src} is not a folder; pass the folder that holds the script's code.")

    azureml_shim.install()
    with _load_lock:
        if not sys.path or sys.path[0] != str(src):
            sys.path.insert(0, str(src))
        name = _module_name(script)
        spec = importlib.util.spec_from_file_location(name, script)
        if spec is None or spec.loader is None:
            raise EntryScriptError(f"{script} cannot be imported as Python code; the entry script must be a .py file.")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        _reset_real_rawhttp_flags()
        try:
            spec.loader.exec_module(module)
        except SyntaxError as err:
            sys.modules.pop(name, None)
            where = f"line {err.lineno}" if err.filename == str(script) else f"{err.filename}, line {err.lineno}"
            code_line = f"\n    {err.text.strip()}" if err.text else ""
            raise EntryScriptLoadError(
                f"Entry script {script} has a syntax error at {where}: {err.msg}. Fix it and deploy or reload "
                f"again.{code_line}",
                format_user_traceback(err),
            ) from err
        except (Exception, SystemExit) as err:
            sys.modules.pop(name, None)
            hint = (
                " Add the missing package to the environment (requirements) or fix the import."
                if isinstance(err, ImportError)
                else " Fix the script (see the traceback) and deploy or reload again."
            )
            raise EntryScriptLoadError(
                f"Importing entry script {script} failed with {_describe(err)}{_where(err)}.{hint}",
                format_user_traceback(err),
            ) from err
        real_rawhttp = _real_rawhttp_requested()
    try:
        return EntryScript(module, script, src, debug=debug, real_rawhttp=real_rawhttp)
    except EntryScriptError:
        sys.modules.pop(name, None)
        raise
