"""``get_captured(n)`` of a Kubernetes service without a cluster: each ready pod's file, merged by time.

A stand-in for the cluster lists pods and runs the command the target would exec in each pod with
this machine's Python, against a real ``capture.jsonl`` per pod written by the scoring server's own
writer (``JsonLinesFile``, rotated files included): so the command, the reader and the merge are the
real ones; only the API server's exec stream is not (the live test covers it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy.deploy.k8s.captured import pod_records, reader_command
from jupyter_mldeploy.errors import KubernetesError
from jupyter_mldeploy.images.dockerfile import CONTAINER_DATA, VENV
from jupyter_mldeploy.scoring.jsonl import JsonLinesFile


def _pod(name: str, ready: bool = True) -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": "2026-12-02T10:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class PodsOnDisk:
    """Pods whose data volumes are folders here; ``pod_exec`` runs the command with this Python."""

    def __init__(self, root: Path, pods: list[dict[str, Any]]) -> None:
        self.root, self._pods, self.commands = root, pods, []  # type: ignore[var-annotated]

    def pods(self, namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
        assert selector["app.kubernetes.io/instance"] == "ridge"
        return self._pods

    def pod_exec(self, namespace: str, pod: str, command: list[str]) -> str:
        self.commands.append((pod, command))
        assert command[0] == f"{VENV}/bin/python"
        args = [a.replace(CONTAINER_DATA, str(self.root / pod)) for a in command[1:]]
        return subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True).stdout


def _write(folder: Path, records: list[dict[str, Any]], rotate_bytes: int = 10_000_000) -> None:
    writer = JsonLinesFile(folder / "capture.jsonl", rotate_bytes=rotate_bytes)
    for record in records:
        writer.add(record)
        writer.flush()
    writer.close()


def _record(pod: str, i: int, second: int) -> dict[str, Any]:
    return {"request_id": f"{pod}-{i}", "time": f"2026-12-02T10:00:{second:02d}.000001+00:00", "status": 200}


def test_the_newest_records_of_every_ready_pod_come_back_in_time_order(tmp_path: Path) -> None:
    _write(tmp_path / "pod-a", [_record("a", i, s) for i, s in enumerate((1, 4, 7))])
    _write(tmp_path / "pod-b", [_record("b", i, s) for i, s in enumerate((2, 5, 8))], rotate_bytes=150)  # rotated
    _write(tmp_path / "pod-c", [_record("c", 0, 9)])  # not ready: left out
    cluster = PodsOnDisk(tmp_path, [_pod("pod-a"), _pod("pod-b"), _pod("pod-c", ready=False)])
    got = pod_records(cluster, "models", "ridge", "capture.jsonl", 4)  # type: ignore[arg-type]
    assert [r["request_id"] for r in got] == ["a-1", "b-1", "a-2", "b-2"]
    assert {pod for pod, _ in cluster.commands} == {"pod-a", "pod-b"}
    assert [r["request_id"] for r in pod_records(cluster, "models", "ridge", "capture.jsonl", 10)] == [  # type: ignore[arg-type]
        "a-0", "b-0", "a-1", "b-1", "a-2", "b-2"]


def test_a_pod_that_captured_nothing_yet_gives_no_records(tmp_path: Path) -> None:
    (tmp_path / "pod-a").mkdir()
    cluster = PodsOnDisk(tmp_path, [_pod("pod-a")])
    assert pod_records(cluster, "models", "ridge", "capture.jsonl", 5) == []  # type: ignore[arg-type]


def test_no_ready_pod_is_a_clear_error(tmp_path: Path) -> None:
    cluster = PodsOnDisk(tmp_path, [_pod("pod-a", ready=False)])
    with pytest.raises(KubernetesError, match=r"service 'ridge' has no ready pod in namespace 'models'.*"
                                              r"wait_for_deployment\(\)"):
        pod_records(cluster, "models", "ridge", "capture.jsonl", 5)  # type: ignore[arg-type]


def test_an_answer_that_is_not_records_names_the_pod(tmp_path: Path) -> None:
    class Foreign(PodsOnDisk):
        def pod_exec(self, namespace: str, pod: str, command: list[str]) -> str:
            return "sh: python: not found"

    with pytest.raises(KubernetesError, match=r"pod pod-a did not answer with its capture.jsonl records"):
        pod_records(Foreign(tmp_path, [_pod("pod-a")]), "models", "ridge", "capture.jsonl", 5)  # type: ignore[arg-type]


def test_the_reader_command_reads_the_data_volume_without_a_shell() -> None:
    command = reader_command("collected.jsonl", 7)
    assert command[0] == f"{VENV}/bin/python" and command[1] == "-c"
    assert command[-2:] == [f"{CONTAINER_DATA}/collected.jsonl", "7"]
