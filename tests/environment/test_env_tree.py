"""The host-built environment of Docker deployments: what a tree pins, and which tree a new one starts from."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from jupyter_mldeploy.environment.env_tree import META, _parent, _pins


def _tree(root: Path, name: str, pins: list[str], python: str = "3.11") -> Path:
    folder = root / name
    (folder / "site-packages").mkdir(parents=True)
    (folder / META).write_text(json.dumps({"pins": pins, "python_version": python}))
    return folder


def test_pins_are_canonical_and_leave_the_runtime_out(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# comment\n"
        "Scikit_Learn==1.5.1 \\\n    --hash=sha256:abc\n"
        "numpy==2.0.0 ; python_version >= '3.9'\n"
        "jupyter-mldeploy==0.1.0+gabc\n"
        "-e ./local\n"
    )
    assert _pins(requirements) == {"scikit-learn==1.5.1", "numpy==2.0.0"}


def test_a_new_tree_starts_from_the_largest_tree_it_only_adds_to(tmp_path: Path) -> None:
    _tree(tmp_path, "small", ["six==1.0"])
    best = _tree(tmp_path, "large", ["six==1.0", "numpy==2.0"])
    _tree(tmp_path, "other-version", ["six==1.0", "numpy==1.9", "toolz==1.0"])  # would downgrade numpy
    _tree(tmp_path, "other-python", ["six==1.0", "numpy==2.0", "toolz==1.0"], python="3.12")
    (tmp_path / "unfinished" / "site-packages").mkdir(parents=True)  # no tree.json: still being built
    wanted = {"six==1.0", "numpy==2.0", "toolz==1.0"}
    assert _parent(tmp_path, wanted, "3.11", exclude="new") == best
    assert _parent(tmp_path, wanted, "3.11", exclude="large") == tmp_path / "small"
    assert _parent(tmp_path, {"pandas==2.0"}, "3.11", exclude="new") is None


def test_a_parent_still_byte_compiling_is_copied_without_its_compilers_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent's background compile renames its *.pyc files while a child tree copies it."""
    from jupyter_mldeploy.environment import env_tree as module

    parent = tmp_path / "parent" / "site-packages"
    (parent / "pkg" / "__pycache__").mkdir(parents=True)
    (parent / "pkg" / "mod.py").write_text("X = 1\n")
    (parent / "pkg" / "__pycache__" / "mod.cpython-311.pyc.140672658977840").write_bytes(b"half written")
    (parent / "pkg" / "__pycache__" / "gone.cpython-311.pyc").write_bytes(b"replaced meanwhile")
    real_link = os.link

    def racing_link(src: str, dst: str) -> None:
        if src.endswith("gone.cpython-311.pyc"):
            os.unlink(src)  # the compiler replaced it between the listing and the link
        real_link(src, dst)

    monkeypatch.setattr(module.os, "link", racing_link)
    module.copy_parent(parent, tmp_path / "child")
    copied = sorted(p.relative_to(tmp_path / "child").as_posix() for p in (tmp_path / "child").rglob("*"))
    assert copied == ["pkg", "pkg/__pycache__", "pkg/mod.py"]

    # a package file that vanishes is not the compiler's doing: the copy fails, naming it
    def vanishing_module(src: str, dst: str) -> None:
        if src.endswith("mod.py"):
            os.unlink(src)
        real_link(src, dst)

    monkeypatch.setattr(module.os, "link", vanishing_module)
    with pytest.raises(shutil.Error, match="mod.py"):
        module.copy_parent(parent, tmp_path / "child2")
