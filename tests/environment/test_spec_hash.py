"""The canonical spec: conda translation and a hash that ignores order, case and spacing."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_mldeploy import CondaDependencies, Environment
from jupyter_mldeploy.errors import CondaOnlyPackageError


def _env(name: str, pip: list[str], conda: list[str] | None = None, python: str = "3.11") -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=pip, conda_packages=conda or [], python_version=python
    )
    return env


def test_hash_ignores_order_case_spacing_name_and_variables() -> None:
    a = _env("a", ["requests>=2,<3", "PyYAML", "scikit_learn[alldeps]"])
    b = _env("b", ["scikit-learn[AllDeps]", "pyyaml", "requests <3 , >=2"])
    b.environment_variables["X"] = "1"
    assert a.spec_hash == b.spec_hash
    assert len(a.spec_hash) == 64


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.python.conda_dependencies.add_pip_package("requests>=2.1,<3"),
        lambda e: e.python.conda_dependencies.add_pip_package("six"),
        lambda e: e.python.conda_dependencies.set_python_version("3.10"),
        lambda e: e.python.conda_dependencies.set_pip_option("--extra-index-url https://x.example/simple"),
    ],
)
def test_hash_changes_with_what_is_installed(change) -> None:  # type: ignore[no-untyped-def]
    env = _env("a", ["requests>=2,<3", "pyyaml"])
    before = env.spec_hash
    change(env)
    assert env.spec_hash != before


def test_conda_and_pip_spellings_of_the_same_thing_hash_equal() -> None:
    conda = _env("a", [], conda=["numpy=1.26", "pytorch>=2"])
    pip = _env("b", ["torch>=2", "numpy==1.26.*"])
    assert conda.spec.requirements == ("numpy==1.26.*", "torch>=2")
    assert conda.spec_hash == pip.spec_hash


def test_local_wheel_content_is_part_of_the_hash(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(b"one")
    env = _env("a", [f"pkg @ {wheel.as_uri()}"])
    before = env.spec_hash
    wheel.write_bytes(b"two")
    assert env.spec_hash != before


def test_conda_file_with_pip_section(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(
        "name: demo\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - conda-forge::numpy=1.26\n"
        "  - pip\n  - libgcc-ng\n  - py-xgboost>=2\n  - pip:\n    - requests==2.31.0\n"
        "    - --extra-index-url https://extra.example/simple\n"
    )
    env = Environment.from_conda_specification("demo", path)
    spec = env.spec
    assert spec.python == "==3.11.*"
    assert spec.requirements == ("numpy==1.26.*", "requests==2.31.0", "xgboost>=2")
    assert spec.extra_index_urls == ("https://extra.example/simple",)
    assert any("libgcc-ng" in note for note in spec.notes)
    assert spec.conda_origin("xgboost") == "py-xgboost>=2"
    assert spec.conda_origin("requests") is None


def test_conda_only_packages_are_all_named(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text("dependencies:\n  - python=3.11\n  - cudatoolkit=11.8\n  - numpy\n  - r-base\n")
    with pytest.raises(CondaOnlyPackageError) as caught:
        Environment.from_conda_specification("gpu", path)
    message = str(caught.value)
    assert "2 conda package(s) have no PyPI equivalent" in message
    assert "'cudatoolkit=11.8'" in message and "'r-base'" in message
    assert "list the PyPI equivalent under 'pip:'" in message


def test_pip_section_includes_and_paths_are_expanded(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n--find-links ./wheels\n")
    path = tmp_path / "environment.yml"
    path.write_text("dependencies:\n  - python=3.11\n  - pip:\n    - -r requirements.txt\n    - requests\n")
    env = Environment.from_conda_specification("inc", path)
    pip = env.python.conda_dependencies.pip_packages
    assert pip == ["six==1.16.0", "requests"]
    assert env.python.conda_dependencies.pip_options == [f"--find-links {tmp_path / 'wheels'}"]
    before = env.spec_hash
    (tmp_path / "requirements.txt").unlink()
    assert Environment.get("inc", version=env.register().version).spec_hash == before


def test_azure_serving_packages_are_replaced_by_the_runtime() -> None:
    azure = _env("azure", ["azureml-defaults>=1.40", "AzureML-Inference-Server-HTTP", "scikit-learn"])
    plain = _env("plain", ["scikit-learn"])
    assert azure.spec.requirements == ("scikit-learn",)
    assert azure.spec_hash == plain.spec_hash
    assert any("azureml-defaults" in note and "replaces" in note for note in azure.spec.notes)
