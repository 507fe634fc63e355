"""The request a ``@rawhttp`` ``run(request)`` receives: ``AMLRequest``, werkzeug's ``Request`` without Flask.

It answers what scripts written for Azure ML read of the Flask request azmlinfsrv
hands them (URL parts, headers, body, JSON, forms, files, cookies, a WSGI environ).
The werkzeug-style containers it hands out (``HeaderList``, ``MultiDict``,
``FileStorage``) are in :mod:`.datastructures`; ``@rawhttp`` and the package's import
path for this class are in :mod:`.aml`.
"""

from __future__ import annotations

import http.cookies
import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from ..errors import ScoringInputError
from ._json import invalid_json_message
from .datastructures import HeaderList, Headers, MultiDict, content_type_params, parse_multipart

__all__ = ["AMLRequest"]


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
        return content_type_params(self.content_type or "")

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
