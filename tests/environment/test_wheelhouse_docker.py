"""The real proof: a wheelhouse installs with --no-index inside an offline container."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import CondaDependencies, Environment

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_wheelhouse_installs_offline_in_the_base_image(tmp_path: Path, docker_client: Any, base_image: str) -> None:
    env = Environment("offline")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["requests", "pyyaml"], python_version="3.11")
    house = env.download_wheels(tmp_path / "wheels", python_version="3.11", platform="linux/amd64")
    script = (
        "set -e; python3 -m venv /tmp/venv; "
        "/tmp/venv/bin/pip install --no-index --disable-pip-version-check --find-links /wheels "
        "-r /wheels/requirements.txt; "
        "/tmp/venv/bin/python -c 'import requests, yaml, uvicorn, jupyter_mldeploy.scoring.contract; "
        "print(\"IMPORTED\", requests.__version__)'"
    )
    output = docker_client.containers.run(
        base_image,
        ["sh", "-c", script],
        volumes={str(house.path): {"bind": "/wheels", "mode": "ro"}},
        network_disabled=True,
        tmpfs={"/tmp": "exec"},  # the venv on tmpfs: overlay writes are slow on this machine
        remove=True,
        stdout=True,
        stderr=True,
    ).decode()
    assert "IMPORTED" in output, output
    version = next(l for l in house.requirements_file.read_text().splitlines() if l.startswith("requests=="))
    assert f"IMPORTED {version.split('==')[1].split()[0]}" in output
