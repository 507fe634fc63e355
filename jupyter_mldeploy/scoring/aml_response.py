"""The response a ``run()`` can return to choose status, headers and body: ``AMLResponse``, werkzeug's ``Response``.

It takes Azure ML's ``AMLResponse(message, status_code, response_headers, json_str)``
and afterwards lets a script change status, headers and body as on werkzeug's
``Response``; the server sends what it holds (``body`` or ``stream``). The package's
import path for this class is :mod:`.aml`.
"""

from __future__ import annotations

import http
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ._json import encode_result
from .datastructures import HeaderList, content_type_params

__all__ = ["AMLResponse"]


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
        return content_type_params(self.content_type)

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
