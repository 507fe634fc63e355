"""The code of Azure ML v1's how-to guides, imports changed only, against the real Docker engine.

One test per guide: deploy locally (register, environment, inference config,
LocalWebservice, run, logs, update, reload, delete), deploy an existing model as a web
service on "ACI" (a container with its cpu/memory limits), and package models (image,
pull, Dockerfile + save + docker build + docker run). The snippets keep the guides'
names and call shapes; only ports are free ones instead of 6789 (the engine is shared).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

# v1: from azureml.core import Workspace / from azureml.core.model import Model, InferenceConfig / ...
from jupyter_mldeploy.azureml import (
    AciWebservice,
    CondaDependencies,
    Environment,
    InferenceConfig,
    LocalWebservice,
    Model,
    Webservice,
    Workspace,
)
from jupyter_mldeploy._net import free_port
from jupyter_mldeploy.deploy.docker import container_name
from jupyter_mldeploy.images.engine import DockerEngine

from engine_helpers import wait_ready

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_home")]


def test_guide_deploy_locally(guide_files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = Workspace.from_config()
    model = Model.register(model_path=str(guide_files / "sklearn_regression_model.pkl"),
                           model_name="sklearn_regression_model",
                           tags={"area": "diabetes", "type": "regression"},
                           description="Ridge regression model to predict diabetes",
                           workspace=ws)
    myenv = Environment(name="myenv")
    conda_dep = CondaDependencies()
    conda_dep.add_conda_package("pip")
    myenv.python.conda_dependencies = conda_dep
    inference_config = InferenceConfig(entry_script="score.py", source_directory=str(guide_files / "source_dir"),
                                       environment=myenv)
    deployment_config = LocalWebservice.deploy_configuration(port=free_port())
    local_service = Model.deploy(ws, "test", [model], inference_config, deployment_config)
    local_service.wait_for_deployment(show_output=True)
    assert "[ready]" in capsys.readouterr().out
    print("Local service port: {}".format(local_service.port))
    assert local_service.scoring_uri == f"http://127.0.0.1:{local_service.port}/score"

    sample_input = json.dumps({"data": [[1, 2], [10, 9]]})
    sample_input_bytes = bytes(sample_input, encoding="utf-8")
    assert local_service.run(input_data=sample_input_bytes) == [5.5, 28.5]
    headers = {"Content-Type": "application/json"}
    response = requests.post(local_service.scoring_uri, data=sample_input, headers=headers, timeout=30)
    assert (response.status_code, response.json()) == (200, [5.5, 28.5])
    assert requests.get(local_service.swagger_uri, timeout=30).json()["swagger"] == "2.0"
    assert "Listening" in local_service.get_logs() or "ready" in local_service.get_logs().lower()

    # the guide's update step: edit score.py, then reload (no rebuild) or update
    score = guide_files / "source_dir" / "score.py"
    score.write_text(score.read_text().replace("return result", "return {'predictions': result}"))
    local_service.reload()
    assert local_service.run(sample_input) == {"predictions": [5.5, 28.5]}
    score.write_text(score.read_text().replace("'predictions'", "'result'"))
    local_service.update(models=[model], inference_config=inference_config)
    assert local_service.run(sample_input) == {"result": [5.5, 28.5]}
    assert Webservice(ws, "test").state == "Healthy"

    local_service.delete()
    assert Webservice.list(ws) == []


def test_guide_deploy_existing_model_on_aci(guide_files: Path, docker_client: Any,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ws = Workspace(subscription_id="<subscription-id>", resource_group="myresourcegroup", workspace_name="myworkspace")
    model = Model.register(model_path=str(guide_files), model_name="regression-folder", workspace=ws,
                           child_paths=["sklearn_regression_model.pkl"])
    env = Environment.from_conda_specification(name="project_environment", file_path=str(guide_files / "myenv.yml"))
    inference_config = InferenceConfig(entry_script="source_dir/score.py", source_directory=str(guide_files),
                                       environment=env)
    # the model folder keeps its name below the model dir: the script opens it from there
    score = guide_files / "source_dir" / "score.py"
    score.write_text(score.read_text().replace('os.getenv("AZUREML_MODEL_DIR"), ',
                                               'Model.get_model_path("regression-folder"), '
                                               ).replace("import pickle\n", "import pickle\nfrom azureml.core.model import Model\n"))
    aci_config = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1, auth_enabled=True,
                                                    enable_app_insights=True)
    assert "enable_app_insights= is accepted and ignored" in capsys.readouterr().err
    service = Model.deploy(workspace=ws, name="aciservice", models=[model], inference_config=inference_config,
                           deployment_config=aci_config, overwrite=True)
    service.wait_for_deployment(show_output=True)
    print(service.state)
    host_config = docker_client.containers.get(container_name("aciservice")).attrs["HostConfig"]
    assert (host_config["NanoCpus"], host_config["Memory"]) == (10**9, 2**30)  # 1 core, 1 GB

    key, _ = service.get_keys()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    started = requests.post(service.scoring_uri, data=json.dumps({"data": [[3, 1]]}), headers=headers, timeout=30)
    print(started.status_code, started.elapsed, started.json())
    assert (started.status_code, started.json()) == (200, [5.5])
    assert requests.post(service.scoring_uri, data="{}", headers={"Content-Type": "application/json"},
                         timeout=30).status_code == 401
    service.delete()


def test_guide_package_models(guide_files: Path, docker_client: Any, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    ws = Workspace.from_config()
    model = Model.register(ws, str(guide_files / "sklearn_regression_model.pkl"), "sklearn_regression_model")
    myenv = Environment.from_conda_specification("myenv", str(guide_files / "myenv.yml"))
    inference_config = InferenceConfig(entry_script="score.py", source_directory=str(guide_files / "source_dir"),
                                       environment=myenv)
    name = f"mldeploy-test/v1pkg-{uuid.uuid4().hex[:6]}"

    package = Model.package(ws, [model], inference_config, image_name=name)
    package.wait_for_creation(show_output=True)
    assert package.location == f"{name}:1"  # v1's versioning
    assert package.pull() == f"{name}:1"
    assert "is local already" in capsys.readouterr().out
    _run_and_score(docker_client, package.location)

    package = Model.package(ws, [model], inference_config, generate_dockerfile=True)
    package.wait_for_creation(show_output=True)
    # Download the package.
    package.save(str(tmp_path / "imagefiles"))
    assert (tmp_path / "imagefiles" / "Dockerfile").is_file()
    assert (tmp_path / "imagefiles" / "azureml-models" / "sklearn_regression_model" / "1").is_dir()
    tag = f"{name}:saved"
    docker_client.images.build(path=str(tmp_path / "imagefiles"), tag=tag, network_mode="none", rm=True, forcerm=True)
    try:
        _run_and_score(docker_client, tag)
    finally:
        for ref in (tag, f"{name}:1"):
            docker_client.images.remove(ref, force=True)


def _run_and_score(docker_client: Any, image: str) -> None:
    """``docker run -p 127.0.0.1:PORT:5001 IMAGE``, then the guide's client; the container is removed."""
    port = free_port()
    container = docker_client.containers.run(image, detach=True, ports={"5001/tcp": ("127.0.0.1", port)})
    try:
        wait_ready(DockerEngine(docker_client), container.name, port, timeout=60)
        answer = requests.post(f"http://127.0.0.1:{port}/score", json={"data": [[1, 2]]}, timeout=30)
        assert (answer.status_code, answer.json()) == (200, [5.5])
    finally:
        container.remove(force=True)
