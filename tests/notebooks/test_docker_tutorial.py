"""The Docker tutorial notebook (03), executed by nbval against the real engine: deploy, call, update, delete.

It runs with the offline base image (the ``docker_home`` fixture), and must leave no
service, container or image behind.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from test_tutorials import (
    run_notebook,
    NOTEBOOKS,
    WIDGET_VIEW,
    _cell,
    _code_cells,
    _text,
)

TUTORIAL = NOTEBOOKS / "03-deploy-locally-docker.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.usefixtures("no_leaked_services")]


def test_the_notebook_teaches_the_docker_flow() -> None:
    nb = nbformat.read(TUTORIAL, as_version=4)
    source = "\n".join(c.source for c in _code_cells(nb))
    for needle in ("load_digits", "Model.register(", "%%score_script digits-app/score.py --model digits --test",
                   "LocalWebservice.deploy_configuration(", "requests.post(service.scoring_uri", "service.run(",
                   "service.get_logs()", "service.update(", "TestRequestPanel(", "service.delete("):
        assert needle in source, needle


#: building the image (an environment layer with scikit-learn) takes one to two minutes on a loaded machine
DOCKER_TIMEOUT_S = 900


@pytest.mark.timeout(DOCKER_TIMEOUT_S + 60)
def test_docker_tutorial_runs_under_nbval(tmp_path: Path, docker_home: Path, docker_client: Any) -> None:
    nb = run_notebook(TUTORIAL, tmp_path, docker_home, "docker tutorial", no_stderr=False,
                      cell_timeout=420, timeout=DOCKER_TIMEOUT_S)

    accuracy = re.search(r"held-out accuracy: (\d\.\d\d)", _text(_cell(nb, "LogisticRegression(max_iter")))
    assert accuracy and float(accuracy.group(1)) >= 0.85, "the classifier learnt the digits"
    labels = _text(_cell(nb, 'print("predicted here:"'))
    truth = json.loads(labels.split("predicted here:", 1)[1].split("|")[0].strip())
    tried = _text(_cell(nb, "--test-file sample.json"))
    assert "--- result (HTTP 200) ---" in tried and "digits model loaded" in tried, tried
    deployed = _text(_cell(nb, "service.wait_for_deployment(show_output=True)"))
    assert re.search(r"Healthy at http://127\.0\.0\.1:\d+/score", deployed), deployed
    called = _text(_cell(nb, "requests.post(service.scoring_uri"))
    assert called.startswith(f"200 {truth}"), called
    assert "as predicted in the notebook: True" in called
    assert f"service.run: {truth} True" in _text(_cell(nb, "answer = service.run("))
    logged = re.search(r"True (\d+) scoring requests logged", _text(_cell(nb, "log = service.get_logs()")))
    assert logged and int(logged.group(1)) >= 2, "init()'s print and both requests are in the container's log"
    reloaded = _text(_cell(nb, "%%score_script digits-app/score.py\n"))
    assert "digits-docker" in reloaded, reloaded  # the running service was reloaded with the new code
    sent = _text(_cell(nb, "panel.send_button.click()"))
    assert re.match(r'200 \{"digits": ?\[\d\], ?"probability": ?\[0\.\d+\]\}', sent), sent
    assert any(WIDGET_VIEW in o.get("data", {}) for o in _cell(nb, "panel = TestRequestPanel(").outputs)

    from jupyter_mldeploy import Webservice

    assert Webservice.list() == []
    assert not docker_client.containers.list(all=True, filters={"name": "digits-docker"})
