"""The "deploy a model trained elsewhere" notebook (04), executed by nbval: a model folder, a conda YAML, a client."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from test_tutorials import run_notebook, NBVAL_TIMEOUT_S, NOTEBOOKS, _cell, _code_cells, _text

TUTORIAL = NOTEBOOKS / "04-deploy-an-existing-model.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_leaked_services")]


def test_the_notebook_registers_a_folder_with_a_conda_environment() -> None:
    nb = nbformat.read(TUTORIAL, as_version=4)
    source = "\n".join(c.source for c in _code_cells(nb))
    for needle in ("child_paths=", "Environment.from_conda_specification(", "InferenceConfig(", "Model.deploy(",
                   "response.status_code", "time.perf_counter()", "service.delete()"):
        assert needle in source, needle


@pytest.mark.timeout(NBVAL_TIMEOUT_S + 60)
def test_existing_model_tutorial_runs_under_nbval(tmp_path: Path, mldeploy_home: Path) -> None:
    nb = run_notebook(TUTORIAL, tmp_path, mldeploy_home, "existing-model tutorial", no_stderr=False)

    assert "sentiment-env" in _text(_cell(nb, "Environment.from_conda_specification("))
    assert "scikit-learn" in _text(_cell(nb, "Environment.from_conda_specification("))
    assert "Healthy" in _text(_cell(nb, "service.wait_for_deployment(show_output=True)"))
    called = _text(_cell(nb, "answer = call(service.scoring_uri"))
    assert re.search(r"status: 200 \| elapsed: \d+\.\d ms", called), called
    assert "labels: ['positive', 'negative']" in called, called
    bad = _text(_cell(nb, "bad = call(service.scoring_uri"))
    status = re.search(r"status: (\d+)", bad)
    assert status and 400 <= int(status.group(1)) < 600 and "texts" in bad, bad
    assert "still serving: 200" in bad

    from jupyter_mldeploy import Webservice

    assert Webservice.list() == []
