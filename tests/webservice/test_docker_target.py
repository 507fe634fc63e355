"""The Docker target end to end, against the real engine: deploy, score, update, reload, faults, discovery."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import InferenceConfig, Model
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.images.engine import DockerEngine
from jupyter_mldeploy.deploy.docker import LocalWebservice
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.deploy.service import Webservice, WebserviceState
from jupyter_mldeploy.errors import (
    BaseImageMissingError,
    DeploymentError,
    DockerUnavailableError,
    PortInUseError,
    ScoringRequestError,
    ServiceExistsError,
)
from jupyter_mldeploy.client.client import ScoringClient

docker_mark = pytest.mark.docker


@pytest.fixture(scope="module")
def _env_cache_cleanup(docker_client: Any) -> Iterator[None]:
    """Remove the environment-stage cache images this module's builds created."""
    wanted = {"label": ["mldeploy.managed=true", "mldeploy.stage=env"]}
    before = {i.id for i in docker_client.images.list(all=True, filters=wanted)}
    yield
    for image in docker_client.images.list(all=True, filters=wanted):
        if image.id not in before:
            docker_client.images.remove(image.id, force=True)


@pytest.fixture
def docker_home(_env_cache_cleanup: None, docker_home: Path) -> Path:
    """tests/conftest.py's docker_home, and the environment-stage images removed after it."""
    return docker_home


def _ic(app_dir: Path, **kwargs: Any) -> InferenceConfig:
    return InferenceConfig("score.py", source_directory=str(app_dir), **kwargs)


def _deploy(name: str, models: list[Any], app_dir: Path, **config: Any) -> Webservice:
    service = deploy(name, models, _ic(app_dir), LocalWebservice.deploy_configuration(**config))
    service.wait_for_deployment(timeout_sec=600)
    return service


def _phase(service: Webservice, name: str) -> str:
    assert service.progress is not None
    return next(p.detail for p in service.progress.phases if p.name == name)


@docker_mark
def test_deploy_score_update_reload_recover_and_delete(
    docker_home: Path, app_dir: Path, k_model: Model, tmp_path: Path, docker_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import docker.errors

    service = deploy("dock", [k_model], _ic(app_dir), LocalWebservice.deploy_configuration())
    service.wait_for_deployment(show_output=True, timeout_sec=600)
    shown = capsys.readouterr().out
    for phase in ("[resolve]", "[environment]", "[build]", "[start]", "[init]", "[ready]"):
        assert phase in shown
    # the shared image (built once per base image; its build output streams then) holds no environment:
    # the environment, the models and the code are mounted
    assert "environment, models and code mounted read-only" in shown
    assert "Healthy at http://127.0.0.1:" in shown

    assert isinstance(service, LocalWebservice) and service.compute_type == "docker"
    assert service.state == WebserviceState.HEALTHY
    assert service.scoring_uri == f"http://127.0.0.1:{service.port}/score"
    assert service.models == ["k:1"]
    assert service.run({"data": [1, 2.5]}) == [3.0, 7.5]
    # AZUREML_MODEL_DIR is the single model's version folder, as in Azure
    assert "/var/azureml-app/azureml-models/k/1/k.txt" in service.get_logs()

    container = docker_client.containers.get("mldeploy-dock")
    assert container.labels["mldeploy.service"] == "dock"
    assert container.labels["mldeploy.models"] == "k:1"
    assert container.attrs["Config"]["User"] == "1000:1000"
    binding = container.attrs["HostConfig"]["PortBindings"]["5001/tcp"][0]
    assert binding == {"HostIp": "127.0.0.1", "HostPort": str(service.port)}
    image_id = container.image.id

    # a code edit + update(inference_config=...): swapped into the running container, no rebuild
    script = app_dir / "score.py"
    script.write_text(script.read_text().replace("x * k", "x * k + 100"))
    service.update(inference_config=_ic(app_dir))
    assert service.run({"data": [1]}) == [103.0]
    assert "code swap" in _phase(service, "init")
    assert not [p for p in service.progress.phases if p.name in ("build", "start")]
    assert docker_client.containers.get("mldeploy-dock").image.id == image_id

    # another edit + reload()
    script.write_text(script.read_text().replace("x * k + 100", "x * k + 200"))
    service.reload()
    assert service.run({"data": [1]}) == [203.0]
    assert docker_client.containers.get("mldeploy-dock").image.id == image_id

    # the container dies: Failed with its exit code and last logs; reload() brings it back
    docker_client.containers.get("mldeploy-dock").kill()
    deadline = time.monotonic() + 20
    while service.state == WebserviceState.HEALTHY and time.monotonic() < deadline:
        time.sleep(0.1)
    assert service.state == WebserviceState.FAILED
    assert "exit code 137" in (service.error or "")
    assert "init loaded" in (service.error or "")  # its last log lines
    with pytest.raises(DeploymentError, match="reload"):
        Webservice("dock").wait_for_deployment(timeout_sec=5)
    service.reload()
    assert service.state == WebserviceState.HEALTHY
    assert service.run({"data": [1]}) == [203.0]

    # a new model version: swapped into the running container (the models folder is mounted):
    # no build, no restart, the environment untouched
    container_id = docker_client.containers.get("mldeploy-dock").id
    (tmp_path / "k2").mkdir()
    (tmp_path / "k2" / "k.txt").write_text("5")
    k2 = Model.register(str(tmp_path / "k2" / "k.txt"), "k")
    service.update(models=[k2])
    assert service.models == ["k:2"]
    assert service.run({"data": [1]}) == [205.0]
    assert "code swap (new model(s) k:2)" in _phase(service, "init")
    assert not [p for p in service.progress.phases if p.name in ("build", "start")]
    assert _phase(service, "environment") == "unchanged"
    assert docker_client.containers.get("mldeploy-dock").id == container_id
    new_image = docker_client.containers.get("mldeploy-dock").image.id
    assert new_image == image_id

    port = service.port
    service.delete(delete_image=True)
    assert service.state == WebserviceState.DELETED
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get("mldeploy-dock")
    with pytest.raises(docker.errors.ImageNotFound):  # the service's tag is gone (the shared image stays)
        docker_client.images.get("mldeploy/service-dock:latest")
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))
    assert Webservice.list() == []


@docker_mark
def test_failing_init_raises_with_its_traceback_and_reload_fixes_it(
    docker_home: Path, app_dir: Path, k_model: Model
) -> None:
    script = app_dir / "score.py"
    good = script.read_text()
    script.write_text(textwrap.dedent("""
        def init():
            settings = {}
            return settings["threshold"]

        def run(raw_data):
            return raw_data
    """))
    service = deploy("broken", [k_model], _ic(app_dir), LocalWebservice.deploy_configuration())
    with pytest.raises(DeploymentError) as info:
        service.wait_for_deployment(timeout_sec=600)
    message = str(info.value)
    assert "init() of score.py failed in service 'broken'" in message
    assert re.search(r'score\.py", line 4, in init', message)  # file and line
    assert "KeyError: 'threshold'" in message
    assert "Last log lines:" in message and "service.reload()" in message
    assert service.state == WebserviceState.FAILED

    script.write_text(good)
    service.reload()
    assert service.state == WebserviceState.HEALTHY
    assert service.run({"data": [2]}) == [6.0]
    with pytest.raises(ScoringRequestError) as failed:  # debug=True: run()'s traceback in the answer
        service.run({"data": "ab"})
    assert failed.value.status == 500
    assert "traceback" in str(failed.value.body) and "score.py" in str(failed.value.body)


@docker_mark
def test_port_conflicts_name_the_port_and_the_service(
    docker_home: Path, app_dir: Path, k_model: Model
) -> None:
    holder = _deploy("holder", [k_model], app_dir, auth_enabled=True)
    port = holder.port
    assert port is not None
    # auth: run() sends the primary key; an anonymous call is refused; a new key replaces the old
    primary, _ = holder.get_keys()
    assert holder.run({"data": [1]}) == [3.0]
    with ScoringClient(f"http://127.0.0.1:{port}") as anonymous, pytest.raises(ScoringRequestError) as refused:
        anonymous.score({"data": [1]})
    assert refused.value.status == 401
    holder.regen_key("Primary")
    assert holder.get_keys()[0] != primary and holder.port == port
    assert holder.run({"data": [2]}) == [6.0]
    with ScoringClient(f"http://127.0.0.1:{port}", auth_key=primary) as stale, pytest.raises(ScoringRequestError):
        stale.score({"data": [1]})
    other = deploy("other", [k_model], _ic(app_dir), LocalWebservice.deploy_configuration(port=port))
    with pytest.raises(PortInUseError) as info:
        other.wait_for_deployment(timeout_sec=600)
    assert f"port {port}" in str(info.value) and "'holder'" in str(info.value)
    assert holder.run({"data": [1]}) == [3.0]  # untouched

    with socket.socket() as sock:  # a port held by some other program
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        third = deploy("third", [k_model], _ic(app_dir), LocalWebservice.deploy_configuration(port=taken))
        with pytest.raises(PortInUseError) as info:
            third.wait_for_deployment(timeout_sec=600)
    assert f"port {taken}" in str(info.value) and "another program" in str(info.value)


@docker_mark
def test_found_again_from_labels_after_the_deploying_process_exits(
    docker_home: Path, app_dir: Path, k_model: Model, capfd: pytest.CaptureFixture[str]
) -> None:
    code = textwrap.dedent(f"""
        from jupyter_mldeploy import InferenceConfig, Model
        from jupyter_mldeploy.deploy import deploy
        s = deploy("survivor", [Model("k", 1)], InferenceConfig("score.py", source_directory={str(app_dir)!r}))
        s.wait_for_deployment(timeout_sec=600)
        print(s.port)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    assert "survivor: target docker: Docker" in out.stderr  # no config given: Docker, and why
    port = int(out.stdout.strip().splitlines()[-1])

    service = Webservice("survivor")
    assert isinstance(service, LocalWebservice)
    assert service.port == port and service.state == WebserviceState.HEALTHY

    # the record is lost: the container's labels are enough
    shutil.rmtree(docker_home / "services" / "survivor")
    found = Webservice.list()
    assert [(s.name, s.compute_type, s.port, s.models, s.state) for s in found] == [
        ("survivor", "docker", port, ["k:1"], WebserviceState.HEALTHY)
    ]
    shutil.rmtree(docker_home / "services" / "survivor")
    again = Webservice("survivor")
    assert isinstance(again, LocalWebservice)
    assert again.run({"data": [2]}) == [6.0]
    with pytest.raises(ServiceExistsError, match="overwrite=True"):
        deploy("survivor", [k_model], _ic(app_dir), LocalWebservice.deploy_configuration())
    again.reload()  # the source folder comes back from the label
    assert again.run({"data": [1]}) == [3.0]
    again.update(models=[k_model])  # the environment comes back from the labels too
    assert "new model(s) k:1" in _phase(again, "init")  # swapped in: the environment is found and mounted
    assert again.run({"data": [1]}) == [3.0]
    again.delete()
    assert Webservice.list() == []


@docker_mark
def test_missing_base_image_names_the_setting(
    docker_home: Path, app_dir: Path, k_model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLDEPLOY_BASE_IMAGE", "mldeploy/not-there:0")
    service = deploy("nobase", [k_model], _ic(app_dir), LocalWebservice.deploy_configuration())
    with pytest.raises(BaseImageMissingError) as info:
        service.wait_for_deployment(timeout_sec=60)
    assert "mldeploy/not-there:0" in str(info.value) and "MLDEPLOY_BASE_IMAGE" in str(info.value)
    assert "build-base-image.sh" in str(info.value)
    service.delete()


def test_no_engine_gives_the_fix_and_the_default_falls_back_to_a_process(
    app_dir: Path, k_model: Model, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("docker")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    service = deploy("nodocker", [k_model], _ic(app_dir), LocalWebservice.deploy_configuration())
    with pytest.raises(DockerUnavailableError) as info:
        service.wait_for_deployment(timeout_sec=60)
    message = str(info.value)
    assert "no Docker engine answers" in message and "no-docker.sock" in message
    assert "ensure-docker.sh" in message or "start Docker" in message
    service.delete()

    fallback = deploy("fallback", [k_model], _ic(app_dir))
    assert isinstance(fallback, ProcessWebservice)
    assert "fallback: target process: no Docker engine answers" in capsys.readouterr().err
    fallback.wait_for_deployment(timeout_sec=120)
    assert fallback.run({"data": [1]}) == [3.0]
    assert fallback.progress is not None
    assert any("target process" in event.text for event in fallback.progress.events_since(0))


@docker_mark
def test_only_an_environment_change_rebuilds_the_environment_layer(
    docker_home: Path, app_dir: Path, k_model: Model, tmp_path: Path, docker_client: Any
) -> None:
    from jupyter_mldeploy import Environment

    service = _deploy("envy", [k_model], app_dir)
    image_id = docker_client.containers.get("mldeploy-envy").image.id
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six\n")
    env = Environment.from_pip_requirements("envy-env", str(requirements))
    (app_dir / "score.py").write_text(textwrap.dedent("""
        import six

        def init():
            pass

        def run(raw_data):
            try:
                import toolz
            except ImportError:
                return {"six": six.__version__}
            return {"six": six.__version__, "toolz": toolz.__version__}
    """))
    service.update(inference_config=_ic(app_dir, environment=env))
    assert _phase(service, "environment").startswith("envy-env for Python 3.")
    assert "mounted read-only" in _phase(service, "environment")  # a new spec: a new host-built environment
    # the script's inferred environment had only the runtime: six is an addition, swapped in, nothing rebuilt
    assert "code swap (the environment adds six==" in _phase(service, "init")
    assert "build" not in [p.name for p in service.progress.phases]
    assert docker_client.containers.get("mldeploy-envy").image.id == image_id
    assert set(service.run("{}")) == {"six"}

    # one small package more: only it is installed, into a copy of the environment before, and
    # swapped into the running container (the package goes on its path, nothing restarts)
    requirements.write_text("six\ntoolz\n")
    env2 = Environment.from_pip_requirements("envy-env", str(requirements))
    tree = service._record.environment["tree"]
    container_id = docker_client.containers.get("mldeploy-envy").id
    service.update(inference_config=_ic(app_dir, environment=env2))
    assert "added to a copy of" in _phase(service, "environment")
    assert "code swap (the environment adds toolz==" in _phase(service, "init")
    assert service._record.environment["tree"] != tree
    assert set(service.run("{}")) == {"six", "toolz"}
    assert docker_client.containers.get("mldeploy-envy").id == container_id
    mounts = {m["Destination"]: m for m in docker_client.containers.get("mldeploy-envy").attrs["Mounts"]}
    assert mounts["/opt/mldeploy/env"]["RW"] is False and mounts["/opt/mldeploy/models"]["RW"] is False
    env = env2
    assert service.run("{}")["six"]
    service.update(inference_config=_ic(app_dir, environment=env))  # same environment: no build at all, a swap
    assert "build" not in [p.name for p in service.progress.phases]
    assert "code swap" in _phase(service, "init")
    assert service.run("{}")["six"]
