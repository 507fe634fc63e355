"""kill -9 in the middle of a register leaves no half version and a usable registry."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from registry_helpers import object_files, sha256_of, temp_files, worker_cmd, worker_env

from jupyter_mldeploy import Model
from jupyter_mldeploy.errors import ModelNotFoundError
from jupyter_mldeploy.registry import _fileio, default_registry


def _big_model(root: Path, big_mb: int, small: int) -> Path:
    root.mkdir()
    with open(root / "weights.bin", "wb") as fh:
        for _ in range(big_mb):
            fh.write(os.urandom(1 << 20))
    for i in range(small):
        (root / "parts").mkdir(exist_ok=True)
        (root / "parts" / f"{i:03d}.bin").write_bytes(os.urandom(2048 + i))
    return root


@pytest.mark.slow
def test_kill_9_while_storing_leaves_no_version(tmp_path: Path, mldeploy_home: Path) -> None:
    model_dir = _big_model(tmp_path / "big", big_mb=64, small=20)
    proc = subprocess.Popen(
        worker_cmd(str(model_dir), "big"),
        env=worker_env(mldeploy_home, MLDEPLOY_TEST_SLOW_COPY="1.0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def sizes() -> list[int]:
        found = []
        for path in temp_files(mldeploy_home):
            try:
                found.append(path.stat().st_size)
            except FileNotFoundError:
                continue
        return found

    try:
        deadline = time.monotonic() + 120
        # wait until the large file is partly copied (one 16 MiB chunk, then a 1 s pause)
        while not any(size >= _fileio.COPY_CHUNK for size in sizes()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the register never started storing the large file"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    leftovers = temp_files(mldeploy_home)
    assert leftovers, "the killed register should have left temp files behind"
    big = max(sizes())
    assert _fileio.COPY_CHUNK <= big < 64 << 20, "killed in the middle of copying the large file"
    assert Model.list() == []
    with pytest.raises(ModelNotFoundError, match="registry at .* is empty"):
        Model("big")

    report = default_registry().gc(blob_grace_s=0)
    assert report.temp_files == len(leftovers)
    assert temp_files(mldeploy_home) == []
    assert object_files(mldeploy_home) == []  # blobs stored before the kill had no version: freed

    model = Model.register(model_dir, "big")
    assert model.version == 1
    by_path = {f.path: f.sha256 for f in model.files}
    assert by_path["big/weights.bin"] == sha256_of(model_dir / "weights.bin")
    assert len(by_path) == 21
    out = Path(model.download(tmp_path / "restored"))
    assert sha256_of(out / "weights.bin") == by_path["big/weights.bin"]


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_s", [0.05, 0.3, 0.8, 2.0])
def test_kill_at_any_moment_leaves_whole_versions_only(
    tmp_path: Path, mldeploy_home: Path, kill_after_s: float
) -> None:
    """Wherever the kill lands (startup, storing, commit, done) every visible version is whole."""
    model_dir = _big_model(tmp_path / "m", big_mb=24, small=40)
    expected = {
        p.relative_to(tmp_path).as_posix(): sha256_of(p)
        for p in model_dir.rglob("*")
        if p.is_file()
    }
    Model.register(model_dir, "m")  # version 1 exists before the crash
    proc = subprocess.Popen(
        worker_cmd(str(model_dir), "m"),
        env=worker_env(mldeploy_home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(kill_after_s)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)

    versions = Model.list(name="m")
    assert [m.version for m in versions][-1] == 1
    assert len(versions) in (1, 2)
    for model in versions:
        assert {f.path: f.sha256 for f in model.files} == expected
        out = Path(model.download(tmp_path / f"out-{model.version}"))
        assert sha256_of(out / "weights.bin") == expected["m/weights.bin"]
    default_registry().gc(blob_grace_s=0)
    assert temp_files(mldeploy_home) == []
    assert Model.register(model_dir, "m").version == len(versions) + 1
