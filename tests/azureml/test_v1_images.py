"""v1's older image API (``ContainerImage.image_configuration``, ``Image.create``, ``Image(ws, name)``) over ``Model.package``.

The guides' code, imports changed only: the docker-marked test builds real images on the
engine, finds them again by name and id, runs one with ``docker run`` on 127.0.0.1 and
scores it; the others check the configuration and the errors without an engine.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

# v1: from azureml.core.image import ContainerImage, Image
from jupyter_mldeploy.azureml import ContainerImage, Image, Model, Workspace, _notes
from jupyter_mldeploy._net import free_port
from jupyter_mldeploy.errors import EntryScriptError, InvalidArgumentError, NotFoundError
from jupyter_mldeploy.images.engine import DockerEngine

from engine_helpers import wait_ready


@pytest.fixture(autouse=True)
def _fresh_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_notes, "_said", set())


def test_image_configuration_is_an_inference_config(guide_files: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(guide_files)
    (guide_files / "source_dir" / "helpers").mkdir()
    (guide_files / "source_dir" / "helpers" / "util.py").write_text("X = 1\n")
    config = ContainerImage.image_configuration(
        execution_script="source_dir/score.py", runtime="python", conda_file="myenv.yml",
        dependencies=["source_dir/helpers/util.py"], description="Image with ridge regression model",
        tags={"area": "diabetes"}, enable_gpu=True, docker_file="extra.dockerfile")
    ic = config.inference_config()
    assert (ic.entry_script_path, ic.source_directory_path) == (
        guide_files / "source_dir" / "score.py", guide_files / "source_dir")
    assert ic.environment is not None and ic.environment.python.conda_dependencies.get_python_version() == "3.11"
    err = capsys.readouterr().err
    assert "image_configuration(): enable_gpu= is accepted and ignored" in err
    assert "image_configuration(): docker_file= is accepted and ignored" in err
    wider = ContainerImage.image_configuration("source_dir/score.py", dependencies=["myenv.yml"])
    assert wider.inference_config().entry_script_relative == "source_dir/score.py"  # the folder holding both


def test_image_errors_say_what_to_do(guide_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(guide_files)
    with pytest.raises(InvalidArgumentError, match=r"dependency 'nope.txt' not found"):
        ContainerImage.image_configuration("source_dir/score.py", dependencies=["nope.txt"])
    with pytest.raises(EntryScriptError, match=r"entry script 'missing.py' not found"):
        ContainerImage.image_configuration("missing.py").inference_config()
    with pytest.raises(InvalidArgumentError, match=r"image_config must come from ContainerImage.image_configuration"):
        Image.create(Workspace.from_config(), "myimage", [], object())  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match=r"no image myimage was created here \(images: none yet\)"):
        Image(Workspace.from_config(), name="myimage")
    with pytest.raises(InvalidArgumentError, match=r"write the id as NAME:VERSION"):
        Image(Workspace.from_config(), id="myimage")


@pytest.mark.docker
@pytest.mark.usefixtures("docker_home")
def test_guide_image_create_find_run(guide_files: Path, docker_client: Any, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(guide_files)
    ws = Workspace.from_config()
    model = Model.register(ws, "sklearn_regression_model.pkl", "sklearn_regression_model")
    image_config = ContainerImage.image_configuration(execution_script="source_dir/score.py", runtime="python",
                                                      conda_file="myenv.yml", description="ridge", tags={"a": "b"})
    name = f"mldeploy-test/v1img-{uuid.uuid4().hex[:6]}"
    image = Image.create(ws, name, [model], image_config)
    image.wait_for_creation(show_output=True)
    assert "[build]" in capsys.readouterr().out
    assert (image.image_location, image.version, image.creation_state) == (f"{name}:1", 1, "Succeeded")
    second = ContainerImage.create(workspace=ws, name=name, models=[model], image_config=image_config)
    second.wait_for_creation()
    try:
        assert second.image_location == f"{name}:2"  # v1's versions
        found = Image(ws, name=name)
        assert (found.version, found.image_location, found.creation_state) == (2, f"{name}:2", "Succeeded")
        assert Image(ws, id=f"{name}:1").image_location == f"{name}:1"
        assert Image(ws, name, version=1).tags == {"a": "b"}
        assert [i.id for i in Image.list(ws, image_name=name)] == [f"{name}:2", f"{name}:1"]
        assert [i.id for i in Image.list(ws, model_name="sklearn_regression_model")] == [f"{name}:2", f"{name}:1"]

        port = free_port()  # docker run -p 127.0.0.1:PORT:5001 image_location
        container = docker_client.containers.run(found.image_location, detach=True,
                                                 ports={"5001/tcp": ("127.0.0.1", port)})
        try:
            wait_ready(DockerEngine(docker_client), container.name, port, timeout=60)
            answer = requests.post(f"http://127.0.0.1:{port}/score", json={"data": [[1, 2]]}, timeout=30)
            assert (answer.status_code, answer.json()) == (200, [5.5])
        finally:
            container.remove(force=True)
    finally:
        image.delete()
        Image(ws, name=name).delete()
    assert Image.list(ws, image_name=name) == []
    for tag in (f"{name}:1", f"{name}:2"):
        assert not docker_client.images.list(name=tag)
