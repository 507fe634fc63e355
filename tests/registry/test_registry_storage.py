"""The content-addressed blob store: layout, copy paths, durability order, gc."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from registry_helpers import object_files, sha256_of, temp_files

from jupyter_mldeploy import Model
from jupyter_mldeploy.registry import Registry, _db, _fileio, _storage


def test_blob_layout_and_read_only_objects(make_tree, mldeploy_home: Path) -> None:
    root = make_tree("m", {"model.pkl": b"weights"})
    model = Model.register(root, "m")
    digest = sha256_of(root / "model.pkl")
    blob = mldeploy_home / "objects" / "sha256" / digest[:2] / digest
    assert object_files(mldeploy_home) == [blob]
    assert blob.read_bytes() == b"weights"
    assert not blob.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert model.files[0].sha256 == digest
    assert (mldeploy_home / "registry.db").exists()
    assert temp_files(mldeploy_home) == []


@pytest.mark.parametrize(
    "size", [0, 1, _storage.SMALL_FILE_LIMIT, _storage.SMALL_FILE_LIMIT + 1, 40 << 20]
)
def test_stage_hashes_the_stored_bytes(tmp_path: Path, size: int) -> None:
    source = tmp_path / "f.bin"
    source.write_bytes(os.urandom(size))
    store = _storage.BlobStore(tmp_path / "home")
    blob = store.stage(source)
    assert blob.size == size
    assert blob.temp is not None and Path(blob.temp).read_bytes() == source.read_bytes()
    assert blob.sha256 == sha256_of(source)
    store.publish([blob])
    assert store.object_path(blob.sha256).read_bytes() == source.read_bytes()
    assert not Path(blob.temp).exists()
    again = store.stage(source, hash_first=True)
    assert again.temp is None and again.sha256 == blob.sha256


def test_plain_copy_fallback_gives_the_same_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "f.bin"
    source.write_bytes(os.urandom(9 << 20))

    def no_kernel_copy(*args: object) -> int:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(_fileio.os, "copy_file_range", no_kernel_copy)
    store = _storage.BlobStore(tmp_path / "home")
    blob = store.stage(source)
    assert blob.sha256 == sha256_of(source)
    assert blob.temp is not None and Path(blob.temp).read_bytes() == source.read_bytes()


def test_kernel_copy_that_copies_nothing_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "f.bin"
    source.write_bytes(os.urandom(5 << 20))
    monkeypatch.setattr(_fileio.os, "copy_file_range", lambda *args: 0)
    blob = _storage.BlobStore(tmp_path / "home").stage(source)
    assert (blob.size, blob.sha256) == (5 << 20, sha256_of(source))


def test_existing_object_is_not_rewritten(make_tree, mldeploy_home: Path) -> None:
    root = make_tree("m", {"big.bin": os.urandom(6 << 20), "small.bin": b"s"})
    Model.register(root, "m")
    inodes = {p: p.stat().st_ino for p in object_files(mldeploy_home)}
    Model.register(root, "m")
    Model.register(root, "other")
    assert {p: p.stat().st_ino for p in object_files(mldeploy_home)} == inodes


def test_publish_flushes_temp_files_before_renaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _storage.BlobStore(tmp_path / "home")
    sources = []
    for i in range(3):
        path = tmp_path / f"f{i}"
        path.write_bytes(f"content {i}".encode())
        sources.append(store.stage(path))
    events: list[str] = []
    real_replace = os.replace

    def flush(paths: list[str], anchor: Path) -> None:
        events.append(f"flush:{anchor.name}")

    def replace(src: object, dst: object) -> None:
        events.append("rename")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(_fileio, "flush", flush)
    monkeypatch.setattr(_storage.os, "replace", replace)
    store.publish(sources)
    assert events == ["flush:objects", "rename", "rename", "rename", "flush:sha256"]


def test_register_restores_blobs_removed_before_commit(
    make_tree, mldeploy_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gc or delete that removes a blob between store and commit makes register store it again."""
    root = make_tree("m", {"a.bin": b"a" * 100, "b.bin": b"b" * 100})
    reg = Registry()
    real_publish = _storage.BlobStore.publish
    calls = {"n": 0}

    def publish_then_lose_one(self: _storage.BlobStore, staged: object) -> None:
        real_publish(self, staged)  # type: ignore[arg-type]
        calls["n"] += 1
        if calls["n"] == 1:
            victim = object_files(mldeploy_home)[0]
            victim.unlink()  # what a concurrent gc would do to an unreferenced blob

    monkeypatch.setattr(_storage.BlobStore, "publish", publish_then_lose_one)
    record = reg.register(root, "m")
    assert calls["n"] == 2
    assert len(object_files(mldeploy_home)) == 2
    out = reg.download("m", record.version, mldeploy_home.parent / "out")
    assert (Path(out) / "a.bin").read_bytes() == b"a" * 100
    assert (Path(out) / "b.bin").read_bytes() == b"b" * 100


def test_failed_commit_leaves_no_version_and_gc_frees_the_bytes(
    make_tree, mldeploy_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree("m", {"model.pkl": b"bytes of a model that never got a version"})
    reg = Registry()

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash at commit time")

    monkeypatch.setattr(_db, "insert_version", fail)
    with pytest.raises(RuntimeError, match="simulated crash"):
        reg.register(root, "m")
    monkeypatch.undo()
    assert reg.list() == []
    assert len(object_files(mldeploy_home)) == 1  # orphan blob
    assert reg.gc().blobs == 0  # younger than the grace period: a register may be about to use it
    report = reg.gc(blob_grace_s=0)
    assert (report.blobs, report.bytes_freed) == (
        1,
        len(b"bytes of a model that never got a version"),
    )
    assert object_files(mldeploy_home) == []
    assert reg.register(root, "m").version == 1


def test_gc_removes_temp_files_of_dead_processes_only(make_tree, mldeploy_home: Path) -> None:
    reg = Registry()
    reg.register(make_tree("m", {"f": b"1"}), "m")
    temp_dir = mldeploy_home / "tmp" / "objects"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    orphan = temp_dir / f"{dead_pid}-0123abcd.part"
    orphan.write_bytes(b"partial")
    mine = temp_dir / f"{os.getpid()}-4567abcd.part"
    mine.write_bytes(b"in progress")
    old_but_alive = temp_dir / f"{os.getpid()}-89abcdef.part"
    old_but_alive.write_bytes(b"stale")
    past = time.time() - 3 * 24 * 3600
    os.utime(old_but_alive, (past, past))
    report = reg.gc()
    assert report.temp_files == 2
    assert not orphan.exists() and not old_but_alive.exists()
    assert mine.exists()
    assert [m.id for m in reg.list()] == ["m:1"]


def test_gc_keeps_referenced_blobs_and_removes_stale_copies(make_tree, mldeploy_home: Path) -> None:
    reg = Registry()
    root = make_tree("m", {"f.bin": b"1" * 10})
    reg.register(root, "m")
    reg.model_path("m", 1)
    # a copy left by a version deleted behind our back (e.g. by an older tool)
    stale = reg.store.materialized_dir("m", 99)
    stale.mkdir(parents=True)
    (stale / "f.bin").write_bytes(b"old")
    report = reg.gc(blob_grace_s=0)
    assert (report.blobs, report.copies) == (0, 1)
    assert not stale.exists()
    assert Path(reg.model_path("m", 1)).is_dir()
    assert len(object_files(mldeploy_home)) == 1


def test_reregistering_a_large_file_hashes_without_copying(
    make_tree, mldeploy_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree("m", {"big.bin": os.urandom(_storage.SMALL_FILE_LIMIT + 10)})
    Model.register(root, "m")
    copies: list[int] = []
    real = _fileio.copy_and_hash

    def counting(src_fd: int, dst_fd: int) -> tuple[str, int]:
        copies.append(src_fd)
        return real(src_fd, dst_fd)

    monkeypatch.setattr(_fileio, "copy_and_hash", counting)
    assert Model.register(root, "m").version == 2
    assert copies == []  # same name, same size: hashed first, found, not copied
    Model.register(root, "new-name")
    assert len(copies) == 1  # unknown name: copied while hashing, then the temp file dropped
    assert len(object_files(mldeploy_home)) == 1
    assert temp_files(mldeploy_home) == []


def test_verify_finds_altered_and_missing_blobs(make_tree, mldeploy_home: Path) -> None:
    reg = Registry()
    root = make_tree("m", {"a.bin": b"aaa", "b.bin": b"bbb", "shared.bin": b"sss"})
    reg.register(root, "m")
    reg.register(root / "shared.bin", "other")
    assert reg.verify() == []
    by_content = {p.read_bytes(): p for p in object_files(mldeploy_home)}
    altered = by_content[b"aaa"]
    os.chmod(altered, 0o644)
    altered.write_bytes(b"AAA")
    by_content[b"sss"].unlink()
    problems = {p.sha256: p for p in reg.verify()}
    assert set(problems) == {altered.name, by_content[b"sss"].name}
    assert problems[altered.name].issue.startswith("altered (its bytes hash to ")
    assert problems[altered.name].used_by == ("m:1/m/a.bin",)
    assert problems[by_content[b"sss"].name].issue == "missing"
    assert problems[by_content[b"sss"].name].used_by == ("m:1/m/shared.bin", "other:1/shared.bin")
    assert [p.used_by for p in reg.verify("other")] == [("other:1/shared.bin",)]
    assert len(reg.verify("m", 1)) == 2


def test_many_files_are_flushed_with_one_syncfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = _fileio._SYNCFS
    if real is None:
        pytest.skip("syncfs is Linux-only")
    monkeypatch.setattr(_fileio, "_SYNCFS", lambda fd: (calls.append("syncfs"), real(fd))[1])
    monkeypatch.setattr(_fileio.os, "fsync", lambda fd: calls.append("fsync"))
    store = _storage.BlobStore(tmp_path / "home")
    staged = []
    for i in range(_fileio.FSYNC_EACH_LIMIT + 1):
        (tmp_path / f"f{i}").write_bytes(f"file {i}".encode())
        staged.append(store.stage(tmp_path / f"f{i}"))
    store.publish(staged)
    assert calls[0] == "syncfs"  # the temp files: one syncfs
    assert all(store.has(b.sha256, b.size) for b in staged)


def test_publish_without_syncfs_fsyncs_each_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fileio, "_SYNCFS", None)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(_fileio.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    store = _storage.BlobStore(tmp_path / "home")
    source = tmp_path / "f"
    source.write_bytes(b"portable")
    blob = store.stage(source)
    store.publish([blob])
    assert store.object_path(blob.sha256).read_bytes() == b"portable"
    assert len(synced) == 2  # the temp file, then its shard folder
