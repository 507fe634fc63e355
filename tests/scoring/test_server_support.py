"""Helpers for the HTTP/server tests: real servers on ephemeral 127.0.0.1 ports, plain HTTP, log polling.

(No tests here; the name matches the SERVER test-file pattern so it can live next to them.)
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from proc_helpers import children  # noqa: F401 - the servers' tests take it from here

from jupyter_mldeploy.client.client import Response, ScoringClient
from jupyter_mldeploy.client.server import ScoringServer

SCRIPTS = Path(__file__).parent / "scripts"


def script(name: str) -> Path:
    """Path of a sample entry script (``name`` with or without ``.py``)."""
    path = SCRIPTS / (name if name.endswith(".py") else f"{name}.py")
    assert path.is_file(), path
    return path


@pytest.fixture
def serve() -> Iterator[Callable[..., ScoringServer]]:
    """Start ScoringServers (port 0) and wait until ready; every one is stopped after the test."""
    started: list[ScoringServer] = []

    def start(name: str | Path, *, wait: bool = True, **kwargs: Any) -> ScoringServer:
        path = name if isinstance(name, Path) else script(name)
        server = ScoringServer(path, port=0, **kwargs)
        started.append(server)
        server.start()
        if wait:
            server.wait_ready(timeout=60)
        return server

    yield start
    for server in started:
        server.stop()


def post(server: ScoringServer, body: bytes | str, headers: dict[str, str] | None = None,
         path: str = "/score", method: str = "POST") -> Response:
    """One request on a fresh connection (so it is independent of other tests' keep-alive state)."""
    client = ScoringClient(server.url, timeout=30)
    try:
        send = {"Content-Type": "application/json"}
        send.update(headers or {})
        return client.request(method, path, body, send, auth=False)
    finally:
        client.close()


def raw_request(server: ScoringServer, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, chunked: bool = False) -> tuple[int, dict[str, str], bytes]:
    """A request with full control of headers (e.g. chunked bodies)."""
    assert server.port
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        if chunked:
            conn.putrequest(method, path)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            data = body or b""
            try:
                for i in range(0, len(data), 65536):
                    piece = data[i:i + 65536]
                    conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                conn.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early (413) and closed
        else:
            conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def wait_for_log(server: ScoringServer, predicate: Callable[[str], bool], timeout: float = 15.0) -> str:
    """Poll the server's log until ``predicate(log)`` holds; return the log (fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.logs()
        if predicate(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"log condition not met within {timeout}s; log:\n{text}")
        time.sleep(0.05)


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds (bounded)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


def metric(text: str, name: str) -> float:
    """Value of one metric line (``name`` includes labels) in Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in metrics:\n{text}")


def body_json(response: Response) -> Any:
    return json.loads(response.body)
