"""Fixtures for deployment tests: a small model, entry scripts, and no leaked services."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

SCALE_SCRIPT = textwrap.dedent(
    """
    import json, os

    def init():
        global k
        path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")
        k = float(open(path).read())
        print("init loaded", path)

    def run(raw_data):
        return [x * k for x in json.loads(raw_data)["data"]]
    """
)


@pytest.fixture(autouse=True)
def _no_leaked_services(no_leaked_services: None) -> None:
    """Every test here deploys: delete what it leaves (see tests/conftest.py)."""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "score.py").write_text(SCALE_SCRIPT)
    return folder
