"""A server told to stop (SIGTERM) with ``drain_s`` keeps answering, closes each connection after its answer and
says it is not ready, then exits: what lets a Kubernetes rolling update lose no request."""

from __future__ import annotations

import http.client
import json
import signal
import time

import pytest
from test_server_support import serve  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


def _ask(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_drains_then_exits(serve, workers: int) -> None:  # noqa: F811
    server = serve("plain_json", workers=workers, drain_s=4.0)
    assert server.port and server.process
    status, headers, _ = _ask(server.port, "POST", "/score", json.dumps({"data": [[1, 1, 1]]}).encode())
    assert status == 200 and headers.get("connection") != "close"  # keep-alive before

    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 3.0
    seen_ready_503 = seen_close = False
    while time.monotonic() < deadline and not (seen_ready_503 and seen_close):
        status, headers, body = _ask(server.port, "GET", "/ready")
        if status == 503:
            assert json.loads(body)["error"]["code"] == "ShuttingDown"
            seen_ready_503 = True
        status, headers, _ = _ask(server.port, "POST", "/score", json.dumps({"data": [[1, 1, 1]]}).encode())
        assert status == 200  # still scoring while draining
        seen_close = seen_close or headers.get("connection") == "close"
        time.sleep(0.1)
    assert seen_ready_503 and seen_close
    assert server.process.wait(timeout=30) == 0
