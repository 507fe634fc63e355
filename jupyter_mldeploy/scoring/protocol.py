"""uvicorn's httptools protocol, with each response's writes merged into one ``send``.

uvicorn writes the status line and headers when the app sends
``http.response.start`` and the body with ``http.response.body``: two
syscalls and two TCP segments per answer. MLflow's server shows what that can
cost (headers and body in separate writes without TCP_NODELAY: Nagle plus
delayed ACK stall every keep-alive request by ~40 ms). uvloop sets TCP_NODELAY
on accepted sockets, and this wrapper holds a write (the headers) until the
next one (the body) and sends both together, so an answer leaves in one
write; a write with nothing after it in the same event-loop step is sent at
the end of that step.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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
    """``HttpToolsProtocol`` whose responses go out in one write each."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
