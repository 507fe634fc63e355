"""A Docker engine that does not answer gives DockerUnavailableError with the fix (no engine needed)."""

from __future__ import annotations

import socket

import pytest

from jupyter_mldeploy.images.engine import DockerEngine
from jupyter_mldeploy.errors import DockerUnavailableError, MLDeployError

pytest.importorskip("docker")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_engine_answer_names_the_host_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    engine = DockerEngine(timeout=5)
    with pytest.raises(DockerUnavailableError) as caught:
        engine.ping()
    message = str(caught.value)
    assert f"tcp://127.0.0.1:{port}" in message
    assert "ensure-docker.sh" in message or "start Docker" in message
    assert isinstance(caught.value, MLDeployError)
    with pytest.raises(DockerUnavailableError):
        engine.find_containers()


def test_a_daemon_that_hangs_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """A socket that accepts and never answers (a wedged daemon) gives the error within seconds."""
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.getsockname()[1]}")
    try:  # without the short connect timeout this would wait for the 600 s call timeout
        with pytest.raises(DockerUnavailableError, match="no Docker engine answers"):
            DockerEngine(connect_timeout=1).ping()
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        server.close()
