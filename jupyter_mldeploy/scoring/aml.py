"""The Azure ML request/response objects entry scripts use: ``AMLRequest``, ``AMLResponse``, ``@rawhttp``.

They mirror the Flask/werkzeug-based classes of ``azureml.contrib.services``
and ``azureml_inference_server_http.api`` closely enough for existing scripts
(``request.method``, ``request.headers``, ``request.args``, ``get_data()``,
``get_json()``, ``files``, ``AMLResponse(body, status, headers)``) without
needing Flask or werkzeug. The azureml import shims re-export these objects.
The werkzeug-style containers they hand out (``Headers``, ``MultiDict``,
``FileStorage``) are in :mod:`.datastructures`.

Examples
--------
>>> from jupyter_mldeploy import AMLResponse, rawhttp
>>> @rawhttp
... def run(request):
...     return AMLResponse(request.get_data(), 200, {"Content-Type": "image/png"})
"""

from __future__ import annotations

import http
import http.cookies
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from ..errors import ScoringInputError
from ._json import encode_result, invalid_json_message
from .datastructures import HeaderList, Headers, MultiDict, parse_multipart

__all__ = ["AMLRequest", "AMLResponse", "is_rawhttp", "rawhttp"]

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


class AMLRequest:
    """The HTTP request a ``@rawhttp`` ``run(request)`` receives: werkzeug's ``Request``, without Flask.

    What azmlinfsrv hands such scripts is a Flask request; this object answers the
    same: ``method``, ``path``, ``full_path``, ``url``, ``host``, ``host_url``,
    ``url_root``, ``base_url``, ``scheme``, ``query_string`` (bytes), ``args``,
    ``headers`` (iterating yields ``(name, value)`` pairs), ``data``, ``stream``,
    ``get_data()``, ``get_json()``, ``json``, ``is_json``, ``content_type``,
    ``mimetype``, ``mimetype_params``, ``content_length``, ``form``, ``files``,
    ``values``, ``cookies``, ``environ``, ``remote_addr``.
    tests/scoring/test_werkzeug_parity.py checks them against werkzeug.

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
        remote_addr: str | None = None,
    ) -> None:
        self.method = method.upper()
        self.path = path
        self._qs = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
        self._raw_headers = headers
        self._headers: HeaderList | None = None
        self._body = body
        self._stream: io.BytesIO | None = None
        self.request_id = request_id
        self.remote_addr = remote_addr
        self._args: MultiDict | None = None
        self._form: tuple[MultiDict, MultiDict] | None = None
        self._json: Any = _UNSET

    # --- URL -------------------------------------------------------------------------------

    @property
    def query_string(self) -> bytes:
        """The raw query string, as bytes (werkzeug)."""
        return self._qs.encode("latin-1", errors="replace")

    @property
    def headers(self) -> HeaderList:
        """Request headers (read-only): ``(name, value)`` pairs, names as werkzeug writes them, any-case lookups.

        Repeated headers come joined with ``", "``, as a WSGI server hands them to Flask.
        """
        if self._headers is None:
            self._headers = HeaderList(Headers(self._raw_headers).items(), readonly=True)
        return self._headers

    @property
    def scheme(self) -> str:
        """``http`` (TLS ends in front of the server, if anywhere)."""
        return "http"

    @property
    def host(self) -> str:
        """The ``Host`` header (``host:port``), as werkzeug."""
        return str(self.headers.get("Host", "localhost"))

    @property
    def host_url(self) -> str:
        """``http://host/``."""
        return f"{self.scheme}://{self.host}/"

    @property
    def url_root(self) -> str:
        """``http://host/`` (the application is mounted at the root)."""
        return self.host_url

    @property
    def base_url(self) -> str:
        """The URL without the query string (an IRI: escaped UTF-8 shown as text, as werkzeug)."""
        return f"{self.scheme}://{self.host}{_iri(self.path, '%/;?')}"

    @property
    def full_path(self) -> str:
        """Path and query string, always with ``?`` (as werkzeug)."""
        return f"{self.path}?{self._qs}"

    @property
    def url(self) -> str:
        """The full URL, built from the ``Host`` header."""
        return self.base_url + (f"?{_iri(self._qs, '%;/?:@&=+,$#')}" if self._qs else "")

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
    def mimetype_params(self) -> dict[str, str]:
        """The Content-Type's parameters (``{"charset": "utf-8"}``)."""
        params: dict[str, str] = {}
        for piece in (self.content_type or "").split(";")[1:]:
            key, sep, value = piece.partition("=")
            if sep:
                params[key.strip().lower()] = value.strip().strip('"')
        return params

    @property
    def content_length(self) -> int | None:
        """The ``Content-Length`` header as a number (None when absent, e.g. a chunked body), as werkzeug."""
        value = self.headers.get("Content-Length")
        try:
            return None if value is None else int(value)
        except ValueError:
            return None

    @property
    def is_json(self) -> bool:
        """True for ``application/json`` and ``application/*+json`` bodies."""
        mt = self.mimetype
        return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))

    # --- body ------------------------------------------------------------------------------

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> Any:
        """Return the body: bytes, or text with ``as_text=True`` (undecodable bytes replaced).

        The body stays readable after ``form``/``files`` were read (werkzeug then gives ``b""``).
        """
        if parse_form_data and self.mimetype in _FORM_TYPES:
            return "" if as_text else b""
        if as_text:
            return self._body.decode("utf-8", errors="replace")
        return self._body

    @property
    def data(self) -> bytes:
        """The raw body, except for form bodies (``b""``: read ``form``/``files``), as werkzeug."""
        return self.get_data(parse_form_data=True)

    @property
    def stream(self) -> io.BytesIO:
        """The body as one readable binary stream (reading it moves on, as werkzeug's)."""
        if self._stream is None:
            self._stream = io.BytesIO(b"" if self.mimetype in _FORM_TYPES else self._body)
        return self._stream

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """Parse the body as JSON (as werkzeug: ``silent=True`` gives None instead of raising).

        A Content-Type that is not JSON raises :class:`~jupyter_mldeploy.errors.ScoringInputError`
        (answered 415, as werkzeug's ``UnsupportedMediaType``) unless ``force``; a body with
        no Content-Type at all is read as JSON. Invalid JSON raises it too (answered 400 with
        the position).
        """
        if self._json is not _UNSET and cache:
            return self._json
        if not (force or self.is_json or not self.mimetype):
            if silent:
                return None
            raise ScoringInputError(
                f"run() asked for the JSON body, but the request's Content-Type is {self.mimetype!r}: send "
                "the body with 'Content-Type: application/json'.",
                415,
                "UnsupportedMediaType",
            )
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
                self._form = parse_multipart(self._body, self.content_type or "")
            else:
                self._form = (MultiDict(), MultiDict())
        return self._form

    @property
    def form(self) -> MultiDict:
        """Fields of a url-encoded or multipart form body."""
        return self._forms()[0]

    @property
    def files(self) -> MultiDict:
        """Uploaded files of a multipart body, as :class:`~.datastructures.FileStorage` objects."""
        return self._forms()[1]

    @property
    def values(self) -> MultiDict:
        """Query arguments and form fields together."""
        return MultiDict([*self.args.items(multi=True), *self.form.items(multi=True)])

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
    def environ(self) -> dict[str, Any]:
        """A WSGI environ built from the request (for scripts that read ``REQUEST_METHOD`` etc.)."""
        host, _, port = self.host.partition(":")
        env: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": self.path,
            "QUERY_STRING": self._qs,
            "CONTENT_TYPE": self.content_type or "",
            "CONTENT_LENGTH": str(len(self._body)),
            "SERVER_NAME": host,
            "SERVER_PORT": port or "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr or "",
            "wsgi.url_scheme": self.scheme,
            "wsgi.input": io.BytesIO(self._body),
        }
        for name, value in self.headers:
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                env[f"HTTP_{key}"] = value
        return env

    def __repr__(self) -> str:
        return f"<AMLRequest {self.method} {self.full_path!r} ({len(self._body)} bytes)>"


_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _iri(text: str, keep_escaped: str) -> str:
    """Unescape ``%XX`` runs that are UTF-8 text, except the characters of ``keep_escaped`` (werkzeug's ``uri_to_iri``)."""

    def decode(match: re.Match[str]) -> str:
        raw = bytes.fromhex(match.group(0).replace("%", ""))
        chars = raw.decode("utf-8", errors="surrogateescape")
        return "".join(
            "".join(f"%{b:02X}" for b in c.encode("utf-8", errors="surrogateescape")) if c in keep_escaped
            or "\udc80" <= c <= "\udcff" else c
            for c in chars
        )

    return _ESCAPES.sub(decode, text) if "%" in text else text


_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class _Unset:
    pass


_UNSET: Any = _Unset()


class AMLResponse:
    """An HTTP response a ``run()`` can return to choose status, headers and body (werkzeug's ``Response``).

    ``AMLResponse(message, status_code, response_headers=None, json_str=False)``
    as in Azure ML: ``json_str=True`` sends ``json.dumps(message)`` as
    ``application/json``; ``None`` sends ``{}``. Otherwise ``str`` bodies go as
    ``text/plain; charset=utf-8`` and bytes as ``application/octet-stream``
    unless ``response_headers`` (a mapping or a list of pairs) has a
    ``Content-Type``; dicts and lists are sent as JSON; an iterator of chunks is
    streamed. Afterwards, as on werkzeug's ``Response``, ``status_code``,
    ``status``, ``headers`` (with ``Content-Type`` among them), ``content_type``,
    ``mimetype`` and ``data`` can be set, and ``set_data()``/``get_data()`` used.

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
        response_headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        self.status_code = status_code  # type: ignore[assignment]  # the setter takes "404" too
        given = HeaderList(response_headers or ())
        content_type = given.get("Content-Type")
        given.remove("Content-Type")
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
        self._headers = HeaderList([("Content-Type", str(content_type or default_type))])
        self._body = body
        if self.stream is None:
            self._headers.add("Content-Length", len(body))
        self._headers.add("x-ms-run-function-failed", bool(run_function_failed))  # as azmlinfsrv
        self._headers.extend(given)
        self._run_function_failed = bool(run_function_failed)

    # --- status ----------------------------------------------------------------------------

    @property
    def status_code(self) -> int:
        """The status as a number; settable (``resp.status_code = 404``)."""
        return self._status_code

    @status_code.setter
    def status_code(self, value: int | str) -> None:
        try:
            self._status_code = int(str(value).split(None, 1)[0])
        except (ValueError, IndexError):
            raise ValueError(f"an HTTP status is a number like 200 or '404 NOT FOUND', got {value!r}") from None

    @property
    def status(self) -> str:
        """The status line text, e.g. ``"200 OK"`` (as werkzeug); settable with ``"404"`` or ``"404 NOT FOUND"``."""
        try:
            phrase = http.HTTPStatus(self._status_code).phrase.upper()
        except ValueError:
            phrase = "UNKNOWN"
        return f"{self._status_code} {phrase}"

    @status.setter
    def status(self, value: int | str) -> None:
        self.status_code = value

    @property
    def run_function_failed(self) -> bool:
        """Whether the answer says ``run()`` failed (``x-ms-run-function-failed``; any 5xx does)."""
        return self._run_function_failed or self._status_code >= 500

    # --- headers ---------------------------------------------------------------------------

    @property
    def headers(self) -> HeaderList:
        """The response headers (``Content-Type`` among them): ``headers["X"] = v``, ``add``, ``set``, ``remove``."""
        return self._headers

    @headers.setter
    def headers(self, value: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        self._headers = value if isinstance(value, HeaderList) else HeaderList(value)

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header; settable."""
        return str(self._headers.get("Content-Type") or "application/octet-stream")

    @content_type.setter
    def content_type(self, value: str) -> None:
        self._headers.set("Content-Type", value)

    @property
    def mimetype(self) -> str:
        """The content type without parameters; setting ``text/*`` adds ``; charset=utf-8`` (as werkzeug)."""
        return self.content_type.split(";", 1)[0].strip()

    @mimetype.setter
    def mimetype(self, value: str) -> None:
        text = value.startswith("text/") or value in ("application/xml", "application/javascript")
        self.content_type = f"{value}; charset=utf-8" if text and "charset" not in value else value

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The Content-Type's parameters."""
        return AMLRequest(headers=[("Content-Type", self.content_type)]).mimetype_params

    # --- body ------------------------------------------------------------------------------

    def get_data(self, as_text: bool = False) -> Any:
        """Return the body as bytes (or text with ``as_text=True``)."""
        return self._body.decode("utf-8", errors="replace") if as_text else self._body

    def set_data(self, value: str | bytes) -> None:
        """Replace the body (text is encoded as UTF-8); ``Content-Length`` follows."""
        self._body = value.encode() if isinstance(value, str) else bytes(value)
        self.stream = None
        self._headers.set("Content-Length", len(self._body))

    @property
    def data(self) -> bytes:
        """The body bytes; settable (as :meth:`set_data`)."""
        return self._body

    @data.setter
    def data(self, value: str | bytes) -> None:
        self.set_data(value)

    @property
    def body(self) -> bytes:
        """The body bytes (what the server sends)."""
        return self._body

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self._body)

    def __repr__(self) -> str:
        return f"<AMLResponse {self.status_code} {self.content_type!r} ({len(self._body)} bytes)>"
