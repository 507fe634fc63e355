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

import http.cookies
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from ..errors import ScoringInputError
from ._json import encode_result, invalid_json_message
from .datastructures import Headers, MultiDict, parse_multipart

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
