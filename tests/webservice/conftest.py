"""Fixtures for deployment tests: a small model, entry scripts, and no leaked services."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
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
def _no_leaked_services(mldeploy_home: Path) -> Iterator[None]:
    yield
    from jupyter_mldeploy.deploy.webservice import Webservice

    for service in Webservice.list():
        service.delete(delete_image=True)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "score.py").write_text(SCALE_SCRIPT)
    return folder


@pytest.fixture
def k_model(tmp_path: Path) -> object:
    from jupyter_mldeploy import Model

    (tmp_path / "k.txt").write_text("3")
    return Model.register(str(tmp_path / "k.txt"), "k")
