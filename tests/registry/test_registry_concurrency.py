"""Many processes (and threads) registering under one name at once get distinct, consecutive versions."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from registry_helpers import sha256_of, worker_cmd, worker_env

from jupyter_mldeploy import Model
from jupyter_mldeploy.registry import Registry

WORKERS = 8


def _wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.02)


@pytest.mark.slow
def test_eight_processes_register_the_same_name_at_once(
    make_tree, tmp_path: Path, mldeploy_home: Path
) -> None:
    folders = [
        make_tree(
            f"model-{i}",
            {
                "weights.bin": f"weights of worker {i}".encode() * 5000,
                "shared/vocab.txt": b"the same in every model" * 100,
                f"only-{i}.txt": str(i).encode(),
            },
        )
        for i in range(WORKERS)
    ]
    go = tmp_path / "go"
    env = worker_env(mldeploy_home)
    procs = [
        subprocess.Popen(
            worker_cmd(str(folder), "shared-name", str(go)),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in folders
    ]
    try:
        _wait_for(
            lambda: len(list(tmp_path.glob("go.ready.*"))) == WORKERS, 120, "all workers to start"
        )
        go.touch()
        outputs = [proc.communicate(timeout=180) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    results = [json.loads(out) for out, _ in outputs]
    assert sorted(r["version"] for r in results) == list(range(1, WORKERS + 1))

    listed = Model.list(name="shared-name")
    assert [m.version for m in listed] == list(range(WORKERS, 0, -1))
    for folder, result in zip(folders, results, strict=True):
        model = Model("shared-name", result["version"])
        assert model.tags == {"source": str(folder)}
        expected = {
            p.relative_to(folder.parent).as_posix(): sha256_of(p)
            for p in folder.rglob("*")
            if p.is_file()
        }
        assert {f.path: f.sha256 for f in model.files} == expected
        out = Path(model.download(tmp_path / f"out-{result['version']}"))
        assert out.name == folder.name
        assert (out / "weights.bin").read_bytes() == (folder / "weights.bin").read_bytes()


def test_threads_share_one_registry_safely(make_tree) -> None:
    reg = Registry()
    folders = [make_tree(f"t{i}", {"w.bin": f"thread {i}".encode()}) for i in range(6)]
    versions: dict[int, int] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            versions[i] = reg.register(folders[i], "threaded").version
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sorted(versions.values()) == [1, 2, 3, 4, 5, 6]
    for i, version in versions.items():
        [entry] = reg.get("threaded", version).files
        assert entry.sha256 == sha256_of(folders[i] / "w.bin")


GC_LOOP = """
import sys, time
from pathlib import Path
from jupyter_mldeploy.registry import default_registry
stop, deadline, runs = Path(sys.argv[1]), time.monotonic() + 90, 0
while not stop.exists() and time.monotonic() < deadline:
    default_registry().gc(blob_grace_s=0)
    runs += 1
print(runs)
"""


@pytest.mark.slow
def test_gc_running_in_a_loop_never_breaks_concurrent_registers(
    make_tree, tmp_path: Path, mldeploy_home: Path
) -> None:
    """gc with no grace period removes every unreferenced blob it sees, as often as it can."""
    import sys

    folders = [
        make_tree(f"g{i}", {f"part-{j}.bin": f"worker {i} part {j}".encode() * 300 for j in range(30)})
        for i in range(4)
    ]
    stop = tmp_path / "stop"
    env = worker_env(mldeploy_home)
    gc_proc = subprocess.Popen(
        [sys.executable, "-c", GC_LOOP, str(stop)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        results = []
        for round_ in range(2):
            procs = [
                subprocess.Popen(
                    worker_cmd(str(folder), f"gc-race-{i}"),
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for i, folder in enumerate(folders)
            ]
            for proc in procs:
                out, err = proc.communicate(timeout=180)
                assert proc.returncode == 0, err
                results.append(json.loads(out))
    finally:
        stop.touch()
        gc_out, _ = gc_proc.communicate(timeout=120)
    assert int(gc_out) >= 1
    assert sorted((r["name"], r["version"]) for r in results) == sorted(
        (f"gc-race-{i}", v) for i in range(4) for v in (1, 2)
    )
    reg = Registry()
    assert reg.verify() == []
    for i, folder in enumerate(folders):
        for version in (1, 2):
            out = Path(reg.download(f"gc-race-{i}", version, tmp_path / f"out-{i}-{version}"))
            assert (out / "part-7.bin").read_bytes() == (folder / "part-7.bin").read_bytes()
