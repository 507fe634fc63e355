"""Load-test numbers for the k-model scaling script (the README's example), per target and concurrency.

Deploys ``score.py`` (``run`` multiplies ``data`` by k = 3) with the model ``k:1`` on the
local process target (and the Docker target when an engine and the base image are there),
then runs :func:`load_test` with N requests at several concurrencies and prints a Markdown
table of p50/p95/p99, throughput and errors. Also times one Send from ``TestRequestPanel``.

Usage::

    .venv/bin/python bench/loadtest_k.py                    # both targets, N=2000
    .venv/bin/python bench/loadtest_k.py --target process -n 500

Runs in a temporary ``MLDEPLOY_HOME`` and deletes what it creates. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLDEPLOY_BASE_IMAGE", "mldeploy/python-base:bookworm")
os.environ["MLDEPLOY_HOME"] = tempfile.mkdtemp(prefix="mldeploy-bench-home-")

from jupyter_mldeploy import InferenceConfig, LocalWebservice, Model, ProcessWebservice
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.client.loadtest import load_test

SCRIPT = textwrap.dedent(
    """
    import json, os

    def init():
        global k
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())

    def run(raw_data):
        return [x * k for x in json.loads(raw_data)["data"]]
    """
)
BODY = {"data": [1, 2.5, 4]}


def _docker_ready() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.images.get(os.environ["MLDEPLOY_BASE_IMAGE"])
        client.close()
        return True
    except Exception:  # noqa: BLE001 - any failure: skip the Docker target
        return False


def _panel_send_ms(service: Any, rounds: int = 30) -> float:
    from jupyter_mldeploy.widgets import TestRequestPanel

    panel = TestRequestPanel(service, sample=BODY)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        panel.send(wait=True)
        times.append((time.perf_counter() - started) * 1000)
    panel.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("process", "docker", "both"), default="both")
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="mldeploy-bench-app-"))
    (folder / "score.py").write_text(SCRIPT)
    (folder / "k.txt").write_text("3")
    model = Model.register(str(folder / "k.txt"), "k")
    targets = {"process": ProcessWebservice, "docker": LocalWebservice}
    wanted = ["process", "docker"] if args.target == "both" else [args.target]
    if "docker" in wanted and not _docker_ready():
        print("(no Docker engine or base image: Docker target skipped)")
        wanted.remove("docker")

    print(f"N = {args.requests} requests per row, body {BODY}, {os.cpu_count()} cores\n")
    print("| target | concurrency | p50 ms | p95 ms | p99 ms | req/s | errors |")
    print("|---|---:|---:|---:|---:|---:|---|")
    sends = {}
    for name in wanted:
        service = deploy(
            f"bench-{name}",
            [model],
            InferenceConfig("score.py", source_directory=str(folder)),
            targets[name].deploy_configuration(),
        )
        try:
            service.wait_for_deployment(timeout_sec=600)
            load_test(service, BODY, requests=100, concurrency=4)  # warm up
            for concurrency in args.concurrency:
                r = load_test(service, BODY, requests=args.requests, concurrency=concurrency)
                print(
                    f"| {name} | {concurrency} | {r.p50 * 1000:.2f} | {r.p95 * 1000:.2f} | "
                    f"{r.p99 * 1000:.2f} | {r.throughput:.0f} | {r.errors_text()} |"
                )
            sends[name] = _panel_send_ms(service)
        finally:
            service.delete(delete_image=True)
    print()
    for name, ms in sends.items():
        print(f"TestRequestPanel Send -> answer shown ({name}): median {ms:.2f} ms over 30 sends")


if __name__ == "__main__":
    main()
