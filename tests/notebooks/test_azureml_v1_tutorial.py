"""The Azure ML v1 notebook (08), executed by nbval against the real engine: v1 code, imports changed only.

It must deploy with ``LocalWebservice`` (a container), answer the model's own predictions,
reload and update, package to an image that ``docker run`` serves, and leave no service,
container or image behind.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from test_docker_tutorial import DOCKER_TIMEOUT_S
from test_tutorials import NOTEBOOKS, _cell, _code_cells, _text, run_notebook

TUTORIAL = NOTEBOOKS / "08-azureml-v1-code.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.usefixtures("no_leaked_services")]

#: what the notebook's v1 code calls, in v1's spelling
V1_CALLS = (
    "Workspace.from_config()", "Model.register(model_path=", "Environment(", "CondaDependencies.create(",
    "InferenceConfig(entry_script=", "LocalWebservice.deploy_configuration(port=", "Model.deploy(ws,",
    ".wait_for_deployment(show_output=True)", "local_service.run(input_data=", "requests.post(local_service.scoring_uri",
    "local_service.get_logs()", "local_service.reload()", "local_service.update(models=", "Model.package(ws, [model]",
    "package.pull()", "local_service.delete()",
)


def test_the_notebook_is_v1_code_with_its_imports_changed() -> None:
    nb = nbformat.read(TUTORIAL, as_version=4)
    source = "\n".join(c.source for c in _code_cells(nb))
    for call in V1_CALLS:
        assert call in source, call
    # the only imports of this project in the v1 cells are jupyter_mldeploy.azureml's (plus the setup's port helpers)
    imports = set(re.findall(r"^from (jupyter_mldeploy\S*) import", source, re.MULTILINE))
    assert imports == {"jupyter_mldeploy.azureml", "jupyter_mldeploy._net"}, imports
    changed = next(c.source for c in nb.cells if c.cell_type == "markdown" and "## The only lines changed" in c.source)
    assert "-from azureml.core import Workspace, Environment" in changed
    assert "+from jupyter_mldeploy.azureml import" in changed


@pytest.mark.timeout(DOCKER_TIMEOUT_S + 60)
def test_azureml_v1_tutorial_runs_under_nbval(tmp_path: Path, docker_home: Path, docker_client: Any) -> None:
    nb = run_notebook(TUTORIAL, tmp_path, docker_home, "Azure ML v1 tutorial", no_stderr=False,
                      cell_timeout=420, timeout=DOCKER_TIMEOUT_S)

    deployed = _text(_cell(nb, 'Model.deploy(ws, "v1-tutorial-local"'))
    assert re.search(r"Healthy\nScoring URI is : http://127\.0\.0\.1:\d+/score", deployed), deployed
    predicted = _text(_cell(nb, "prediction = local_service.run(input_data=sample_input)"))
    assert len(re.findall(r"-?\d+\.\d+", predicted)) == 2, predicted
    logs = _text(_cell(nb, "print(local_service.get_logs())"))
    assert "Init complete" in logs, logs[-3000:]
    packaged = _text(_cell(nb, "image = package.pull()"))
    assert packaged.rstrip().endswith("mldeploy-tutorial/v1-package:1"), packaged[-2000:]
    assert "local already" in packaged, packaged[-2000:]

    from jupyter_mldeploy import Webservice

    assert Webservice.list() == []
    # nothing of the notebook is left in Docker: no container, no image it built
    label = f"mldeploy.home={docker_home.resolve()}"
    assert not docker_client.containers.list(all=True, filters={"label": label})
    assert not [c for c in docker_client.containers.list(all=True) if "v1-package" in str(c.image)]
    assert not docker_client.images.list(name="mldeploy-tutorial/v1-package")
    assert not docker_client.images.list(name="mldeploy/service-v1-tutorial-local")
    assert not docker_client.images.list(filters={"label": label}), "an image of this notebook is left"
