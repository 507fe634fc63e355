"""A built environment runs the scoring server: its packages and the runtime work together."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from jupyter_mldeploy import CondaDependencies, Environment, InferenceConfig

pytestmark = pytest.mark.slow
HOST = f"{sys.version_info.major}.{sys.version_info.minor}"

SCRIPT = """
import yaml

def init():
    global prefix
    prefix = yaml.safe_load("greeting: hello")["greeting"]

def run(raw_data):
    return {"said": prefix + " " + __import__("json").loads(raw_data)["name"]}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_scoring_server_runs_inside_the_built_env(tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text(SCRIPT)
    env = Environment("served")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["pyyaml"], python_version=HOST)
    config = InferenceConfig("score.py", source_directory=tmp_path, environment=env)
    build = env.build_local()
    port = _free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [str(build.python), "-m", "jupyter_mldeploy.scoring", "--entry-script", str(config.entry_script_path),
             "--source-dir", str(config.source_directory_path), "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):  # not up yet (or a loaded box)
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/score", data=b'{"name": "env"}', headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read()) == {"said": "hello env"}
    finally:
        server.terminate()
        server.wait(timeout=30)
