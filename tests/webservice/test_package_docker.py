"""Model packages against the real engine: a built image, a saved Dockerfile context built offline, env images."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import Environment, InferenceConfig, Model
from jupyter_mldeploy.images.engine import DockerEngine
from jupyter_mldeploy.deploy.package import ModelPackage, package
from jupyter_mldeploy.environment.image import EnvironmentImage
from jupyter_mldeploy.errors import InvalidArgumentError, TargetExistsError

from engine_helpers import wait_ready

pytestmark = pytest.mark.docker


@pytest.fixture
def engine(docker_client: Any, base_image: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DockerEngine]:
    """The engine, with the offline base image as MLDEPLOY_BASE_IMAGE; containers and images created are removed."""
    monkeypatch.setenv("MLDEPLOY_BASE_IMAGE", base_image)
    engine = DockerEngine(docker_client)
    env_filter = {"label": ["mldeploy.managed=true", "mldeploy.stage=env"]}
    env_before = {i.id for i in docker_client.images.list(all=True, filters=env_filter)}
    engine.created = []  # type: ignore[attr-defined]
    yield engine
    created = engine.created  # type: ignore[attr-defined]
    for name in [n for n in created if n.startswith("mldeploy-t-")]:  # containers first, then their images
        engine.remove(name)
    for tag in [n for n in created if not n.startswith("mldeploy-t-")]:
        if engine.image_exists(tag):
            docker_client.images.remove(tag, force=True)
    for image in docker_client.images.list(all=True, filters=env_filter):
        if image.id not in env_before:
            docker_client.images.remove(image.id, force=True)


def _serve_and_score(engine: DockerEngine, image: str, data: list[float]) -> Any:
    name = f"mldeploy-t-{uuid.uuid4().hex[:8]}"
    engine.created.append(name)  # type: ignore[attr-defined]
    running = engine.run_container(image, name)  # 127.0.0.1:FREE -> 5001, non-root
    wait_ready(engine, name, running.port, timeout=60)
    request = urllib.request.Request(
        f"{running.url}/score", data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_package_builds_an_image_that_serves_score(
    engine: DockerEngine, app_dir: Path, k_model: Model, capsys: pytest.CaptureFixture[str]
) -> None:
    label = uuid.uuid4().hex[:8]
    pkg = package([k_model], InferenceConfig("score.py", source_directory=str(app_dir)),
                  image_name="mldeploy-test/pkg", image_label=label)
    engine.created.append(pkg.location)  # type: ignore[attr-defined]
    assert isinstance(pkg, ModelPackage) and pkg.location == f"mldeploy-test/pkg:{label}"
    pkg.wait_for_creation(show_output=True)
    shown = capsys.readouterr().out
    assert "[resolve]" in shown and "[environment]" in shown and "[build]" in shown
    assert pkg.state == "Succeeded"
    assert "Successfully tagged mldeploy-test/pkg:" in pkg.get_logs()
    assert engine.image_exists(pkg.location)
    assert _serve_and_score(engine, pkg.location, [1.0, 2.0]) == [3.0, 6.0]
    with pytest.raises(InvalidArgumentError, match="generate_dockerfile=True"):
        pkg.save("anywhere")


def test_saved_dockerfile_builds_offline_and_serves(
    engine: DockerEngine, docker_client: Any, app_dir: Path, k_model: Model, tmp_path: Path
) -> None:
    pkg = package([k_model], InferenceConfig("score.py", source_directory=str(app_dir)), generate_dockerfile=True)
    pkg.wait_for_creation()
    assert pkg.image_id is None and not engine.image_exists(pkg.location)  # nothing was built
    out = pkg.save(tmp_path / "image")
    assert {p.name for p in out.iterdir()} >= {"Dockerfile", "wheels", "runtime", "azureml-models", "src"}
    assert (out / "azureml-models" / "k" / "1" / "k.txt").read_text() == "3"
    with pytest.raises(TargetExistsError):
        pkg.save(out)

    tag = f"mldeploy-test/saved:{uuid.uuid4().hex[:8]}"
    engine.created.append(tag)  # type: ignore[attr-defined]
    # a plain docker build, with no network at all
    docker_client.images.build(path=str(out), tag=tag, network_mode="none", rm=True, forcerm=True)
    assert _serve_and_score(engine, tag, [2.0]) == [6.0]


def test_environment_image_alone(engine: DockerEngine, docker_client: Any) -> None:
    build = Environment("plain-env").build_local(use_docker=True)
    assert isinstance(build, EnvironmentImage)
    engine.created.append(build.tag)  # type: ignore[attr-defined]
    assert build.tag == f"mldeploy/env-plain-env:{build.spec_hash[:12]}"
    image = docker_client.images.get(build.tag)
    assert image.labels["mldeploy.env-hash"] == build.spec_hash
    # the runtime is in it: the scoring server imports
    output = docker_client.containers.run(
        build.tag, ["python", "-c", "import jupyter_mldeploy.scoring.supervisor; print('ok')"],
        remove=True, network_disabled=True,
    )
    assert output.strip() == b"ok"
