"""Container calls only the engine tests need: wait for ``/ready`` on a raw container, restart one, a fresh base.

The product waits through ``deploy/pipeline.wait_ready`` and restarts by starting a
new container; these drive a container the tests started with ``run_container``.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_mldeploy.errors import DeploymentError, DeploymentTimeoutError
from jupyter_mldeploy.images.engine import DockerEngine


def _error_message(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body[:500].decode("utf-8", errors="replace")


def wait_ready(engine: DockerEngine, name: str, port: int, *, timeout: float = 60.0) -> float:
    """Wait until container ``name`` answers 200 on ``/ready`` at ``127.0.0.1:port``; return the seconds waited."""
    started = time.monotonic()
    deadline = started + timeout
    checks = 0
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:  # closed even when the answer times out (a loaded machine), or its socket leaks
                conn.request("GET", "/ready")
                response = conn.getresponse()
                status, body = response.status, response.read()
            finally:
                conn.close()
            if status == 200:
                return time.monotonic() - started
            if b"InitFailed" in body:  # the server runs but init() failed: waiting cannot help
                state = engine.container_state(name)
                raise DeploymentError(
                    f"service container {name} started but its entry script failed to load or "
                    f"init(): {_error_message(body)}\n{state.describe()}\nFix the entry script, then restart.",
                    logs=state.logs,
                )
        except (OSError, http.client.HTTPException):
            pass
        checks += 1
        if checks % 10 == 0 or time.monotonic() >= deadline:
            state = engine.container_state(name)
            if not state.running:
                raise DeploymentError(f"service container {name} stopped before it was ready: {state.describe()}")
            if time.monotonic() >= deadline:
                raise DeploymentTimeoutError(f"service container {name} was not ready within {timeout:.0f} s")
        time.sleep(0.1)


def restart(engine: DockerEngine, name: str, *, timeout: int = 5) -> None:
    """Restart container ``name`` (its code is re-read from the mounted source folder)."""
    engine.client.containers.get(name).restart(timeout=timeout)


@contextmanager
def fresh_base_image(docker_client: Any, base_image: str) -> Iterator[str]:
    """A base image with an id of its own (the given one plus a label), so Docker deploys build their shared image.

    Docker deployments build ``mldeploy/dev:<base id>-...`` once per base image and reuse it; a
    test that watches that build's output needs a base nobody built on yet. Everything built
    on it is removed afterwards.
    """
    tag = f"mldeploy-test/base-{uuid.uuid4().hex[:10]}:1"
    with tempfile.TemporaryDirectory() as context:
        (Path(context) / "Dockerfile").write_text(f"FROM {base_image}\nLABEL mldeploy.test-base=\"{tag}\"\n")
        docker_client.images.build(path=context, tag=tag, network_mode="none", pull=False, rm=True, forcerm=True)
    short = docker_client.images.get(tag).id.split(":")[-1][:12]
    try:
        yield tag
    finally:
        for image in docker_client.images.list(name="mldeploy/dev"):
            if any(t.startswith(f"mldeploy/dev:{short}-") for t in image.tags):
                docker_client.images.remove(image.id, force=True)
        docker_client.images.remove(tag, force=True)
