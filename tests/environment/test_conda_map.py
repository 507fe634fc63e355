"""Conda specs become pip requirements, are skipped with a note, or are refused by name."""

from __future__ import annotations

import pytest

from jupyter_mldeploy.environment._conda_map import (
    conda_version_to_pip,
    parse_conda_spec,
    pip_equivalent,
)
from jupyter_mldeploy.errors import EnvironmentSpecError


@pytest.mark.parametrize(
    ("spec", "requirement"),
    [
        ("numpy", "numpy"),
        ("numpy=1.21", "numpy==1.21.*"),
        ("numpy=1.21.2=py39h6c91a56_0", "numpy==1.21.2.*"),
        ("numpy==1.21.2", "numpy==1.21.2"),
        ("numpy>=1.20,<2", "numpy<2,>=1.20"),
        ("numpy 1.21.*", "numpy==1.21.*"),
        ("numpy 1.21 py39_0", "numpy==1.21.*"),
        ("numpy[version='>=1.2,<2']", "numpy<2,>=1.2"),
        ("conda-forge::scikit-learn=1.3", "scikit-learn==1.3.*"),
        ("defaults/linux-64::pyyaml", "pyyaml"),
        ("pytorch=2.1", "torch==2.1.*"),
        ("py-xgboost", "xgboost"),
        ("python-graphviz", "graphviz"),
        ("matplotlib-base>=3.5", "matplotlib>=3.5"),
        ("PyYAML", "pyyaml"),
        ("numpy=*", "numpy"),
    ],
)
def test_conda_specs_become_pip_requirements(spec: str, requirement: str) -> None:
    assert pip_equivalent(spec).requirement == requirement


def test_renamed_packages_carry_a_note() -> None:
    found = pip_equivalent("pytorch")
    assert found.requirement == "torch"
    assert "'pytorch' is 'torch' on PyPI" in found.note


@pytest.mark.parametrize("spec", ["python=3.10", "pip", "libgcc-ng", "mkl=2021", "_openmp_mutex", "nomkl"])
def test_packages_pip_does_not_need_are_skipped_with_a_note(spec: str) -> None:
    found = pip_equivalent(spec)
    assert found.requirement is None
    assert found.note.startswith("skipped conda package")
    assert not found.conda_only_hint


@pytest.mark.parametrize("spec", ["cudatoolkit=11.3", "cudnn", "r-base=4.2", "r-ggplot2", "cuda-nvcc", "graphviz"])
def test_conda_only_packages_get_a_hint(spec: str) -> None:
    found = pip_equivalent(spec)
    assert found.requirement is None
    assert found.conda_only_hint


def test_parse_keeps_name_lower_case_and_version() -> None:
    package = parse_conda_spec("conda-forge::NumPy=1.21=build")
    assert (package.name, package.version) == ("numpy", "1.21")


def test_either_or_versions_are_refused_with_advice() -> None:
    with pytest.raises(EnvironmentSpecError, match=r"uses '\|'.*pick one version range"):
        conda_version_to_pip("1.20|1.21", "numpy=1.20|1.21")


def test_unreadable_spec_says_what_to_write() -> None:
    with pytest.raises(EnvironmentSpecError, match="cannot read the conda package spec"):
        parse_conda_spec("=1.2")
