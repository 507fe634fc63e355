"""The Azure ML request/response objects entry scripts use: ``AMLRequest``, ``AMLResponse``, ``@rawhttp``.

They mirror the Flask/werkzeug-based classes of ``azureml.contrib.services``
and ``azureml_inference_server_http.api`` closely enough for existing scripts
(``request.method``, ``request.headers``, ``request.args``, ``get_data()``,
``get_json()``, ``files``, ``AMLResponse(body, status, headers)``) without
needing Flask or werkzeug. The azureml import shims re-export these objects.

Examples
--------
>>> from jupyter_mldeploy import AMLResponse, rawhttp
>>> @rawhttp
... def run(request):
...     return AMLResponse(request.get_data(), 200, {"Content-Type": "image/png"})
"""

from __future__ import annotations

import email.parser
import email.policy
import http.cookies
import io
import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from ..errors import ScoringInputError
from ._json import encode_result, invalid_json_message

__all__ = ["AMLRequest", "AMLResponse", "FileStorage", "Headers", "MultiDict", "is_rawhttp", "rawhttp"]

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute that :func:`rawhttp` sets on the decorated function.
RAWHTTP_ATTR = "_mldeploy_rawhttp"


def rawhttp(func: F) -> F:
    """Mark ``run()`` as wanting the raw request: it gets an :class:`AMLRequest` instead of a string.

    Examples
    --------
    >>> @rawhttp
    ... def run(request):
    ...     return {"method": request.method}
    >>> is_rawhttp(run)
    True
    """
    setattr(func, RAWHTTP_ATTR, True)
    return func


def is_rawhttp(func: Any) -> bool:
    """Return True when ``func`` was decorated with :func:`rawhttp` (ours)."""
    return bool(getattr(func, RAWHTTP_ATTR, False))


class Headers(dict):  # type: ignore[type-arg]
    """Request headers as a dict with werkzeug-style names (``Content-Type``) and case-insensitive lookups.

    ``dict(request.headers)`` in azmlinfsrv gives title-cased names; this does too, and
    ``headers.get("content-type")`` works as well. Repeated headers are joined with ``", "``.

    Examples
    --------
    >>> h = Headers([("content-type", "application/json"), ("x-custom", "1")])
    >>> h["Content-Type"], h.get("CONTENT-TYPE"), "x-custom" in h
    ('application/json', 'application/json', True)
    """

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = items.items() if hasattr(items, "items") else items
        merged: dict[str, str] = {}
        get = merged.get
        for name, value in pairs:
            key = name.title()  # str.title() lower-cases the rest: "CONTENT-TYPE" -> "Content-Type"
            old = get(key)
            merged[key] = value if old is None else f"{old}, {value}"
        super().__init__(merged)

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.title() if isinstance(key, str) else key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key.title() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:
        """Return the header ``key`` (any case), converted with ``type`` when given, else ``default``."""
        try:
            value = self[key]
        except KeyError:
            return default
        if type is None:
            return value
        try:
            return type(value)
        except (TypeError, ValueError):
            return default

    def getlist(self, key: str) -> list[str]:
        """Return the values of header ``key`` as a list (empty when absent)."""
        value = self.get(key)
        return [] if value is None else [v.strip() for v in value.split(",")]


class MultiDict(dict):  # type: ignore[type-arg]
    """Query or form arguments: ``args["k"]`` is the first value, ``getlist("k")`` all of them (as werkzeug)."""

    def __init__(self, pairs: Iterable[tuple[str, Any]] = ()) -> None:
        super().__init__()
        self._lists: dict[str, list[Any]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)
            if key not in self:
                dict.__setitem__(self, key, value)

    def getlist(self, key: str, type: Callable[[Any], Any] | None = None) -> list[Any]:
        """Return every value given for ``key``."""
        values = list(self._lists.get(key, []))
        return values if type is None else [type(v) for v in values]

    def get(self, key: str, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any:
        """Return the first value for ``key`` (converted with ``type`` when given), else ``default``."""
        if key not in self:
            return default
        value = dict.__getitem__(self, key)
        if type is None:
            return value
        try:
            return type(value)
        except (TypeError, ValueError):
            return default

    def lists(self) -> Iterator[tuple[str, list[Any]]]:
        """Yield ``(key, [values])`` pairs."""
        for key, values in self._lists.items():
            yield key, list(values)

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        """Return a plain dict: first values (``flat=True``) or lists of values."""
        return dict(self) if flat else {k: list(v) for k, v in self._lists.items()}


class FileStorage:
    """An uploaded file of a multipart form (``request.files["image"]``), like werkzeug's."""

    def __init__(self, data: bytes, filename: str | None, name: str, content_type: str | None) -> None:
        self.filename = filename
        self.name = name
        self.content_type = content_type
        self.mimetype = (content_type or "").split(";", 1)[0].strip()
        self.stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        """Read bytes from the uploaded file."""
        return self.stream.read(size)

    def save(self, dst: str | Path | io.IOBase, buffer_size: int = 16384) -> None:
        """Write the uploaded file to a path or an open binary file."""
        self.stream.seek(0)
        if isinstance(dst, (str, Path)):
            with open(dst, "wb") as fh:
                shutil.copyfileobj(self.stream, fh, buffer_size)
        else:
            shutil.copyfileobj(self.stream, dst, buffer_size)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"<FileStorage: {self.filename!r} ({self.content_type!r})>"


def _parse_multipart(body: bytes, content_type: str) -> tuple[MultiDict, MultiDict]:
    """Split a multipart/form-data body into (form fields, files) with the stdlib email parser."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    form: list[tuple[str, Any]] = []
    files: list[tuple[str, Any]] = []
    if not message.is_multipart():
        return MultiDict(), MultiDict()
    for part in message.iter_parts():  # type: ignore[attr-defined]
        raw_name = part.get_param("name", header="content-disposition")
        if raw_name is None:
            continue
        name = str(raw_name if isinstance(raw_name, str) else raw_name[2])
        payload: bytes = part.get_payload(decode=True) or b""  # type: ignore[assignment]
        filename = part.get_filename()
        if filename is not None:
            files.append((name, FileStorage(payload, filename, name, part.get("content-type"))))
        else:
            charset = part.get_content_charset() or "utf-8"
            form.append((name, payload.decode(charset, errors="replace")))
    return MultiDict(form), MultiDict(files)


class AMLRequest:
    """The HTTP request a ``@rawhttp`` ``run(request)`` receives (a werkzeug-like subset, no Flask needed).

    Attributes: ``method``, ``path``, ``full_path``, ``query_string`` (bytes),
    ``args``, ``headers``, ``data``, ``json``, ``content_type``, ``mimetype``,
    ``content_length``, ``form``, ``files``, ``values``, ``stream``, ``url``,
    ``cookies``, ``environ``, ``remote_addr`` (None).

    Examples
    --------
    >>> req = AMLRequest("POST", "/score", "a=1&a=2", [("content-type", "application/json")], b'{"x": 1}')
    >>> req.args.getlist("a"), req.get_json(), req.full_path
    (['1', '2'], {'x': 1}, '/score?a=1&a=2')
    """

    def __init__(
        self,
        method: str = "GET",
        path: str = "/score",
        query_string: str | bytes = "",
        headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes = b"",
        request_id: str = "-",
    ) -> None:
        self.method = method.upper()
        self.path = path
        self._qs = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
        self._raw_headers = headers
        self._headers: Headers | None = None
        self._body = body
        self.request_id = request_id
        self._args: MultiDict | None = None
        self._form: tuple[MultiDict, MultiDict] | None = None
        self._json: Any = _UNSET

    # --- URL -------------------------------------------------------------------------------

    @property
    def query_string(self) -> bytes:
        """The raw query string, as bytes (werkzeug)."""
        return self._qs.encode("latin-1", errors="replace")

    @property
    def headers(self) -> Headers:
        """Request headers: werkzeug-style names, case-insensitive lookups."""
        if self._headers is None:
            self._headers = Headers(self._raw_headers)
        return self._headers

    @property
    def full_path(self) -> str:
        """Path and query string, always with ``?`` (as werkzeug)."""
        return f"{self.path}?{self._qs}"

    @property
    def url(self) -> str:
        """The full URL, built from the ``Host`` header."""
        host = self.headers.get("Host", "localhost")
        return f"http://{host}{self.path}" + (f"?{self._qs}" if self._qs else "")

    @property
    def args(self) -> MultiDict:
        """Query parameters (first value by ``args[k]``, all by ``args.getlist(k)``)."""
        if self._args is None:
            self._args = MultiDict(parse_qsl(self._qs, keep_blank_values=True))
        return self._args

    # --- headers ---------------------------------------------------------------------------

    @property
    def content_type(self) -> str | None:
        """The raw ``Content-Type`` header, or None."""
        return self.headers.get("Content-Type")

    @property
    def mimetype(self) -> str:
        """The media type without parameters, lower-cased (``""`` when absent)."""
        return (self.content_type or "").split(";", 1)[0].strip().lower()

    @property
    def content_length(self) -> int:
        """Length of the body in bytes."""
        return len(self._body)

    @property
    def is_json(self) -> bool:
        """True for ``application/json`` and ``application/*+json`` bodies."""
        mt = self.mimetype
        return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))

    # --- body ------------------------------------------------------------------------------

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> Any:
        """Return the body: bytes, or text with ``as_text=True`` (undecodable bytes replaced).

        Unlike Flask, form-encoded bodies are returned too (Flask gives ``b""`` for them).
        """
        if as_text:
            return self._body.decode("utf-8", errors="replace")
        return self._body

    @property
    def data(self) -> bytes:
        """The raw body bytes (whatever the Content-Type)."""
        return self._body

    @property
    def stream(self) -> io.BytesIO:
        """The body as a readable binary stream."""
        return io.BytesIO(self._body)

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """Parse the body as JSON.

        Returns None when the Content-Type is neither JSON nor absent (unless
        ``force``). Invalid JSON raises :class:`~jupyter_mldeploy.errors.ScoringInputError`,
        which the server answers with 400 and the position (or None with ``silent``).
        """
        if self._json is not _UNSET and cache:
            return self._json
        if not (force or self.is_json or not self.mimetype):
            return None
        try:
            text = self._body.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            if silent:
                return None
            raise ScoringInputError(
                f"The request body is not valid UTF-8 ({err.reason} at byte {err.start}); send JSON encoded as UTF-8.",
                400,
                "NotUTF8",
            ) from err
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            if silent:
                return None
            raise ScoringInputError(invalid_json_message(err), 400, "InvalidJSON") from err
        except (ValueError, RecursionError) as err:
            if silent:
                return None
            raise ScoringInputError(f"Invalid JSON: {err}", 400, "InvalidJSON") from err
        if cache:
            self._json = value
        return value

    @property
    def json(self) -> Any:
        """The parsed JSON body (see :meth:`get_json`)."""
        return self.get_json()

    def _forms(self) -> tuple[MultiDict, MultiDict]:
        if self._form is None:
            mt = self.mimetype
            if mt == "application/x-www-form-urlencoded":
                text = self._body.decode("utf-8", errors="replace")
                self._form = (MultiDict(parse_qsl(text, keep_blank_values=True)), MultiDict())
            elif mt == "multipart/form-data":
                self._form = _parse_multipart(self._body, self.content_type or "")
            else:
                self._form = (MultiDict(), MultiDict())
        return self._form

    @property
    def form(self) -> MultiDict:
        """Fields of a url-encoded or multipart form body."""
        return self._forms()[0]

    @property
    def files(self) -> MultiDict:
        """Uploaded files of a multipart body, as :class:`FileStorage` objects."""
        return self._forms()[1]

    @property
    def values(self) -> MultiDict:
        """Query arguments and form fields together."""
        return MultiDict([*((k, v) for k, vs in self.args.lists() for v in vs), *((k, v) for k, vs in self.form.lists() for v in vs)])

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent in the ``Cookie`` header."""
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            return {}
        return {name: morsel.value for name, morsel in jar.items()}

    @property
    def remote_addr(self) -> str | None:
        """Not known to entry scripts here (None), as behind Azure's front end."""
        return None

    @property
    def environ(self) -> dict[str, Any]:
        """A WSGI-style environ built from the request (for scripts that read ``REQUEST_METHOD`` etc.)."""
        env: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "PATH_INFO": self.path,
            "QUERY_STRING": self._qs,
            "CONTENT_TYPE": self.content_type or "",
            "CONTENT_LENGTH": str(len(self._body)),
            "wsgi.input": self.stream,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                env[f"HTTP_{key}"] = value
        return env

    def __repr__(self) -> str:
        return f"<AMLRequest {self.method} {self.full_path!r} ({len(self._body)} bytes)>"


class _Unset:
    pass


_UNSET: Any = _Unset()


class AMLResponse:
    """An HTTP response a ``run()`` can return to choose status, headers and body.

    ``AMLResponse(message, status_code, response_headers=None, json_str=False)``
    as in Azure ML: ``json_str=True`` sends ``json.dumps(message)`` as
    ``application/json``; ``None`` sends ``{}``. Otherwise ``str`` bodies go as
    ``text/plain; charset=utf-8`` and bytes as ``application/octet-stream``
    unless ``response_headers`` has a ``Content-Type``; dicts and lists are
    sent as JSON; an iterator of chunks is streamed.

    Examples
    --------
    >>> r = AMLResponse(b"\\x89PNG", 200, {"Content-Type": "image/png"})
    >>> r.status_code, r.content_type, r.get_data()
    (200, 'image/png', b'\\x89PNG')
    >>> AMLResponse({"error": "bad input"}, 400, json_str=True).get_data(as_text=True)
    '{"error": "bad input"}'
    """

    def __init__(
        self,
        message: Any,
        status_code: int | str = 200,
        response_headers: Mapping[str, str] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        self.status_code = int(status_code)
        headers = dict(response_headers or {})
        content_type = None
        for name in list(headers):
            if name.lower() == "content-type":
                content_type = str(headers.pop(name))
        self.headers: dict[str, str] = {str(k): str(v) for k, v in headers.items()}
        self.stream: Iterable[bytes] | None = None
        if message is None:
            body, default_type = b"{}", "application/json"
        elif json_str or isinstance(message, (dict, list, tuple, int, float, bool)):
            body, default_type = encode_result(message), "application/json"
        elif isinstance(message, str):
            body, default_type = message.encode(), "text/plain; charset=utf-8"
        elif isinstance(message, (bytes, bytearray, memoryview)):
            body, default_type = bytes(message), "application/octet-stream"
        elif isinstance(message, Iterable):
            body, default_type = b"", "application/octet-stream"
            self.stream = (c if isinstance(c, bytes) else str(c).encode() for c in message)
        else:
            body, default_type = encode_result(message), "application/json"
        self.body = body
        self.content_type = content_type or default_type
        self.run_function_failed = run_function_failed or self.status_code >= 500

    @property
    def status(self) -> str:
        """Status as text, e.g. ``"200"``."""
        return str(self.status_code)

    @property
    def mimetype(self) -> str:
        """The content type without parameters."""
        return self.content_type.split(";", 1)[0].strip()

    def get_data(self, as_text: bool = False) -> Any:
        """Return the body as bytes (or text with ``as_text=True``)."""
        return self.body.decode("utf-8", errors="replace") if as_text else self.body

    @property
    def data(self) -> bytes:
        """The body bytes."""
        return self.body

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<AMLResponse {self.status_code} {self.content_type!r} ({len(self.body)} bytes)>"
