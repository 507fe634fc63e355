"""A small Debug Adapter Protocol client: what VS Code does when it attaches to debugpy.

Only what the debug tests need: initialize, attach, setBreakpoints, configurationDone,
waiting for events, stackTrace and continue. Every wait is bounded in time.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any


class DapClient:
    """One DAP session over TCP to ``127.0.0.1:port``."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=2.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self._buffer = b""
        self._seq = 0
        self.messages: list[dict[str, Any]] = []  # everything received, in order

    def close(self) -> None:
        self.sock.close()

    def send(self, command: str, **arguments: Any) -> int:
        self._seq += 1
        body = json.dumps({"seq": self._seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self._seq

    def _read_one(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self._buffer:
            self._more()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        self._buffer = rest
        while len(self._buffer) < length:
            self._more()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        message: dict[str, Any] = json.loads(body)
        self.messages.append(message)
        return message

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the debug adapter closed the connection")
        self._buffer += data

    def wait(self, *, event: str | None = None, response_to: int | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """The next event called ``event``, or the response to request ``response_to`` (earlier ones kept)."""
        for message in self.messages:
            if _matches(message, event, response_to):
                self.messages.remove(message)
                return message
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._read_one()
            if _matches(message, event, response_to):
                self.messages.remove(message)
                return message
        raise TimeoutError(f"no {event or f'response to {response_to}'} within {timeout}s")

    def request(self, command: str, timeout: float = 30.0, **arguments: Any) -> dict[str, Any]:
        answer = self.wait(response_to=self.send(command, **arguments), timeout=timeout)
        assert answer.get("success"), answer
        return answer

    def attach(self, breakpoints: dict[str, list[int]], path_mappings: list[dict[str, str]] | None = None) -> None:
        """initialize, attach, setBreakpoints (``{file: [lines]}``), configurationDone; as VS Code does."""
        self.request("initialize", clientID="mldeploy-tests", adapterID="debugpy", pathFormat="path",
                     linesStartAt1=True, columnsStartAt1=True)
        attach = self.send("attach", justMyCode=True, pathMappings=path_mappings or [])
        self.wait(event="initialized")
        for path, lines in breakpoints.items():
            answer = self.request("setBreakpoints", source={"path": path},
                                  breakpoints=[{"line": line} for line in lines])
            assert all(b.get("verified", True) for b in answer["body"]["breakpoints"]), answer
        self.request("configurationDone")
        answer = self.wait(response_to=attach)
        assert answer.get("success"), answer


def _matches(message: dict[str, Any], event: str | None, response_to: int | None) -> bool:
    if event is not None:
        return message.get("type") == "event" and message.get("event") == event
    return message.get("type") == "response" and message.get("request_seq") == response_to
