"""Measure the Docker layer: build times (first / cached / model-only / code-only / env change),
image size over the base image, container start, and edit-to-new-code times (restart, server --reload).

Usage::

    .venv/bin/python bench/docker_build.py                      # scoring runtime only
    .venv/bin/python bench/docker_build.py numpy scikit-learn   # plus a realistic ML environment

Needs a Docker engine and the base image (``MLDEPLOY_BASE_IMAGE``, default here
``mldeploy/python-base:bookworm``). Everything it creates is removed at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from jupyter_mldeploy._runtime import SCORING_RUNTIME_REQUIREMENTS, runtime_wheel
from jupyter_mldeploy.images.context import write_build_context
from jupyter_mldeploy.images.engine import DockerEngine, service_labels

SCORE = """
import json, os
import helpers
model = None
def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.json")) as f:
        model = json.load(f)
def run(raw_data):
    return {"version": helpers.VERSION, "y": [model["a"] * x for x in json.loads(raw_data)["data"]]}
"""


def mb(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


def score(port: int) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/score", data=b'{"data": [1, 2]}', headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def wait_version(port: int, version: int | None, timeout: float = 60) -> float:
    """Wait until ``/score`` answers with ``version`` (``None``: any answer); return the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            answer = score(port)
            if version is None or answer["version"] == version:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"version {version} not served within {timeout} s")


def main(extra: list[str]) -> None:
    base = os.environ.get("MLDEPLOY_BASE_IMAGE", "mldeploy/python-base:bookworm")
    engine = DockerEngine()
    engine.ping()
    run_id = uuid.uuid4().hex[:8]
    results: list[tuple[str, str]] = []
    tags: list[str] = []
    hashes: list[str] = []
    names: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wh = tmp / "wheels"
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
             "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
             "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
             "--platform", "manylinux_2_28_x86_64", "-d", str(wh), *SCORING_RUNTIME_REQUIREMENTS, *extra],
            check=True,
        )
        wheel_bytes = sum(p.stat().st_size for p in wh.glob("*.whl"))
        results.append(("wheelhouse (host pip download, warm pip cache)",
                        f"{time.monotonic() - started:.1f} s, {len(list(wh.glob('*.whl')))} wheels, {mb(wheel_bytes)}"))
        rt = runtime_wheel(tmp / "rt")
        src = tmp / "src"
        src.mkdir()
        (src / "score.py").write_text(SCORE)
        (src / "helpers.py").write_text("VERSION = 1\n")
        (tmp / "m1").mkdir()
        (tmp / "m1" / "model.json").write_text('{"a": 2}')
        (tmp / "m2").mkdir()
        (tmp / "m2" / "model.json").write_text('{"a": 3}')
        env_hash = f"bench-{run_id}"
        hashes.append(env_hash)

        def build(label: str, **kwargs: object) -> str:
            ctx = tmp / f"ctx-{len(tags)}"
            options: dict = {"base_image": base, "wheelhouse_dir": wh, "runtime_wheel": rt, "source_dir": src,
                                 "entry_script": "score.py", "env_hash": env_hash, "models": {"m": {1: tmp / "m1" / "model.json"}}}
            options.update(kwargs)
            info = write_build_context(ctx, **options)
            tag = f"mldeploy-bench/{run_id}:{len(tags)}"
            tags.append(tag)
            result = engine.build_image(info.path, tag, labels=service_labels("bench"))
            results.append((f"build: {label}", f"{result.seconds:.1f} s ({result.cached_steps}/{len(result.steps)} steps cached)"))
            return tag

        first = build("first (no cache)")
        build("same context again (all cached)")
        build("new model version", models={"m": {2: tmp / "m2" / "model.json"}})
        (src / "helpers.py").write_text("VERSION = 1  # edited\n")
        build("code edit")
        other_hash = f"bench2-{run_id}"
        hashes.append(other_hash)
        build("environment change (new spec hash)", env_hash=other_hash)

        client = engine.client
        base_size = client.images.get(base).attrs["Size"]
        image = client.images.get(first)
        venv_layer = next(
            (h["Size"] for h in image.history() if "COPY --from=env" in h.get("CreatedBy", "") or
             ("COPY dir:" in h.get("CreatedBy", "") and "/opt/mldeploy/venv" in h.get("CreatedBy", ""))), 0
        )
        results.append(("image size over the base image",
                        f"{mb(image.attrs['Size'] - base_size)} (base {mb(base_size)}; venv layer {mb(venv_layer)})"))

        (src / "helpers.py").write_text("VERSION = 1\n")
        name = f"mldeploy-bench-{run_id}"
        names.append(name)
        started = time.monotonic()
        running = engine.run_container(first, name, source_dir=src, labels=service_labels("bench"))
        wait_version(running.port, None)
        results.append(("container start -> /ready 200", f"{time.monotonic() - started:.2f} s"))

        (src / "helpers.py").write_text("VERSION = 2\n")
        started = time.monotonic()
        client.containers.get(name).restart(timeout=5)
        took = wait_version(running.port, 2)
        results.append(("edit -> restart() -> new code answers", f"{time.monotonic() - started:.2f} s"))

        engine.remove(name)
        started = time.monotonic()
        running = engine.run_container(first, name, source_dir=src, env={"MLDEPLOY_RELOAD": "1"})
        wait_version(running.port, None)
        wait_version(running.port, 2)
        time.sleep(1.0)  # let the watcher take its first snapshot
        (src / "helpers.py").write_text("VERSION = 4\n")
        took = wait_version(running.port, 4)
        results.append(("edit -> server --reload in the container -> new code answers", f"{took:.2f} s"))

    for name in names:
        engine.remove(name)
    for tag in tags:
        engine.remove_image(tag)
    for env_hash in hashes:
        engine.remove_env_cache(env_hash)
    engine.close()
    width = max(len(k) for k, _ in results)
    print(f"\nDocker layer ({', '.join(extra) or 'scoring runtime only'}; base {base})")
    for key, value in results:
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
