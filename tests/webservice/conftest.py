"""Fixtures for deployment tests: a small model, entry scripts, and no leaked services."""

from __future__ import annotations

from pathlib import Path

import pytest
from scale_script import SCALE_SCRIPT


@pytest.fixture(autouse=True)
def _no_leaked_services(no_leaked_services: None) -> None:
    """Every test here deploys: delete what it leaves (see tests/conftest.py)."""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "score.py").write_text(SCALE_SCRIPT)
    return folder
