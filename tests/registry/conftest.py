"""Fixtures for registry tests: model folders with real files, and the registry under test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jupyter_mldeploy.registry import Registry, default_registry


@pytest.fixture()
def registry(mldeploy_home: Path) -> Registry:
    """The default registry of this test's fresh MLDEPLOY_HOME."""
    reg = default_registry()
    assert reg.home == mldeploy_home.resolve()
    return reg


@pytest.fixture()
def make_tree(tmp_path: Path) -> Callable[[str, dict[str, bytes]], Path]:
    """Create a folder ``tmp_path/name`` with ``{relative path: bytes}`` files."""

    def make(name: str, files: dict[str, bytes]) -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for rel, data in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return root

    return make
