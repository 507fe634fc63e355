"""The Docker target's mounted source copy: refilled in place, the serving copy set aside until the new one serves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jupyter_mldeploy.deploy.container_files import SERVING_ASIDE, refill_source, settle_source
from jupyter_mldeploy.errors import PathEscapeError


def _app(folder: Path, version: int) -> Path:
    (folder / "pkg").mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text(f"VERSION = {version}\n")
    (folder / "pkg" / "helper.py").write_text(f"HELPER = {version}\n")
    return folder


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_failed_swap_puts_the_serving_files_back(tmp_path: Path) -> None:
    dest = tmp_path / "service" / "src"
    refill_source(_app(tmp_path / "v1", 1), dest)
    settle_source(dest, took_over=True)
    inode = os.stat(dest).st_ino  # the folder the container's bind mount points at

    v2 = _app(tmp_path / "v2", 2)
    (v2 / "new_module.py").write_text("X = 1\n")
    copied = refill_source(v2, dest)
    assert copied.files == 3 and _tree(dest)["score.py"] == "VERSION = 2\n"
    settle_source(dest, took_over=False)  # its init() failed: the old version keeps serving, from its own files
    assert _tree(dest) == {"pkg/helper.py": "HELPER = 1\n", "score.py": "VERSION = 1\n"}
    assert not (dest.parent / SERVING_ASIDE).exists()
    assert os.stat(dest).st_ino == inode


def test_a_swap_that_took_over_drops_the_old_files(tmp_path: Path) -> None:
    dest = tmp_path / "service" / "src"
    refill_source(_app(tmp_path / "v1", 1), dest)
    refill_source(_app(tmp_path / "v2", 2), dest)  # two refills without a settle: the aside is the latest serving
    assert _tree(dest.parent / SERVING_ASIDE)["score.py"] == "VERSION = 1\n"
    settle_source(dest, took_over=True)
    assert _tree(dest) == {"pkg/helper.py": "HELPER = 2\n", "score.py": "VERSION = 2\n"}
    assert not (dest.parent / SERVING_ASIDE).exists()
    settle_source(dest, took_over=False)  # nothing set aside: nothing to put back
    assert _tree(dest)["score.py"] == "VERSION = 2\n"


def test_a_source_folder_that_cannot_be_copied_leaves_the_serving_files(tmp_path: Path) -> None:
    dest = tmp_path / "service" / "src"
    refill_source(_app(tmp_path / "v1", 1), dest)
    settle_source(dest, took_over=True)
    bad = _app(tmp_path / "v2", 2)
    (tmp_path / "secret.txt").write_text("not yours")
    (bad / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(PathEscapeError, match="leak.txt"):
        refill_source(bad, dest)
    assert _tree(dest) == {"pkg/helper.py": "HELPER = 1\n", "score.py": "VERSION = 1\n"}
    assert not (dest.parent / SERVING_ASIDE).exists()
