"""``mldeploy serve`` with a separate health port, spelt as azmlinfsrv spells it (``SEPERATE_HEALTH_ENDPOINT``, ``--health_port``).

Real servers on 127.0.0.1: the probes answer on the second port (and keep answering on
the scoring port), everything else there is a 404 naming the scoring port, a failed
``init()`` is never ``Healthy`` there either, and a busy health port or a clash with the
scoring port is a clear error.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from jupyter_mldeploy._net import free_port
from jupyter_mldeploy.errors import InvalidArgumentError
from jupyter_mldeploy.scoring.options import settings_from_args
from jupyter_mldeploy.scoring.supervisor import bind_socket

MLDEPLOY = str(Path(sys.executable).with_name("mldeploy"))
SCORE = "def init():\n    pass\n\ndef run(data):\n    return {'scored': True}\n"
FAILS = "def init():\n    raise RuntimeError('weights are missing')\n\ndef run(data):\n    return data\n"


@contextmanager
def serving(folder: Path, args: list[str], env: dict[str, str] | None = None,
            ready_port: int | None = None) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``mldeploy serve ARGS`` in ``folder`` until ``ready_port`` answers /ready (any status); always stopped."""
    out = folder / f"out-{time.monotonic_ns()}.txt"
    with open(out, "wb") as stdout, open(out.with_suffix(".err"), "wb") as stderr:
        proc = subprocess.Popen([MLDEPLOY, "serve", *args], cwd=folder, stdout=stdout, stderr=stderr,
                                env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 60
        while ready_port is not None and time.monotonic() < deadline and proc.poll() is None:
            try:
                requests.get(f"http://127.0.0.1:{ready_port}/ready", timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield proc, out
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _ready_within(url: str, seconds: float = 60) -> requests.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = requests.get(url, timeout=2)
            if answer.status_code != 503 or "InitFailed" in answer.text or time.monotonic() > deadline:
                return answer
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def test_separate_health_endpoint_answers_the_probes_only(tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text(SCORE)
    port, health = free_port(), free_port()
    args = ["--entry_script", "score.py", "--port", str(port), "--health_port", str(health), "--worker_count", "2"]
    with serving(tmp_path, args, env={"SEPERATE_HEALTH_ENDPOINT": "true"}, ready_port=health) as (proc, out):
        ready = _ready_within(f"http://127.0.0.1:{health}/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "Ready"
        live = requests.get(f"http://127.0.0.1:{health}/", timeout=10)
        assert (live.status_code, live.text) == (200, "Healthy")
        assert requests.head(f"http://127.0.0.1:{health}/", timeout=10).status_code == 200
        for method, path in (("POST", "/score"), ("GET", "/swagger.json"), ("GET", "/metrics"), ("POST", "/")):
            answer = requests.request(method, f"http://127.0.0.1:{health}{path}", json={}, timeout=10)
            assert answer.status_code == 404, path
            assert f"send {method} {path} to the scoring port {port}" in answer.json()["error"]["message"]
        assert requests.post(f"http://127.0.0.1:{port}/score", json={}, timeout=30).json() == {"scored": True}
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).text == "Healthy"  # still on the scoring port
        with socket.create_connection(("127.0.0.1", health), timeout=10) as raw:  # a broken request ...
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            assert raw.recv(100).startswith(b"HTTP/1.1 400")
        assert requests.get(f"http://127.0.0.1:{health}/", timeout=10).status_code == 200  # ... and it serves on
        assert proc.poll() is None
    assert f"Health Port: {health}" in out.read_text()


def test_our_spelling_alone_opens_it_and_init_failure_is_never_healthy_there(tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text(FAILS)
    port, health = free_port(), free_port()
    args = ["--entry-script", "fails.py", "--port", str(port), "--health-port", str(health), "--stay-up"]
    with serving(tmp_path, args, ready_port=health) as (proc, _):
        for path in ("/", "/ready"):
            answer = _ready_within(f"http://127.0.0.1:{health}{path}")
            assert answer.status_code == 503, path
            assert answer.json()["error"]["code"] == "InitFailed" and "weights are missing" in answer.text
        assert proc.poll() is None


def test_without_stay_up_a_failed_init_still_exits_nonzero(tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text(FAILS)
    args = ["--entry_script", "fails.py", "--port", str(free_port()), "--health_port", str(free_port())]
    with serving(tmp_path, args, env={"SEPERATE_HEALTH_ENDPOINT": "true"}) as (proc, _):
        assert proc.wait(timeout=60) == 1


def test_a_busy_health_port_is_a_clear_error_and_frees_the_scoring_port(tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text(SCORE)
    busy = bind_socket("127.0.0.1", 0)
    health = busy.getsockname()[1]
    port = free_port()
    try:
        with serving(tmp_path, ["--entry_script", "score.py", "--port", str(port), "--health_port", str(health)],
                     env={"SEPERATE_HEALTH_ENDPOINT": "true"}) as (proc, out):
            assert proc.wait(timeout=60) != 0
        err = out.with_suffix(".err").read_text()
        assert f"port {health} on 127.0.0.1 is already in use" in err and "--health-port" in err
        bind_socket("127.0.0.1", port).close()  # the scoring port was let go
    finally:
        busy.close()


def test_the_settings_follow_azmlinfsrv() -> None:
    separate = {"AZUREML_ENTRY_SCRIPT": "score.py", "SEPERATE_HEALTH_ENDPOINT": "true"}
    assert settings_from_args(None, separate).health_port == 5000  # azmlinfsrv's default
    assert settings_from_args(None, {**separate, "SEPERATE_HEALTH_ENDPOINT": "false"}).health_port is None
    assert settings_from_args(None, {"AZUREML_ENTRY_SCRIPT": "score.py"}).health_port is None
    assert settings_from_args(None, {"AZUREML_ENTRY_SCRIPT": "score.py", "MLDEPLOY_HEALTH_PORT": "7001"}).health_port == 7001
    env = settings_from_args(None, {"AZUREML_ENTRY_SCRIPT": "score.py", "MLDEPLOY_HEALTH_PORT": "7001"}).to_env()
    assert env["MLDEPLOY_HEALTH_PORT"] == "7001"  # deployments and ScoringServer hand it on
    with pytest.raises(InvalidArgumentError, match=r"health_port 6000 is the scoring port too"):
        settings_from_args(None, {"AZUREML_ENTRY_SCRIPT": "score.py", "MLDEPLOY_PORT": "6000",
                                  "MLDEPLOY_HEALTH_PORT": "6000"})
    with pytest.raises(InvalidArgumentError, match=r"health_port must be a number, got 'x'"):
        settings_from_args(None, {"AZUREML_ENTRY_SCRIPT": "score.py", "MLDEPLOY_HEALTH_PORT": "x"})
