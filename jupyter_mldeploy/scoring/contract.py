"""The framework-free request/response types between the HTTP layer and entry scripts.

The HTTP layer (``scoring/app.py``; ``/score`` in ``scoring/score_route.py``)
turns each request into a :class:`ScoringRequest`, hands it to
``EntryScript.handle()`` (in a worker thread) and sends the
:class:`ScoringResponse` back. Neither side knows the
other's internals; both build error answers with :func:`error_response` so
that every error body has the one shape
``{"error": {"code", "message", "request_id"}}``.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: The id of the request being handled, for log lines and the script's own output.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "mldeploy_request_id", default="-"
)


class ErrorCode:
    """Stable ``error.code`` strings of JSON error bodies (clients may switch on them)."""

    INVALID_JSON = "InvalidJSON"
    NOT_UTF8 = "NotUTF8"
    EMPTY_BODY = "EmptyBody"
    SCHEMA_VALIDATION = "SchemaValidation"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    NOT_FOUND = "NotFound"
    UNAUTHORIZED = "Unauthorized"
    RUN_FAILED = "RunFailed"
    TIMEOUT = "Timeout"
    NOT_READY = "NotReady"
    INIT_FAILED = "InitFailed"
    SHUTTING_DOWN = "ShuttingDown"
    INTERNAL = "InternalError"


@dataclass(frozen=True, slots=True)
class ScoringRequest:
    """One HTTP request to ``/score``, as plain data.

    ``headers`` keeps every header in arrival order with lower-cased names.
    """

    method: str
    path: str
    query_string: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    request_id: str
    #: the client's address (``remote_addr``), when the server knows it
    client: str | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return the first header called ``name`` (case-insensitive), or ``default``."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (``""`` when absent)."""
        raw = self.header("content-type") or ""
        return raw.split(";", 1)[0].strip().lower()


@dataclass(slots=True)
class ScoringResponse:
    """The answer to a :class:`ScoringRequest`.

    ``body`` is bytes, or an iterable of bytes chunks for a streamed answer
    (``run()`` returned a generator). ``headers`` is a mapping, or a list of
    ``(name, value)`` pairs where a name repeats. ``run_ms`` is the time spent in
    the script's ``run()``, sent back as ``x-ms-run-fn-exec-ms``.
    """

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = "application/json"
    headers: dict[str, str] | list[tuple[str, str]] = field(default_factory=dict)
    run_ms: float | None = None


def error_body(code: str, message: str, request_id: str, **extra: object) -> bytes:
    """Return the JSON error body ``{"error": {"code", "message", "request_id", ...}}``."""
    payload: dict[str, object] = {"code": code, "message": message, "request_id": request_id}
    payload.update({k: v for k, v in extra.items() if v is not None})
    return json.dumps({"error": payload}).encode()


def error_response(
    status: int,
    code: str,
    message: str,
    request_id: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> ScoringResponse:
    """Build an error :class:`ScoringResponse` with the standard JSON error body."""
    return ScoringResponse(
        status=status,
        body=error_body(code, message, request_id, **extra),
        content_type="application/json",
        headers=dict(headers or {}),
    )
