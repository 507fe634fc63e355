"""What a DeploymentPanel costs: building it, one refresh, idle traffic, Reload latency; both targets.

For each target a tiny service is deployed, then: the time to build the panel, the median
and max of 20 refreshes (state probe + log tail), how many widget values changed in those
20 refreshes of an idle service (each change is a message to the browser), how long a
Reload click takes to return, and how long after the reload finished the badge says
Healthy (``refresh_s=1``). Prints a Markdown table.

Usage::

    .venv/bin/python bench/deployment_panel.py                  # both targets
    .venv/bin/python bench/deployment_panel.py --target process

The Docker target needs an engine and ``MLDEPLOY_BASE_IMAGE`` (default here
``mldeploy/python-base:bookworm``). Runs in a temporary ``MLDEPLOY_HOME`` and deletes
what it deploys. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

SCRIPT = "def init():\n    print('init hello', flush=True)\n\ndef run(raw):\n    return 1\n"


def measure(target: str, folder: Path, model: Any) -> dict[str, float]:
    from jupyter_mldeploy import InferenceConfig
    from jupyter_mldeploy.deploy import deploy
    from jupyter_mldeploy.deploy.docker import LocalWebservice
    from jupyter_mldeploy.deploy.process import ProcessWebservice
    from jupyter_mldeploy.widgets import DeploymentPanel

    cls = LocalWebservice if target == "docker" else ProcessWebservice
    service = deploy(
        f"bench-{target}",
        [model],
        InferenceConfig("score.py", source_directory=str(folder)),
        cls.deploy_configuration(),
    )
    service.wait_for_deployment(timeout_sec=600)
    try:
        started = time.perf_counter()
        panel = DeploymentPanel(service, refresh_s=3600)  # refreshed by hand below
        built = time.perf_counter() - started
        panel.refresh()
        changes: list[str] = []

        def walk(widget: Any) -> Any:
            yield widget
            for child in getattr(widget, "children", ()):
                yield from walk(child)

        for widget in walk(panel):
            widget.observe(lambda change: changes.append(change["name"]), names=["value"])
        times = []
        for _ in range(20):
            started = time.perf_counter()
            panel.refresh()
            times.append(time.perf_counter() - started)
        panel.close()

        live = DeploymentPanel(service, refresh_s=1.0)
        deadline = time.monotonic() + 30
        while live.state != "Healthy" and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.perf_counter()
        live.reload_button.click()
        click = time.perf_counter() - started
        service.wait_for_deployment(timeout_sec=600)
        finished = time.perf_counter()
        deadline = time.monotonic() + 30
        while (
            live.state != "Healthy" or live.progress_bar.value < 1
        ) and time.monotonic() < deadline:
            time.sleep(0.005)
        badge = time.perf_counter() - finished
        live.close()
    finally:
        service.delete(delete_image=True)
    return {
        "built_ms": built * 1000,
        "refresh_median_ms": statistics.median(times) * 1000,
        "refresh_max_ms": max(times) * 1000,
        "idle_changes": float(len(changes)),
        "click_ms": click * 1000,
        "badge_ms": badge * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("process", "docker"), action="append")
    args = parser.parse_args()
    os.environ["MLDEPLOY_HOME"] = tempfile.mkdtemp(prefix="mldeploy-bench-")
    os.environ.setdefault("MLDEPLOY_BASE_IMAGE", "mldeploy/python-base:bookworm")
    from jupyter_mldeploy import Model

    folder = Path(tempfile.mkdtemp(prefix="mldeploy-bench-src-"))
    (folder / "k.txt").write_text("3")
    (folder / "score.py").write_text(SCRIPT)
    model = Model.register(str(folder / "k.txt"), "k")
    rows = {
        target: measure(target, folder, model) for target in args.target or ["process", "docker"]
    }
    print("| | " + " | ".join(rows) + " |\n|---|" + "---|" * len(rows))
    labels = {
        "built_ms": "building the panel (ms)",
        "refresh_median_ms": "one refresh, median (ms)",
        "refresh_max_ms": "one refresh, max (ms)",
        "idle_changes": "widget messages in 20 idle refreshes",
        "click_ms": "Reload click returns after (ms)",
        "badge_ms": "badge Healthy after the reload finished (ms)",
    }
    for key, label in labels.items():
        print(f"| {label} | " + " | ".join(f"{row[key]:.1f}" for row in rows.values()) + " |")


if __name__ == "__main__":
    main()
