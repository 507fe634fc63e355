"""The Kubernetes tutorial notebook, executed by nbval in the suite: render, review and plan with no cluster.

Where no cluster is configured (CI, and every test here: tests/conftest.py removes
``KUBECONFIG``), its live part must say that it skipped and how to configure one.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml
from test_tutorials import run_notebook, NOTEBOOKS, NBVAL_TIMEOUT_S, WIDGET_VIEW, _cell, _code_cells, _text

TUTORIAL = NOTEBOOKS / "02-kubernetes.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_leaked_services")]


def test_the_notebook_renders_plans_and_deploys_only_with_a_cluster() -> None:
    nb = nbformat.read(TUTORIAL, as_version=4)
    source = "\n".join(c.source for c in _code_cells(nb))
    for needle in ("render_service(", "plan_replicas(", "load_test=result", "deploy_configuration_kwargs()",
                   '"k8s", "render"', "%%score_script", "Model.register(", "scale_status()", "if live:"):
        assert needle in source, needle


@pytest.mark.timeout(NBVAL_TIMEOUT_S + 60)
def test_kubernetes_tutorial_runs_under_nbval_without_a_cluster(tmp_path: Path, mldeploy_home: Path) -> None:
    nb = run_notebook(TUTORIAL, tmp_path, mldeploy_home, "kubernetes tutorial")
    work = tmp_path / "notebooks"  # where run_notebook ran it

    kinds = _text(_cell(nb, "for obj in rendered.objects:")).split()
    assert kinds == ["Deployment", "k8s-ridge", "Service", "k8s-ridge", "HorizontalPodAutoscaler", "k8s-ridge",
                     "PodDisruptionBudget", "k8s-ridge"]
    reviewed = _text(_cell(nb, 'print("resources:"'))
    assert "image:     127.0.0.1:5000/models/k8s-ridge:to-be-pushed" in reviewed
    assert "'cpu': '250m'" in reviewed and "readiness: /ready | liveness: /" in reviewed
    assert "model dir: /var/azureml-app/azureml-models/k8s-ridge/1" in reviewed
    assert "autoscaler: 1 - 4 replicas on CPU 70 %" in reviewed
    written = [d for d in yaml.safe_load_all((work / "k8s-ridge.yaml").read_text()) if d]
    assert [d["kind"] for d in written] == ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]

    planned = _text(_cell(nb, "plan = plan_replicas(200, load_test=result"))
    assert re.search(r"200 ok, p50 \d+\.\d\d ms", planned), planned
    assert "measured by a load test: p50 of 200 2xx answers" in planned and "= ceil(" in planned
    assert "'autoscale_enabled': True" in _text(_cell(nb, "suggested = plan.deploy_configuration_kwargs()"))

    skipped = _text(_cell(nb, "live = False"))
    assert "No cluster configured: skipped the live part" in skipped and "KUBECONFIG" in skipped
    assert _text(_cell(nb, "if live:\n")) == ""
    assert not any(WIDGET_VIEW in o.get("data", {}) for c in _code_cells(nb) for o in c.outputs
                   if "if live" in c.source)

    from jupyter_mldeploy import Webservice

    assert Webservice.list() == []  # the local service was deleted by the notebook
