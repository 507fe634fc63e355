"""Fixtures for the Kubernetes target: a real local image registry, and a live cluster when one answers.

- ``local_registry``: Debian's ``docker-registry`` serving on ``127.0.0.1:<free port>`` with
  its storage in a temporary folder (``scripts/ensure-registry.sh`` installs it; tests that
  use it are marked ``docker`` and so must run in CI).
- ``live_cluster``: the cluster of ``$MLDEPLOY_TEST_KUBECONFIG`` (else ``$KUBECONFIG``) as the
  session started; tests marked ``kubernetes`` skip with "no cluster" where none answers (CI).
  Every other test runs with no kubeconfig at all (tests/conftest.py), so a developer's cluster
  never leaks in.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SESSION_KUBECONFIG = os.environ.get("MLDEPLOY_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG") or ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def registry_binary() -> str:
    found = shutil.which("docker-registry") or ("/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None)
    if found is None:
        pytest.skip("Debian's docker-registry is not installed; run scripts/ensure-registry.sh")
    return found


@pytest.fixture(scope="session")
def local_registry(registry_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a real image registry started for this session (plain HTTP, loopback only)."""
    folder = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (folder / "registry.log").open("wb")
    proc = subprocess.Popen([registry_binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the local registry did not start: {(folder / 'registry.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def _cluster_answers() -> str:
    """The kubeconfig of a cluster that answers, or skip with "no cluster" and why."""
    if not SESSION_KUBECONFIG or not Path(SESSION_KUBECONFIG).is_file():
        pytest.skip("no cluster: set KUBECONFIG (or MLDEPLOY_TEST_KUBECONFIG) to run the live Kubernetes tests")
    from jupyter_mldeploy.deploy.k8s import cluster as k8s_cluster
    from jupyter_mldeploy.errors import MLDeployError

    try:
        k8s_cluster.connect(kubeconfig=SESSION_KUBECONFIG).version()
    except MLDeployError as err:
        pytest.skip(f"no cluster: {SESSION_KUBECONFIG} names one that does not answer ({err})")
    return SESSION_KUBECONFIG


@pytest.fixture
def live_cluster(_cluster_answers: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The live cluster (``Cluster``), with ``KUBECONFIG`` set for the code under test."""
    from jupyter_mldeploy.deploy.k8s import cluster as k8s_cluster

    monkeypatch.setenv("KUBECONFIG", _cluster_answers)
    return k8s_cluster.connect()
