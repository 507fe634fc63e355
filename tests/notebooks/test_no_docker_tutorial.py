"""The no-Docker tutorial notebook (07), executed by nbval with Docker made unreachable.

``DOCKER_HOST`` points at a socket that does not exist, for this test and the kernel
nbval starts: the notebook must still deploy, call, update (a code swap in the same
process), and delete, on the process target, and leave no process or port behind.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from test_tutorials import NOTEBOOKS, WIDGET_VIEW, _cell, _code_cells, _free, _text, run_notebook

TUTORIAL = NOTEBOOKS / "07-without-docker.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_leaked_services")]

#: an environment build (uv, from its cache) plus two scikit-learn imports; minutes on a loaded machine
TIMEOUT_S = 600


def test_the_notebook_teaches_the_no_docker_flow() -> None:
    nb = nbformat.read(TUTORIAL, as_version=4)
    source = "\n".join(c.source for c in _code_cells(nb))
    for needle in ("-m jupyter_mldeploy doctor", "choose_target()", "load_digits", "Model.register(",
                   "%%score_script nodocker-app/score.py --model digits-nodocker --test-file",
                   "env.build_local()", "ProcessWebservice.deploy_configuration(", "requests.post(service.scoring_uri",
                   "service.run(", "service.get_logs()", "service.update(", "TestRequestPanel(", "service.delete()"):
        assert needle in source, needle
    assert "docker" not in source.replace("nodocker", "").lower(), (
        "the no-Docker tutorial must not use Docker"
    )


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting for its parent to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.timeout(TIMEOUT_S + 60)
def test_no_docker_tutorial_runs_with_docker_unreachable(
    tmp_path: Path, mldeploy_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = tmp_path / "no-docker-here.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{dead}")  # inherited by nbval's kernel
    nb = run_notebook(TUTORIAL, tmp_path, mldeploy_home, "no-Docker tutorial", no_stderr=False,
                      cell_timeout=420, timeout=TIMEOUT_S)

    doctor = _text(_cell(nb, "-m jupyter_mldeploy doctor"))
    assert re.search(r"\[-- \] Docker engine\s+no engine answers", doctor), doctor
    assert re.search(r"\[ok \] Python", doctor) and re.search(r"\[ok \] uv", doctor), doctor
    chosen = _text(_cell(nb, "choice = choose_target()"))
    assert chosen.strip() == "ProcessWebservice | no Docker engine answers", chosen

    trained = _text(_cell(nb, "LogisticRegression(max_iter"))
    accuracy = re.search(r"digits-nodocker 1 \| held-out accuracy: (\d\.\d\d)", trained)
    assert accuracy and float(accuracy.group(1)) >= 0.85, trained
    truth = json.loads(_text(_cell(nb, 'print("predicted in the notebook:"')).split(":", 1)[1])
    assert len(truth) == 4 and all(0 <= d <= 9 for d in truth), truth
    tried = _text(_cell(nb, "--test-file sample.json"))
    assert "--- result (HTTP 200) ---" in tried and str(truth) in tried.replace("\n", " "), tried
    assert "sees TUTORIAL_NOTE: False" in tried, tried
    assert "a virtualenv of its own: True | its python: python" in _text(_cell(nb, "env.build_local()"))

    deployed = _text(_cell(nb, "service.wait_for_deployment(show_output=True)"))
    uri = re.search(r"Healthy at (http://127\.0\.0\.1:(\d+)/score)", deployed)
    assert uri, deployed
    assert "docker" not in deployed.replace("nodocker", "").lower() and "[build]" not in deployed, deployed
    called = _text(_cell(nb, "requests.post(service.scoring_uri"))
    assert called.startswith(f"200 {truth} | as predicted in the notebook: True"), called
    assert f"service.run: {truth} True" in called, called
    logged = _text(_cell(nb, "init_line = next("))
    assert "python is the environment's: True | sees TUTORIAL_NOTE: False" in logged, logged
    seen = re.search(r"init\(\) ran in pid (\d+)", logged)
    assert seen, logged
    sent = _text(_cell(nb, "panel.send_button.click()"))
    assert re.match(r'200 \{"digits": ?\[\d\], ?"probability": ?\[[01]\.\d+\]\}', sent), sent
    assert any(WIDGET_VIEW in o.get("data", {}) for o in _cell(nb, "panel = TestRequestPanel(").outputs)

    # nothing left: no service, the server process gone, its port free again
    from jupyter_mldeploy import Webservice

    assert Webservice.list() == []
    pid, port = int(seen.group(1)), int(uri.group(2))
    deadline = time.monotonic() + 10
    while (_alive(pid) or not _free(port)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), f"the service's worker {pid} still runs"
    assert _free(port), f"port {port} still taken"
