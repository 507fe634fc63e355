"""Send ASGI answers: the ASGI types, one buffered response with the request-id headers, a JSON error.

Every route of the scoring server answers through :func:`send_response` (two
ASGI messages: headers, then the whole body) or :func:`send_error` (the
server's JSON error body); :func:`header_bytes` encodes a header a script
chose, refusing what HTTP cannot carry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .contract import error_body

__all__ = ["JSON", "Message", "Receive", "Scope", "Send", "header_bytes", "ms_header", "send_error",
           "send_response"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The Content-Type of JSON answers.
JSON = b"application/json"


def header_bytes(text: str) -> bytes:
    """Encode a header name or value, refusing what HTTP cannot carry (non-Latin-1, line breaks)."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{text[:60]!r} is not Latin-1") from None
    if b"\r" in raw or b"\n" in raw:
        raise ValueError(f"{text[:60]!r} has a line break")
    return raw


def ms_header(value: float) -> bytes:
    """A duration in milliseconds as a header value (``x-ms-run-fn-exec-ms``)."""
    return f"{value:.3f}".encode()


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes | None,
    rid: str,
    extra: list[tuple[bytes, bytes]],
    run_ms: float | None,
) -> None:
    """Send a whole answer: status, length, request ids, type, ``run()`` time, ``extra`` headers, body."""
    rid_b = rid.encode()
    headers = [
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", rid_b),
        (b"x-ms-request-id", rid_b),
    ]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    if run_ms is not None:
        headers.append((b"x-ms-run-fn-exec-ms", ms_header(run_ms)))
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    rid: str,
    extra: list[tuple[bytes, bytes]],
    **fields: object,
) -> int:
    """Send the server's JSON error body (``code``, ``message``, request id, ``fields``); return ``status``."""
    await send_response(send, status, error_body(code, message, rid, **fields), JSON, rid, extra, None)
    return status
