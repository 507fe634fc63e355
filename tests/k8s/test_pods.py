"""Why a pod will not become ready, in one line: each cause the cluster reports, from pod objects as the API gives them."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_mldeploy.deploy.k8s.pods import pod_problem, pod_ready

TRACEBACK = (
    "worker 1: init() failed\nTraceback (most recent call last):\n"
    '  File "/var/azureml-app/score.py", line 3, in init\n    settings["threshold"]\n'
    "KeyError: 'threshold'\n"
)


def pod(*, waiting: str = "", message: str = "", terminated: dict[str, Any] | None = None, restarts: int = 0,
        unschedulable: str = "", ready: bool = False, phase: str = "Running") -> dict[str, Any]:
    state: dict[str, Any] = {}
    if waiting:
        state["waiting"] = {"reason": waiting, "message": message}
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    if unschedulable:
        conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                           "message": unschedulable})
    return {
        "metadata": {"name": "ridge-7d4-abc"},
        "spec": {"containers": [{"name": "scoring", "resources": {"requests": {"cpu": "64000m", "memory": "512Mi"}}}]},
        "status": {
            "phase": "Pending" if unschedulable else phase,
            "conditions": conditions,
            "containerStatuses": [] if unschedulable else [{
                "name": "scoring", "image": "127.0.0.1:5000/models/ridge@sha256:abc", "ready": ready,
                "restartCount": restarts, "state": state,
                "lastState": {"terminated": terminated} if terminated else {},
            }],
        },
    }


def no_logs(previous: bool) -> str:
    return ""


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"])
def test_an_image_the_nodes_cannot_pull(reason: str) -> None:
    line = pod_problem(pod(waiting=reason, message="not found: manifest unknown"), no_logs)
    assert line is not None and line.startswith(f"{reason}: the cluster cannot pull image 127.0.0.1:5000/models/ridge")
    assert "(not found: manifest unknown)" in line and "image_pull_secrets" in line


def test_pending_for_resources_names_what_the_pod_asks_and_the_fix() -> None:
    line = pod_problem(pod(unschedulable="0/1 nodes are available: 1 Insufficient cpu."), no_logs)
    assert line is not None and line.startswith("Pending: no node can take pod ridge-7d4-abc (asks cpu 64000m, memory 512Mi)")
    assert "1 Insufficient cpu." in line and "Lower cpu_cores/memory_gb" in line


def test_a_crash_loop_shows_the_init_traceback_from_the_previous_run() -> None:
    asked: list[bool] = []

    def logs(previous: bool) -> str:
        asked.append(previous)
        return TRACEBACK if previous else ""

    line = pod_problem(pod(waiting="CrashLoopBackOff", restarts=3, terminated={"exitCode": 1}), logs,
                       entry_script="src/score.py")
    assert line is not None and line.startswith("init() of src/score.py failed in pod ridge-7d4-abc (CrashLoopBackOff, restarted 3 times)")
    assert "KeyError: 'threshold'" in line and asked[0] is True


def test_a_server_that_stays_up_unready_with_a_traceback() -> None:
    line = pod_problem(pod(), lambda previous: TRACEBACK)
    assert line is not None and "(running, not ready)" in line and "KeyError: 'threshold'" in line


def test_out_of_memory_and_a_crash_without_a_traceback() -> None:
    oom = pod_problem(pod(waiting="CrashLoopBackOff", restarts=1, terminated={"reason": "OOMKilled", "exitCode": 137}),
                      no_logs)
    assert oom is not None and oom.startswith("OOMKilled:") and "raise memory_gb" in oom
    crash = pod_problem(pod(waiting="CrashLoopBackOff", restarts=2, terminated={"exitCode": 2}),
                        lambda previous: "usage: python -m jupyter_mldeploy.scoring\nerror: bad flag\n")
    assert crash is not None and "exited with code 2 (restarted 2 times)" in crash and "error: bad flag" in crash


def test_a_starting_or_ready_pod_has_no_problem() -> None:
    assert pod_problem(pod(waiting="ContainerCreating"), no_logs) is None
    assert pod_problem(pod(), lambda previous: "loading the model\n") is None
    healthy = pod(ready=True)
    assert pod_ready(healthy) and pod_problem(healthy, no_logs) is None
