"""The packaging notebook (05), executed by nbval against the real engine: an image, a Dockerfile context, docker run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from test_docker_tutorial import DOCKER_TIMEOUT_S
from test_tutorials import run_notebook, NOTEBOOKS, _cell, _code_cells, _text

TUTORIAL = NOTEBOOKS / "05-package-a-model.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.usefixtures("no_leaked_services")]


def test_the_notebook_packages_builds_and_runs() -> None:
    nb = nbformat.read(TUTORIAL, as_version=4)
    source = "\n".join(c.source for c in _code_cells(nb))
    for needle in ("Model.package([model], inference_config, image_name=", "generate_dockerfile=True",
                   '.save("pkg-ridge-image")', '"docker", "build"', '"docker", "run"', "127.0.0.1:{port}:5001",
                   '"docker", "stop"', '"docker", "rmi"'):
        assert needle in source, needle


@pytest.mark.timeout(DOCKER_TIMEOUT_S + 60)
def test_package_tutorial_runs_under_nbval(tmp_path: Path, docker_home: Path, docker_client: Any) -> None:
    nb = run_notebook(TUTORIAL, tmp_path, docker_home, "package tutorial", no_stderr=False,
                      cell_timeout=420, timeout=DOCKER_TIMEOUT_S)
    work = tmp_path / "notebooks"  # where run_notebook ran it

    assert "image: mldeploy-tutorial/pkg-ridge:1" in _text(_cell(nb, 'print("image:", package.location)'))
    files = _text(_cell(nb, 'dockerfile_package.save("pkg-ridge-image")'))
    for name in ("Dockerfile", "azureml-models/pkg-ridge/1/ridge.joblib", "src/score.py"):
        assert name in files.splitlines(), files
    wheels = re.search(r"(\d+) wheels", files)
    assert wheels and int(wheels.group(1)) > 0, "the build context holds the wheels (offline docker build)"
    wheel_names = {w.name.split("-")[0].lower() for w in (work / "pkg-ridge-image").rglob("*.whl")}
    assert {"scikit_learn", "joblib"} <= wheel_names, sorted(wheel_names)
    assert "FROM" in _text(_cell(nb, 'read_text().splitlines() if line.startswith("FROM")'))
    assert not docker_client.images.list(name="mldeploy-tutorial/pkg-ridge")
    assert not [c for c in docker_client.containers.list(all=True) if "mldeploy-tutorial/pkg-ridge" in str(c.image)]
