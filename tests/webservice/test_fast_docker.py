"""Fast Docker deployments: the host-built environment mounted into one shared image, against a real engine.

The Docker target installs an environment once on the host and mounts it, the models and
the code read-only into a small image shared by every service (``images/pipeline.dev_image``):
nothing of the environment is built or sent to the engine. These tests check what users rely
on: a deployment without an environment can import what the notebook can, the image holds
no environment and builds offline, the container is non-root on 127.0.0.1, a script that
imports what nothing installs fails at deploy time, and ``Model.package`` still makes an
image that runs on its own.
"""

from __future__ import annotations

import json
import tempfile
import textwrap
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import InferenceConfig, Model
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.deploy.docker import LocalWebservice
from jupyter_mldeploy.errors import EnvironmentSpecError
from jupyter_mldeploy.images.dockerfile import render_dev_dockerfile

pytestmark = [pytest.mark.docker]

JOBLIB_SCRIPT = textwrap.dedent("""
    import json, os
    import joblib

    def init():
        global k
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())

    def run(raw_data):
        return {"joblib": joblib.__version__, "uid": os.getuid(), "y": [x * k for x in json.loads(raw_data)["data"]]}
""")


def _app(tmp_path: Path, script: str) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "score.py").write_text(script)
    return app


def test_without_an_environment_the_container_imports_what_the_kernel_has(
    docker_home: Path, tmp_path: Path, k_model: Model, docker_client: Any, base_image: str
) -> None:
    app = _app(tmp_path, JOBLIB_SCRIPT)
    service = deploy("inferred", [k_model], InferenceConfig("score.py", source_directory=str(app)),
                     LocalWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=600)
    answer = service.run({"data": [2]})
    assert answer == {"joblib": metadata.version("joblib"), "uid": 1000, "y": [6.0]}  # the kernel's version, non-root
    assert service.progress is not None
    said = " ".join(e.text for e in service.progress.events_since(0))
    assert f"joblib=={metadata.version('joblib')}" in said

    container = docker_client.containers.get("mldeploy-inferred")
    assert container.attrs["Config"]["User"] == "1000:1000"
    binding = container.attrs["HostConfig"]["PortBindings"]["5001/tcp"][0]
    assert binding == {"HostIp": "127.0.0.1", "HostPort": str(service.port)}
    mounts = {m["Destination"]: m["RW"] for m in container.attrs["Mounts"]}
    # every host-built environment, read-only too: an environment that only adds packages is swapped in from there
    assert mounts == {"/opt/mldeploy/env": False, "/opt/mldeploy/envtrees": False, "/opt/mldeploy/models": False,
                      "/var/azureml-app/src": False,
                      "/var/lib/mldeploy": True}  # the last: the service's data folder (captures), its own

    # the image itself holds no environment: without the mount nothing of it imports
    image = container.image
    over = image.attrs["Size"] - docker_client.images.get(base_image).attrs["Size"]
    assert over < 2_000_000, f"the shared image adds {over} bytes to the base image"
    import docker.errors

    with pytest.raises(docker.errors.ContainerError) as failed:
        docker_client.containers.run(image.id, ["/opt/mldeploy/venv/bin/python", "-c", "import joblib"],
                                     remove=True, network_disabled=True)
    assert "No module named" in str(failed.value) and "joblib" in str(failed.value)
    service.delete()


def test_a_script_importing_what_nothing_installs_fails_at_deploy_time(
    docker_home: Path, tmp_path: Path, k_model: Model
) -> None:
    app = _app(tmp_path, "import mldeploy_not_installed_anywhere\n\ndef init():\n    pass\n\ndef run(x):\n    return x\n")
    service = deploy("nothing", [k_model], InferenceConfig("score.py", source_directory=str(app)),
                     LocalWebservice.deploy_configuration())
    with pytest.raises(EnvironmentSpecError) as info:
        service.wait_for_deployment(timeout_sec=120)
    message = str(info.value)
    assert "score.py imports mldeploy_not_installed_anywhere" in message
    assert "InferenceConfig(..., environment=Environment.from_pip_requirements(" in message
    service.delete()


def test_the_shared_image_builds_with_no_network(docker_client: Any, base_image: str) -> None:
    tag = f"mldeploy-test/dev-offline:{Path(tempfile.mkdtemp()).name.lower()}"
    with tempfile.TemporaryDirectory() as context:
        (Path(context) / "Dockerfile").write_text(render_dev_dockerfile(base_image=base_image))
        docker_client.images.build(path=context, tag=tag, network_mode="none", rm=True, forcerm=True, pull=False)
    try:
        image = docker_client.images.get(tag)
        assert image.attrs["Config"]["User"] == "1000:1000"
        out = docker_client.containers.run(
            tag, ["/opt/mldeploy/venv/bin/python", "-c",
                  "import sys, json, os; print(json.dumps([os.path.realpath('/var/azureml-app/azureml-models'), "
                  "'/opt/mldeploy/env' in sys.path]))"],
            remove=True, network_disabled=True)
        assert json.loads(out) == ["/opt/mldeploy/models/azureml-models", True]
    finally:
        docker_client.images.remove(tag, force=True)
