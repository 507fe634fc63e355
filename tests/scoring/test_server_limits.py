"""The server against hostile or careless clients: oversized heads, slowloris, cut bodies, malformed HTTP.

Each reproduction of the security review runs against a real server on 127.0.0.1 with raw
sockets, bounded in count and time, and then checks that the server still answers.
"""

from __future__ import annotations

import json
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mldeploy.client.client import ScoringClient
from jupyter_mldeploy.client.server import ScoringServer
from jupyter_mldeploy.errors import InitError

SCRIPT = textwrap.dedent(
    """
    import json

    def init():
        pass

    def run(raw_data):
        print("RUN-CALLED with", len(raw_data), "bytes", flush=True)
        return {"echo": json.loads(raw_data)}
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScoringServer]:
    folder = tmp_path_factory.mktemp("limits")
    (folder / "score.py").write_text(SCRIPT)
    with ScoringServer(
        folder / "score.py", read_timeout_s=1.0, max_header_kb=8, max_headers=20, max_connections=6,
        auth_keys=["k" * 16],
    ) as running:
        yield running


def _connect(server: ScoringServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.settimeout(10)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one answer (the server closes after its limit answers, or sends Content-Length)."""
    data = b""
    deadline = time.monotonic() + 10
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return True


def _still_serves(server: ScoringServer) -> None:
    with server.client() as client:
        assert client.score({"n": 1}) == {"echo": {"n": 1}}


def test_a_huge_header_is_refused_with_431_and_closed(server: ScoringServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (200 * 1024) + b"\r\n\r\n")
        status, headers, body = _answer(sock)
        assert status == 431 and headers["content-type"] == "application/json"
        error = json.loads(body)["error"]
        assert error["code"] == "HeadersTooLarge" and "--max-header-kb" in error["message"]
        assert _closed(sock)
    _still_serves(server)


def test_too_many_headers_are_refused_with_431(server: ScoringServer) -> None:
    with _connect(server) as sock:
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(50))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        status, _, body = _answer(sock)
        assert status == 431 and "20 headers" in json.loads(body)["error"]["message"]
    _still_serves(server)


def test_slowloris_headers_get_408_and_the_connection_is_closed(server: ScoringServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        status = 0
        for _ in range(20):  # a header byte every 0.3 s, bounded: the 1 s read timeout must cut it
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.3)
            sock.settimeout(0.01)
            try:
                peek = sock.recv(4096, socket.MSG_PEEK)
            except (TimeoutError, BlockingIOError):
                peek = b""
            sock.settimeout(10)
            if peek:
                status, _, body = _answer(sock)
                break
        assert status == 408 and json.loads(body)["error"]["code"] == "RequestTimeout"
        assert time.monotonic() - started < 6  # cut near the 1 s limit, not after the whole drip
    _still_serves(server)


def test_a_body_that_never_completes_gets_408_and_never_reaches_run(server: ScoringServer) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"k" * 16
            + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"n\": 1,"
        )
        status, _, body = _answer(sock)
        assert status == 408
        assert _closed(sock)
    _still_serves(server)


def test_a_silent_connection_is_closed_after_the_read_timeout(server: ScoringServer) -> None:
    with _connect(server) as sock:
        status, _, _ = _answer(sock)  # nothing sent at all
        assert status == 408


def test_a_body_cut_short_by_the_client_never_reaches_run(server: ScoringServer) -> None:
    before = server.logs().count("RUN-CALLED")
    with _connect(server) as sock:
        sock.sendall(
            b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"k" * 16
            + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cut\": true, \"x\": 1}"
        )
        sock.shutdown(socket.SHUT_WR)  # the client stops writing: 21 of 100 bytes sent
        _answer(sock)
    _still_serves(server)  # the server is fine, and the next request is run
    deadline = time.monotonic() + 5
    while ("499" not in server.logs() or server.logs().count("RUN-CALLED") <= before) and time.monotonic() < deadline:
        time.sleep(0.05)
    logs = server.logs()
    assert logs.count("RUN-CALLED") == before + 1  # only the _still_serves request ran
    assert "RUN-CALLED with 21 bytes" not in logs
    assert " 499 " in logs  # the access log says the client went away


def test_malformed_http_gets_a_json_400(server: ScoringServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
        status, headers, body = _answer(sock)
        assert status == 400 and headers["content-type"] == "application/json"
        assert json.loads(body)["error"]["code"] == "BadRequest"
    _still_serves(server)


def test_options_on_score_needs_no_key_and_lists_the_methods(server: ScoringServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"OPTIONS /score HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = _answer(sock)
        assert status == 200 and {"OPTIONS", "POST"} <= set(headers["allow"].split(", "))
    with _connect(server) as sock:
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        assert _answer(sock)[0] == 401  # everything else still needs the key


def test_connections_beyond_the_limit_get_503(server: ScoringServer) -> None:
    idle = [_connect(server) for _ in range(6)]  # max_connections=6: these fill the worker
    try:
        time.sleep(0.2)
        with _connect(server) as extra:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _answer(extra)[0] == 503
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the closed ones are let go, then requests are served again
        try:
            _still_serves(server)
            break
        except Exception:  # noqa: BLE001 - retried until the deadline
            time.sleep(0.1)
    _still_serves(server)


def test_ready_says_only_ready_without_the_key(server: ScoringServer) -> None:
    with server.client() as keyed, ScoringClient(server.url) as anonymous:
        open_answer = anonymous.request("GET", "/ready", auth=False).json()
        assert open_answer["status"] == "Ready" and "entry_script" not in open_answer  # no path for strangers
        assert keyed.request("GET", "/ready").json()["entry_script"].endswith("score.py")


def test_an_init_failure_shows_its_traceback_only_with_the_key(tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text(
        "def init():\n    raise RuntimeError('cannot connect: postgres://app:hunter2@db/models')\n"
        "def run(raw_data):\n    return 1\n"
    )
    server = ScoringServer(tmp_path / "score.py", auth_keys=["k" * 16]).start()
    try:
        with pytest.raises(InitError) as failed:  # the owner, with the key, sees why at once
            server.wait_ready(timeout=60)
        assert "hunter2" in failed.value.traceback_text
        with ScoringClient(server.url) as anonymous:
            answer = anonymous.request("GET", "/ready", auth=False)
            assert answer.status == 503 and answer.error["code"] == "InitFailed"
            assert "hunter2" not in answer.text and "Traceback" not in answer.text and "score.py" not in answer.text
            assert anonymous.request("POST", "/score", b"{}", auth=False).status == 401
        assert "hunter2" in server.logs()  # the traceback stays in the log
    finally:
        server.stop()
