"""Deployment times through the public API, for the Docker and the local process targets.

For each target: the first deploy (Docker: base image present, the environment
layer not cached), a re-deploy after editing ``score.py`` (``update(inference_config=...)``
and ``reload()``), after a new model version (``update(models=...)``), and after an
environment change; for Docker also the image size over the base image and the
environment's installed size. Each time runs from the call until the new code or model
answers ``/score``. For Docker the same run also builds the reference: a plain
``docker build`` of the same wheels with ``pip install --no-index`` (no layer cache), and
prints the ratios the goals are stated in (first deploy / reference, environment change /
first deploy). Prints a Markdown table.

Usage::

    .venv/bin/python bench/deploy_times.py                 # both targets
    .venv/bin/python bench/deploy_times.py --target process
    .venv/bin/python bench/deploy_times.py --env sklearn        # scikit-learn + numpy + joblib

Needs a Docker engine and the base image (``MLDEPLOY_BASE_IMAGE``, default here
``mldeploy/python-base:bookworm``) for the Docker target. Runs in a temporary
``MLDEPLOY_HOME`` and removes every service and image it creates. uv's package cache is
the host's, warm as the goals state it (``~/.cache/mldeploy-bench/uv``, kept between
runs, or ``MLDEPLOY_UV_CACHE_DIR``); ``--cold-cache`` gives the run an empty one instead. Numbers, not
assertions: compare them within one run.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("MLDEPLOY_BASE_IMAGE", "mldeploy/python-base:bookworm")
os.environ["MLDEPLOY_HOME"] = tempfile.mkdtemp(prefix="mldeploy-bench-home-")
if "--cold-cache" in sys.argv:
    os.environ["MLDEPLOY_UV_CACHE_DIR"] = os.path.join(os.environ["MLDEPLOY_HOME"], "cache", "uv")
else:
    os.environ.setdefault("MLDEPLOY_UV_CACHE_DIR", os.path.expanduser("~/.cache/mldeploy-bench/uv"))

from jupyter_mldeploy import (  # noqa: E402 - after MLDEPLOY_HOME is set
    Environment,
    InferenceConfig,
    LocalWebservice,
    Model,
    ProcessWebservice,
)

SCRIPT = textwrap.dedent(
    """
    import json, os
    {imports}
    VERSION = {version}

    def init():
        global k
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())
        {init}

    def run(raw_data):
        return {{"version": VERSION, "y": [x * k for x in json.loads(raw_data)["data"]]}}
    """
)
#: what the script imports and does in init(): nothing heavy, or scikit-learn (import + a fit, as a model load)
FLAVOURS = {
    "six": ("", "pass", "six\n"),
    "sklearn": ("import numpy, joblib\nfrom sklearn.linear_model import Ridge",
                "Ridge().fit(numpy.random.rand(2000, 20), numpy.random.rand(2000))",
                "scikit-learn\nnumpy\njoblib\n"),
}
FLAVOUR = "six"
#: the small package the environment change adds (in neither flavour's environment before)
ADDED = "tabulate"


def script(version: int) -> str:
    imports, init, _ = FLAVOURS[FLAVOUR]
    return SCRIPT.format(version=version, imports=imports, init=init)


class Load:
    """``clients`` threads sending /score to 127.0.0.1 during a step (bounded in count and time)."""

    def __init__(self, url: str, clients: int = 8, max_requests: int = 20000, max_s: float = 120.0) -> None:
        import threading

        self.url, self.max_requests, self.max_s = url, max_requests, max_s
        self.sent = self.failed = 0
        self.times: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.3)
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _client(self) -> None:
        from jupyter_mldeploy.client.client import ScoringClient

        deadline = time.monotonic() + self.max_s
        with ScoringClient(self.url, timeout=30) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    if self.sent >= self.max_requests:
                        return
                    self.sent += 1
                try:
                    ok = client.request("POST", "/score", b'{"data": [1]}').status == 200
                except Exception:  # noqa: BLE001 - counted
                    ok = False
                with self._lock:
                    if ok:
                        self.times.append(time.monotonic())
                    else:
                        self.failed += 1

    def summary(self) -> str:
        times = sorted(self.times)
        gap = max((b - a for a, b in itertools.pairwise(times)), default=0.0)
        return f"{self.sent} sent, {self.failed} failed, largest gap {gap * 1000:.0f} ms"


def _until(check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not answering yet
            pass
        time.sleep(0.02)
    raise TimeoutError("the service did not answer as expected in time")


def _timed(action: Callable[[], Any], check: Callable[[], bool]) -> float:
    started = time.perf_counter()
    action()
    _until(check)
    return time.perf_counter() - started


def measure(target: str, work: Path) -> dict[str, str]:
    app = work / f"app-{target}"
    app.mkdir()
    (app / "score.py").write_text(script(1))
    (work / "k.txt").write_text("2")
    v1 = Model.register(str(work / "k.txt"), f"bench-{target}")
    reqs = work / f"req-{target}.txt"
    reqs.write_text(FLAVOURS[FLAVOUR][2])
    env1 = Environment.from_pip_requirements(f"bench-{target}-env", str(reqs))
    config = (LocalWebservice if target == "docker" else ProcessWebservice).deploy_configuration()
    inference = InferenceConfig("score.py", source_directory=str(app), environment=env1)
    name = f"bench-{target}"
    results: dict[str, str] = {}

    if target == "docker":
        from jupyter_mldeploy.images.engine import DockerEngine

        with DockerEngine() as engine:
            removed = engine.remove_env_cache(env1.spec_hash if hasattr(env1, "spec_hash") else None)
        print(f"[{target}] removed {removed} cached environment layer image(s) first", file=sys.stderr)

    if target == "docker":
        results.update(reference_build(env1, work))

    started = time.perf_counter()
    service = Model.deploy(name, [v1], inference, config, overwrite=True)
    service.wait_for_deployment(timeout_sec=900)
    first = time.perf_counter() - started
    results["first deploy"] = f"{first:.1f} s"
    if target == "docker":
        reference = float(results["reference: plain docker build, pip install --no-index"].split()[0])
        results["first deploy / reference (goal <= 0.3)"] = f"{first / reference:.2f}"
    phases = ", ".join(f"{p.name} {p.seconds:.1f}s ({p.detail})" for p in (service.progress.phases if service.progress else []))
    print(f"[{target}] first deploy phases: {phases}", file=sys.stderr)

    try:
        (app / "score.py").write_text(script(2))
        with Load(str(service._base_url)) as load:
            results["edit score.py -> update(inference_config)"] = "%.2f s" % _timed(
                lambda: service.update(inference_config=inference),
                lambda: service.run({"data": [1]})["version"] == 2,
            )
        results["load at concurrency 8 during the score.py update"] = load.summary()
        (app / "score.py").write_text(script(3))
        results["edit score.py -> reload()"] = "%.2f s" % _timed(
            service.reload, lambda: service.run({"data": [1]})["version"] == 3
        )
        (work / "k.txt").write_text("5")
        v2 = Model.register(str(work / "k.txt"), f"bench-{target}")
        results["new model version -> update(models)"] = "%.2f s" % _timed(
            lambda: service.update(models=[v2], inference_config=inference),
            lambda: service.run({"data": [1]})["y"] == [5.0],
        )
        # the usual "add a package" edit: a small package (not in the environment yet) into the
        # requirements, and score.py starts using it
        reqs2 = work / f"req2-{target}.txt"
        reqs2.write_text(FLAVOURS[FLAVOUR][2] + f"{ADDED}\n")
        env2 = Environment.from_pip_requirements(f"bench-{target}-env", str(reqs2))
        inference2 = InferenceConfig("score.py", source_directory=str(app), environment=env2)
        (app / "score.py").write_text(script(4).replace("VERSION = 4", f"import {ADDED}\nVERSION = 4"))
        changed = _timed(
            lambda: service.update(inference_config=inference2),
            lambda: service.run({"data": [1]})["version"] == 4,
        )
        results[f"environment change (+ {ADDED}, imported) -> update(inference_config)"] = "%.2f s" % changed
        phases = ", ".join(f"{p.name} {p.seconds:.2f}s ({p.detail})" for p in (service.progress.phases if service.progress else []))
        print(f"[{target}] environment change phases: {phases}", file=sys.stderr)
        results["environment change / first deploy (goal <= 0.3)"] = f"{changed / first:.2f}"
        if target == "docker":
            import docker

            client = docker.from_env()
            image = client.images.get(service._record.image)
            base = client.images.get(os.environ["MLDEPLOY_BASE_IMAGE"])
            over = (image.attrs["Size"] - base.attrs["Size"]) / 1e6
            results["image size over the base image (what the engine stores for the service)"] = f"{over:.1f} MB"
            tree = (service._record.environment or {}).get("tree")
            if tree:
                results[f"environment installed size ({FLAVOUR} + {ADDED} + runtime, mounted)"] = (
                    f"{_du(Path(tree)) / 1e6:.1f} MB")
            client.close()
    finally:
        service.delete(delete_image=True)
    return results


def reference_build(env: Any, work: Path) -> dict[str, str]:
    """The reference: a plain ``docker build`` of the same wheels with ``pip install --no-index`` (no cache)."""
    import docker

    from jupyter_mldeploy.environment.image import wheels_for_image
    from jupyter_mldeploy.images.engine import DockerEngine

    wheels = wheels_for_image(env)  # resolved here, so the deployment after reuses them: both get them free
    ctx = work / "reference-ctx"
    ctx.mkdir()
    (ctx / "wheels").mkdir()
    for wheel in wheels.path.glob("*.whl"):
        (ctx / "wheels" / wheel.name).hardlink_to(wheel)
    requirements = [line for line in (wheels.path / "requirements.txt").read_text().splitlines()
                    if not line.lower().startswith("jupyter-mldeploy")]
    (ctx / "wheels" / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (ctx / "Dockerfile").write_text(
        f"FROM {wheels.platform.base_image}\n"
        "RUN python3 -m venv /opt/venv\n"
        "COPY wheels/ /tmp/wheels/\n"
        "RUN /opt/venv/bin/pip install --no-index --no-cache-dir --disable-pip-version-check "
        "--find-links /tmp/wheels -r /tmp/wheels/requirements.txt\n"
    )
    tag = f"mldeploy-bench/reference-{os.getpid()}:1"
    client = docker.from_env()
    started = time.perf_counter()
    client.images.build(path=str(ctx), tag=tag, nocache=True, rm=True, forcerm=True, pull=False)
    seconds = time.perf_counter() - started
    image = client.images.get(tag)
    base = client.images.get(wheels.platform.base_image)
    over = (image.attrs["Size"] - base.attrs["Size"]) / 1e6
    with DockerEngine(client) as engine:
        engine.remove_image(tag)
    return {"reference: plain docker build, pip install --no-index": f"{seconds:.1f} s",
            "reference image size over the base image": f"{over:.1f} MB"}


def _du(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("docker", "process", "both"), default="both")
    parser.add_argument("--env", choices=sorted(FLAVOURS), default="six",
                        help="the service's environment: six, or scikit-learn + numpy + joblib (the script imports it)")
    parser.add_argument("--cold-cache", action="store_true",
                        help="an empty uv package cache for this run (default: the host's warm one, kept between runs)")
    args = parser.parse_args()
    global FLAVOUR
    FLAVOUR = args.env
    targets = ["docker", "process"] if args.target == "both" else [args.target]
    with tempfile.TemporaryDirectory(prefix="mldeploy-bench-") as tmp:
        rows: dict[str, dict[str, str]] = {}
        for target in targets:
            work = Path(tmp) / target
            work.mkdir()
            rows[target] = measure(target, work)
    steps = list(dict.fromkeys(step for r in rows.values() for step in r))
    print(f"\n# deploy_times {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"environment {FLAVOUR}, base image {os.environ['MLDEPLOY_BASE_IMAGE']}, "
          f"uv cache {'cold' if args.cold_cache else 'warm'} ({os.environ['MLDEPLOY_UV_CACHE_DIR']}), "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| step | " + " | ".join(targets) + " |")
    print("|---|" + "---:|" * len(targets))
    for step in steps:
        print(f"| {step} | " + " | ".join(rows[t].get(step, "-") for t in targets) + " |")


if __name__ == "__main__":
    main()
