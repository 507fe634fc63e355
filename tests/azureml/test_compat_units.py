"""The ``jupyter_mldeploy.azureml`` layer without a deployment: workspaces, notes, v1 signatures, target configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mldeploy import azureml
from jupyter_mldeploy.azureml import (
    AciWebservice,
    AksWebservice,
    CondaDependencies,
    Environment,
    InferenceConfig,
    LocalWebservice,
    Model,
    Webservice,
    Workspace,
)
from jupyter_mldeploy.azureml import _notes
from jupyter_mldeploy.deploy.docker import DockerDeploymentConfiguration
from jupyter_mldeploy.deploy.k8s.config import KubernetesDeploymentConfiguration
from jupyter_mldeploy.deploy.package import ModelPackage
from jupyter_mldeploy.errors import InvalidArgumentError, MLDeployError


@pytest.fixture(autouse=True)
def _fresh_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_notes, "_said", set())


def test_every_v1_name_is_exported() -> None:
    assert set(azureml.__all__) == {
        "AciWebservice", "AksWebservice", "CondaDependencies", "Environment", "InferenceConfig",
        "LocalWebservice", "Model", "ModelPackage", "Webservice", "Workspace",
    }


def test_workspace_forms_all_mean_the_local_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     mldeploy_home: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert Workspace.from_config().name == "local"  # no config.json needed
    ws = Workspace("sub-123", "rg", "my-ws")
    assert (ws.subscription_id, ws.resource_group, ws.name, ws.home) == ("sub-123", "rg", "my-ws", mldeploy_home)
    written = ws.write_config()
    assert json.loads(written.read_text())["workspace_name"] == "my-ws"
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # found up the tree, as v1 does
    assert Workspace.from_config().name == "my-ws"
    assert Workspace.from_config(path=str(written)).resource_group == "rg"
    assert Workspace.get("other", subscription_id="s", resource_group="r").name == "other"
    assert Workspace.create("x").home == mldeploy_home


def test_workspace_bad_config_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidArgumentError, match=r"config.json is not a JSON workspace config"):
        Workspace.from_config(path=str(bad))
    with pytest.raises(InvalidArgumentError, match=r"no config.json there"):
        Workspace.from_config(path=str(tmp_path / "empty"))


def test_cloud_only_parameters_are_noted_once_naming_them(capsys: pytest.CaptureFixture[str]) -> None:
    Workspace("s", "r", "w", auth=object(), tags={"team": "a"})
    Workspace("s", "r", "w", auth=object(), tags={"team": "a"})
    err = capsys.readouterr().err
    assert err.count("Workspace(): auth= is accepted and ignored") == 1
    assert err.count("Workspace(): tags= is accepted and ignored") == 1
    Workspace("s", "r", "w")  # nothing given, nothing said
    assert capsys.readouterr().err == ""


def test_aci_config_is_docker_with_limits_and_says_so_once(capsys: pytest.CaptureFixture[str]) -> None:
    config = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1, enable_app_insights=True,
                                                collect_model_data=True, tags={"a": "b"})
    assert isinstance(config, DockerDeploymentConfiguration)
    assert (config.compute_type, config.cpu_cores, config.memory_gb, config.auth_enabled) == ("docker", 1, 1, False)
    err = capsys.readouterr().err
    assert "limited to 1 CPU cores, 1 GB of memory" in err
    for name in ("enable_app_insights", "tags"):
        assert f"{name}= is accepted and ignored" in err
    # collect_model_data works here: it turns on request capture (service.get_captured)
    assert "collect_model_data" not in err
    assert config.collect_model_data is True
    AciWebservice.deploy_configuration(cpu_cores=2, memory_gb=2)
    assert "local Docker container" not in capsys.readouterr().err  # once
    assert AciWebservice.deploy_configuration(auth_enabled=True).auth_enabled is True


def test_aks_config_maps_onto_the_kubernetes_target(capsys: pytest.CaptureFixture[str]) -> None:
    config = AksWebservice.deploy_configuration(
        autoscale_enabled=True, autoscale_min_replicas=2, autoscale_max_replicas=4, cpu_cores=0.5, memory_gb=1,
        scoring_timeout_ms=5000, namespace="ml", period_seconds=5, enable_app_insights=True,
        image_repository="127.0.0.1:5000/models",
    )
    assert isinstance(config, KubernetesDeploymentConfiguration) and config.compute_type == "kubernetes"
    assert (config.autoscale_min_replicas, config.autoscale_max_replicas, config.cpu_cores, config.memory_gb) == (
        2, 4, 0.5, 1)
    assert (config.timeout_ms, config.namespace, config.period_seconds) == (5000, "ml", 5)
    assert config.auth_enabled is True  # v1's AKS default
    assert "enable_app_insights= is accepted and ignored" in capsys.readouterr().err
    with pytest.raises(InvalidArgumentError, match="autoscale_max_replicas"):  # the target's own checks apply
        AksWebservice.deploy_configuration(autoscale_min_replicas=5, autoscale_max_replicas=2)


def test_finding_services_by_v1_classes_with_a_workspace(k_model: Model, tmp_path: Path) -> None:
    from jupyter_mldeploy import ProcessWebservice

    ws = Workspace.from_config()
    app = tmp_path / "app"
    app.mkdir()
    (app / "score.py").write_text("def init():\n    pass\n\ndef run(data):\n    return {'ok': True}\n")
    service = Model.deploy(ws, "v1-find", [k_model], InferenceConfig(entry_script="score.py", source_directory=str(app)),
                           ProcessWebservice.deploy_configuration())
    service.wait_for_deployment()
    assert Webservice(ws, "v1-find").scoring_uri == service.scoring_uri
    assert AciWebservice(ws, "v1-find").name == "v1-find"  # found whatever its target, as Webservice(ws, name)
    assert [s.name for s in Webservice.list(ws)] == ["v1-find"]
    assert list(ws.webservices) == ["v1-find"]
    assert ws.models["k"].version == 1
    service.delete()
    with pytest.raises(MLDeployError, match="v1-find"):
        Webservice(ws, "v1-find")


def test_model_signatures_of_v1(tmp_path: Path) -> None:
    ws = Workspace.from_config()
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "a.txt").write_text("A")
    (folder / "b.txt").write_text("B")
    model = Model.register(ws, model_path=str(folder), model_name="two", tags={"k": "v"}, description="d",
                           child_paths=["a.txt"])
    again = Model(ws, "two")
    assert (again.name, again.version, again.tags, again.description) == ("two", 1, {"k": "v"}, "d")
    assert Model(ws, name="two", version=1).id == model.id
    path = Model.get_model_path("two", version=1, _workspace=ws)
    assert sorted(p.name for p in Path(path).rglob("*.txt")) == ["a.txt"]  # child_paths: only a.txt stored
    target = tmp_path / "dl"
    out = model.download(target_dir=str(target), exist_ok=False)
    assert (Path(out) / "a.txt").read_text() == "A" if Path(out).is_dir() else Path(out).read_text() == "A"
    with pytest.raises(MLDeployError, match="exist_ok=True"):
        model.download(target_dir=str(target), exist_ok=False)


def test_environment_v1_calls(tmp_path: Path) -> None:
    ws = Workspace.from_config()
    env = Environment(name="myenv")
    conda_dep = CondaDependencies()
    conda_dep.add_pip_package("requests")
    env.python.conda_dependencies = conda_dep
    env.register(workspace=ws)
    got = Environment.get(workspace=ws, name="myenv")
    assert got.python.conda_dependencies.pip_packages == ["requests"]
    assert Environment.get(ws, "myenv", version="1").name == "myenv"
    assert "myenv" in ws.environments


def test_package_with_workspace_and_generate_dockerfile_keyword(k_model: Model, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "score.py").write_text("def init():\n    pass\n\ndef run(data):\n    return data\n")
    ic = InferenceConfig(entry_script="score.py", source_directory=str(app))
    ws = Workspace.from_config()
    package = Model.package(ws, [k_model], ic, generate_dockerfile=True)  # v1 failed: "multiple values"
    assert isinstance(package, ModelPackage) and package.generate_dockerfile
    package.wait_for_creation(show_output=False)
    assert (package.context_dir / "Dockerfile").is_file()
    with pytest.raises(InvalidArgumentError, match="Dockerfile context, not an image"):
        package.pull()
    first = Model.package(ws, [k_model], ic, generate_dockerfile=True, image_name="mypkg")
    second = Model.package(ws, [k_model], ic, generate_dockerfile=True, image_name="mypkg")
    labelled = Model.package(ws, [k_model], ic, generate_dockerfile=True, image_name="mypkg", image_label="v9")
    assert (first.location, second.location, labelled.location) == ("mypkg:1", "mypkg:2", "mypkg:v9")
    for p in (package, first, second, labelled):
        p.wait_for_creation()
        p.delete()


def test_local_webservice_is_the_docker_target() -> None:
    assert LocalWebservice.deploy_configuration(port=6789).compute_type == "docker"
