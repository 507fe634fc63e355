"""The HTTP-level checks around the script: bearer-key auth, CORS, the body-size limit, not ready.

Each check is answered here without touching the script: 401 with
``WWW-Authenticate``, the CORS headers (and a preflight's), 413 for a body
over the limit (reading stops there), and 503 while ``init()`` has not
succeeded (with its traceback when it failed).
"""

from __future__ import annotations

import hmac

from .asgi import Receive, Send, send_error
from .contract import ErrorCode

__all__ = ["CLIENT_GONE", "ClientGone", "authorized", "cors_headers", "preflight_headers", "read_body", "send_not_ready",
           "send_too_large", "send_unauthorized"]


# --- auth --------------------------------------------------------------------------------


def authorized(keys: tuple[bytes, ...], auth: bytes | None) -> bool:
    """True when ``auth`` (the ``Authorization`` header) is ``Bearer <one of keys>``, or there are no keys."""
    if not keys:
        return True
    if auth is None or auth[:7].lower() != b"bearer ":
        return False
    given = auth[7:].strip()
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(given, key)
    return ok


async def send_unauthorized(send: Send, rid: str, extra: list[tuple[bytes, bytes]]) -> int:
    """Answer 401, saying which header to send."""
    return await send_error(
        send, 401, ErrorCode.UNAUTHORIZED,
        "Missing or wrong key: send the header 'Authorization: Bearer <key>' with one of the "
        "service's keys (the --auth-key values the server was started with).",
        rid, extra + [(b"www-authenticate", b"Bearer")],
    )


# --- CORS --------------------------------------------------------------------------------


def cors_headers(origin: bytes, origins: tuple[str, ...], any_origin: bool) -> list[tuple[bytes, bytes]]:
    """The CORS headers for a request from ``origin`` (none when it is not one of ``origins``)."""
    text = origin.decode("latin-1")
    if any_origin:
        return [(b"access-control-allow-origin", b"*"), (b"access-control-expose-headers", b"*")]
    if text in origins:
        return [
            (b"access-control-allow-origin", origin),
            (b"vary", b"Origin"),
            (b"access-control-expose-headers", b"x-request-id, x-ms-request-id, x-ms-run-fn-exec-ms"),
        ]
    return []


def preflight_headers() -> list[tuple[bytes, bytes]]:
    """The extra headers of an answer to a CORS preflight (``OPTIONS`` with ``Access-Control-Request-Method``)."""
    return [
        (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
        (b"access-control-allow-headers", b"authorization, content-type, x-request-id, x-ms-request-id"),
        (b"access-control-max-age", b"600"),
    ]


# --- the body-size limit -----------------------------------------------------------------


class ClientGone(Exception):
    """The client went away before its request body was complete: the request is not run."""


#: The status the access log records for a request whose client went away (nginx's name for it).
CLIENT_GONE = 499


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or ``None`` once it goes over ``limit`` bytes (reading stops there).

    Raises
    ------
    ClientGone
        The connection closed before the body was complete (a body cut short never reaches ``run()``).
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
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


async def send_too_large(send: Send, rid: str, extra: list[tuple[bytes, bytes]], limit_mb: float) -> int:
    """Answer 413 (and close the connection: the rest of the body is not read)."""
    return await send_error(
        send, 413, ErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body is larger than the server's limit of {limit_mb:g} MB: send a smaller body "
        "(e.g. fewer rows per request) or start the server with a higher --max-body-mb "
        "(env MLDEPLOY_MAX_BODY_MB).",
        rid, extra + [(b"connection", b"close")], limit_mb=limit_mb,
    )


# --- not ready ---------------------------------------------------------------------------


async def send_not_ready(
    send: Send, init_error: dict[str, str] | None, rid: str, extra: list[tuple[bytes, bytes]],
    *, detailed: bool = True,
) -> int:
    """Answer 503: ``init()`` failed (``init_error``, with its traceback) or has not finished yet.

    Without ``detailed`` (a caller without the key on a server with auth) the answer says only
    that ``init()`` failed: its message and traceback may hold secrets (a connection string).
    """
    if init_error is not None and not detailed:
        return await send_error(
            send, 503, ErrorCode.INIT_FAILED,
            "The entry script's init() failed: the traceback is in the server log, and in this answer "
            "when asked with the service's key.",
            rid, extra,
        )
    if init_error is not None:
        return await send_error(
            send, 503, ErrorCode.INIT_FAILED,
            f"{init_error['message']} (The traceback is in 'traceback' and in the server log; the server "
            "answers 503 until the script is fixed and reloaded or the server restarted.)",
            rid, extra, traceback=init_error["traceback"],
        )
    return await send_error(
        send, 503, ErrorCode.NOT_READY,
        "The entry script's init() has not finished yet; retry when GET /ready answers 200.", rid, extra,
    )
