"""CondaDependencies keeps Azure ML v1's API and round-trips conda YAML."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from jupyter_mldeploy import CondaDependencies
from jupyter_mldeploy.errors import CondaOnlyPackageError, EnvironmentSpecError

HOST = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_default_is_this_python_and_no_packages() -> None:
    deps = CondaDependencies()
    assert deps.get_python_version() == HOST
    assert deps.conda_packages == [] and deps.pip_packages == []


def test_create_and_edit_like_azure() -> None:
    deps = CondaDependencies.create(
        pip_packages=["requests", "pyyaml>=6"], conda_packages=["numpy=1.26"], python_version="3.10",
        pip_indexurl="https://extra.example/simple",
    )
    deps.add_pip_package("requests==2.31")  # same name: replaces
    deps.add_conda_package("numpy=1.25")
    deps.add_conda_package("pandas")
    deps.remove_pip_package("PyYAML")
    deps.add_channel("defaults")
    assert deps.get_python_version() == "3.10"
    assert deps.pip_packages == ["requests==2.31"]
    assert deps.pip_options == ["--extra-index-url https://extra.example/simple"]
    assert deps.conda_packages == ["numpy=1.25", "pandas"]
    deps.remove_conda_package("numpy")
    assert deps.conda_packages == ["pandas"]
    assert deps.conda_channels == ["conda-forge", "defaults"]


def test_conda_only_package_is_refused_at_once() -> None:
    deps = CondaDependencies()
    with pytest.raises(CondaOnlyPackageError, match=r"'cudatoolkit=11\.8' has no PyPI equivalent.*drop it"):
        deps.add_conda_package("cudatoolkit=11.8")


def test_bad_pip_package_is_refused() -> None:
    with pytest.raises(EnvironmentSpecError, match="is not a valid pip requirement"):
        CondaDependencies().add_pip_package("numpy >>= 1")


def test_yaml_round_trip(tmp_path: Path) -> None:
    deps = CondaDependencies.create(pip_packages=["requests"], conda_packages=["numpy"], python_version="3.11")
    path = deps.save(tmp_path / "env.yml")
    data = yaml.safe_load(Path(path).read_text())
    assert data["dependencies"] == ["python=3.11", "numpy", {"pip": ["requests"]}]
    again = CondaDependencies(conda_dependencies_file_path=path)
    assert again == deps
    assert again.serialize_to_string() == deps.serialize_to_string()


def test_python_range_is_kept() -> None:
    deps = CondaDependencies()
    deps.set_python_version(">=3.10")
    assert deps.get_python_version() == ">=3.10"
    with pytest.raises(EnvironmentSpecError, match="is not valid"):
        deps.set_python_version("latest")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dependencies: [numpy\n", "is not valid YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("dependencies: numpy\n", "must be lists"),
        ("dependencies:\n  - {conda: [x]}\n", r"must be \{'pip': \[...\]\}"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "env.yml"
    path.write_text(text)
    with pytest.raises(EnvironmentSpecError, match=message):
        CondaDependencies(conda_dependencies_file_path=path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentSpecError, match=rf"{tmp_path}/missing.yml does not exist"):
        CondaDependencies(conda_dependencies_file_path=tmp_path / "missing.yml")
