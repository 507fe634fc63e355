"""A Docker engine that does not answer gives DockerUnavailableError with the fix (no engine needed)."""

from __future__ import annotations

import socket

import pytest

from jupyter_mldeploy.deploy.docker import DockerEngine
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
