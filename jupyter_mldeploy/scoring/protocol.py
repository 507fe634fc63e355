"""uvicorn's httptools protocol: each response's writes merged into one ``send``, and limits on hostile clients.

uvicorn writes the status line and headers when the app sends
``http.response.start`` and the body with ``http.response.body``: two
syscalls and two TCP segments per answer. MLflow's server shows what that can
cost (headers and body in separate writes without TCP_NODELAY: Nagle plus
delayed ACK stall every keep-alive request by ~40 ms). uvloop sets TCP_NODELAY
on accepted sockets, and this wrapper holds a write (the headers) until the
next one (the body) and sends both together, so an answer leaves in one
write; a write with nothing after it in the same event-loop step is sent at
the end of that step.

The same protocol enforces the limits a production server keeps against slow or
hostile clients, which uvicorn's httptools protocol does not have (:class:`Limits`,
set from the server's settings): the request head (request line and headers) may be
at most ``max_header_bytes`` and ``max_headers`` headers, else ``431``; a request must
arrive whole within ``read_timeout_s`` of its first byte (and a new connection must
send one within that time), else ``408`` and the connection is closed (slowloris: a
header byte every 15 s, or a body that never completes). Malformed HTTP gets a JSON
``400`` like every other error. Each answer closes the connection. The counting costs
two integer additions per header.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .contract import error_body

__all__ = ["CoalescingHttpToolsProtocol", "Limits"]


@dataclass(frozen=True)
class Limits:
    """What one connection may send (see the module docstring)."""

    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    read_timeout_s: float = 30.0


class _Rejected(Exception):
    """Raised from a parser callback to stop parsing a request already answered."""


_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _CoalescingTransport:
    """A transport proxy that merges writes made in the same loop step into one."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        pending = self._pending
        if pending is None:
            # hold it (the status line and headers): the body usually follows in the same step
            self._pending = [data]
            self._loop.call_soon(self._flush)
        else:
            self._pending = None
            pending.append(data)
            self._transport.write(b"".join(pending))

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def writelines(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(p) for p in self._pending or ())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` whose responses go out in one write each, with :class:`Limits`."""

    #: Set once per worker process from its settings (one server per process).
    limits: ClassVar[Limits] = Limits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._rejected = False
        self._head_done = False
        self._head_bytes = 0
        self._header_count = 0
        self._read_timer: asyncio.TimerHandle | None = None
        self._arm_read_timer()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if not self._rejected:
                self.reject(400, "BadRequest", "The request is not valid HTTP/1.1: fix the client's request line or headers.")
            return
        if not self._head_done and not self._rejected:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._reject_head()

    # --- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_read_timer()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._reject_head()
            raise _Rejected
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_done = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_read_timer()
        self._head_done = False
        self._head_bytes = 0
        self._header_count = 0
        super().on_message_complete()

    # --- limits ----------------------------------------------------------------------------

    def _arm_read_timer(self) -> None:
        self._cancel_read_timer()
        self._read_timer = self.loop.call_later(self.limits.read_timeout_s, self._read_timed_out)

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if not self._rejected and not self.transport.is_closing():
            self.reject(
                408, "RequestTimeout",
                f"The request did not arrive whole within {self.limits.read_timeout_s:g}s: send it in one go "
                "(the server's --read-timeout-s sets the limit).",
            )

    def _reject_head(self) -> None:
        self.reject(
            431, "HeadersTooLarge",
            f"The request's headers are over the server's limit ({self.limits.max_headers} headers, "
            f"{self.limits.max_header_bytes // 1024} KiB): send fewer or smaller headers "
            "(the server's --max-headers and --max-header-kb set the limits).",
        )

    def reject(self, status: int, code: str, message: str) -> None:
        """Answer ``status`` with a JSON error body and close the connection; the request is not served."""
        self._rejected = True
        self._cancel_read_timer()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.response_complete = True  # a handler still waiting for the body sends nothing more
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        body = error_body(code, message, "")
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, _REASONS[status], len(body))
        )
        if not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()
        self.logger.warning("rejected a request from %s: %d %s", self.client, status, code)
