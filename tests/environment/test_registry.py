"""Registering, getting, listing, saving and loading environments."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jupyter_mldeploy import CondaDependencies, Environment
from jupyter_mldeploy.errors import EnvironmentNotFoundError, InvalidNameError, TargetExistsError


def _env(name: str = "web", pip: tuple[str, ...] = ("requests",)) -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(pip), python_version="3.11")
    return env


def test_versions_count_up_and_same_definition_reuses_latest() -> None:
    first = _env().register()
    assert first.version == 1
    assert _env().register().version == 1  # same definition: same version
    assert _env(pip=("requests", "pyyaml")).register().version == 2
    changed = _env(pip=("requests", "pyyaml"))
    changed.environment_variables["OMP_NUM_THREADS"] = "1"
    assert changed.register().version == 3
    assert _env().register().version == 4  # same as v1 but not the latest: new version


def test_get_latest_specific_and_azure_call_shape() -> None:
    _env().register()
    _env(pip=("requests", "six")).register()
    latest = Environment.get("web")
    assert latest.version == 2
    assert latest.python.conda_dependencies.pip_packages == ["requests", "six"]
    assert Environment.get(name="web", version=1).python.conda_dependencies.pip_packages == ["requests"]
    workspace = object()
    assert Environment.get(workspace, "web", "1").version == 1
    assert Environment.get("web", version=1).spec_hash == _env().spec_hash


def test_not_found_messages_list_what_exists() -> None:
    _env().register()
    with pytest.raises(EnvironmentNotFoundError, match=r"has no version 7; its versions are 1"):
        Environment.get("web", version=7)
    with pytest.raises(EnvironmentNotFoundError, match=r"no registered environment is called 'nope' \(registered: web\)"):
        Environment.get("nope")


def test_list_returns_latest_by_name() -> None:
    _env("a").register()
    _env("a", pip=("six",)).register()
    _env("b").register()
    listed = Environment.list()
    assert sorted(listed) == ["a", "b"]
    assert listed["a"].version == 2
    assert [e.version for e in Environment.list_versions("a")] == [1, 2]


def test_names_are_validated() -> None:
    with pytest.raises(InvalidNameError, match="invalid environment name"):
        Environment("../evil")


def test_save_and_load_directory_in_azure_shape(tmp_path: Path) -> None:
    env = _env()
    env.environment_variables["MODE"] = "fast"
    env.docker.base_image = "python:3.11-slim"
    env.save_to_directory(tmp_path / "def")
    data = json.loads((tmp_path / "def" / "azureml_environment.json").read_text())
    assert data["python"]["condaDependenciesFile"] == "conda_dependencies.yml"
    assert data["environmentVariables"] == {"MODE": "fast"}
    assert (tmp_path / "def" / "conda_dependencies.yml").is_file()
    loaded = Environment.load_from_directory(tmp_path / "def")
    assert loaded == env
    assert loaded.spec_hash == env.spec_hash
    with pytest.raises(TargetExistsError, match="pass overwrite=True"):
        env.save_to_directory(tmp_path / "def")
    env.save_to_directory(tmp_path / "def", overwrite=True)


def test_from_pip_requirements_uses_this_python(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("requests\n-r more.txt\n")
    (tmp_path / "more.txt").write_text("six==1.16.0\n")
    env = Environment.from_pip_requirements("reqs", tmp_path / "requirements.txt")
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert env.python.conda_dependencies.get_python_version() == host
    assert env.get_pip_requirements() == ["requests", "six==1.16.0"]
    # includes are expanded, so the registered definition stands alone
    (tmp_path / "more.txt").unlink()
    assert Environment.get("reqs", version=env.register().version).get_pip_requirements() == [
        "requests", "six==1.16.0"
    ]


def test_concurrent_registrations_get_distinct_versions() -> None:
    import os
    import subprocess

    code = (
        "import sys\n"
        "from jupyter_mldeploy import Environment, CondaDependencies\n"
        "env = Environment('shared')\n"
        "env.python.conda_dependencies = CondaDependencies.create(pip_packages=[f'pkg{sys.argv[1]}'], python_version='3.11')\n"
        "print(env.register().version)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ))
        for i in range(4)
    ]
    versions = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        versions.append(int(out.strip()))
    assert sorted(versions) == [1, 2, 3, 4]
    assert sorted(e.get_pip_requirements()[0] for e in Environment.list_versions("shared")) == [
        "pkg0", "pkg1", "pkg2", "pkg3"
    ]


def test_load_a_folder_saved_by_azure_ml(tmp_path: Path) -> None:
    folder = tmp_path / "azure"
    folder.mkdir()
    (folder / "azureml_environment.json").write_text(json.dumps({
        "name": "myenv",
        "version": "Autosave_2021-06-15T10:00:00Z_abc",
        "environmentVariables": {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"},
        "python": {"userManagedDependencies": False, "interpreterPath": "python",
                   "condaDependenciesFile": None, "baseCondaEnvironment": None},
        "docker": {"enabled": False, "baseImage": "mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:20210615.v1",
                   "platform": {"os": "Linux", "architecture": "amd64"}, "baseDockerfile": None,
                   "baseImageRegistry": {"address": None, "username": None, "password": None}, "arguments": []},
        "spark": {"repositories": [], "packages": [], "precachePackages": True},
        "inferencingStackVersion": None,
        "r": None,
    }))
    (folder / "conda_dependencies.yml").write_text(
        "name: project_environment\ndependencies:\n- python=3.8.10\n- pip=20.2.4\n"
        "- pip:\n  - azureml-defaults\n  - scikit-learn==0.24.2\nchannels:\n- anaconda\n- conda-forge\n"
    )
    env = Environment.load_from_directory(folder)
    assert env.name == "myenv" and env.version is None
    assert env.environment_variables == {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
    assert env.docker.base_image.startswith("mcr.microsoft.com/azureml/")
    assert env.python.conda_dependencies.get_python_version() == "3.8.10"
    spec = env.spec
    assert spec.python == "==3.8.10.*"
    assert spec.requirements == ("scikit-learn==0.24.2",)  # azureml-defaults is replaced by the runtime
