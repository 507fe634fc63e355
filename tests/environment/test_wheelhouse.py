"""Wheelhouses: target platforms, real resolution and downloads, offline install in a container."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from packaging.tags import Tag

from jupyter_mldeploy import CondaDependencies, Environment
from jupyter_mldeploy.environment._platforms import TargetPlatform, parse_platform, target_tags
from jupyter_mldeploy.errors import InvalidArgumentError, WheelDownloadError


@pytest.mark.parametrize(
    ("text", "arch", "glibc"),
    [
        ("linux/amd64", "x86_64", (2, 28)),
        ("linux/arm64", "aarch64", (2, 28)),
        ("linux/arm64/v8", "aarch64", (2, 28)),
        ("manylinux_2_17_x86_64", "x86_64", (2, 17)),
        ("manylinux2014_aarch64", "aarch64", (2, 17)),
        ("x86_64-manylinux_2_36", "x86_64", (2, 36)),
    ],
)
def test_platforms_in_every_spelling(text: str, arch: str, glibc: tuple[int, int]) -> None:
    assert parse_platform(text) == TargetPlatform(arch, glibc)


@pytest.mark.parametrize("text", ["windows/amd64", "macosx_11_0_arm64", "linux/s390x", ""])
def test_unknown_platforms_list_the_accepted_forms(text: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"use 'linux/amd64' or 'linux/arm64'"):
        parse_platform(text)


def test_uv_platform_never_exceeds_the_target_glibc() -> None:
    assert TargetPlatform("x86_64", (2, 30)).uv_platform() == "x86_64-manylinux_2_28"
    assert TargetPlatform("x86_64", (2, 36)).uv_platform() == "x86_64-manylinux_2_36"


def test_target_tags_rank_specific_before_generic() -> None:
    found = target_tags((3, 11), TargetPlatform("x86_64", (2, 28)))
    rank = {tag: i for i, tag in enumerate(found)}
    assert rank[Tag("cp311", "cp311", "manylinux_2_28_x86_64")] < rank[Tag("cp311", "abi3", "manylinux_2_17_x86_64")]
    assert rank[Tag("cp311", "abi3", "manylinux2014_x86_64")] < rank[Tag("py3", "none", "any")]
    assert Tag("cp311", "cp311", "manylinux_2_31_x86_64") not in rank
    assert Tag("cp312", "cp312", "manylinux_2_17_x86_64") not in rank


def _env(*pip: str) -> Environment:
    env = Environment("wheels")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(pip), python_version="3.11")
    return env


@pytest.mark.slow
def test_wheelhouse_for_another_platform_is_complete_and_hash_pinned(tmp_path: Path) -> None:
    dest = tmp_path / "wheels"
    house = _env("pyyaml", "six").download_wheels(dest, python_version="3.12", platform="linux/arm64")
    names = {w.name.split("-")[0].lower() for w in house.wheels}
    assert {"pyyaml", "six", "uvicorn", "jupyter_mldeploy"} <= names
    assert "uvloop" in names  # a runtime requirement with a platform marker, kept for linux
    yaml_wheel = next(w for w in house.wheels if w.name.lower().startswith("pyyaml"))
    assert "cp312" in yaml_wheel.name and "aarch64" in yaml_wheel.name
    lines = [l for l in house.requirements_file.read_text().splitlines() if l and not l.startswith("#")]
    assert len(lines) == len(house.wheels)
    by_hash = {hashlib.sha256(w.read_bytes()).hexdigest() for w in house.wheels}
    for line in lines:
        requirement, _, digest = line.partition(" --hash=sha256:")
        assert "==" in requirement and digest in by_hash
    assert house.python_version == "3.12" and house.platform == "manylinux_2_28_aarch64"


@pytest.mark.slow
def test_runtime_wheel_can_be_left_out(tmp_path: Path) -> None:
    house = _env("six").download_wheels(tmp_path / "w", python_version="3.11", include_runtime_wheel=False)
    assert not any(w.name.startswith("jupyter_mldeploy") for w in house.wheels)
    assert "\njupyter-mldeploy==" not in house.requirements_file.read_text()
    assert any(w.name.startswith("uvicorn") for w in house.wheels)  # runtime deps stay


@pytest.mark.slow
def test_sdist_only_package_for_a_foreign_target_is_named(tmp_path: Path) -> None:
    with pytest.raises(WheelDownloadError, match=r"no wheel for Python 3.11 on manylinux_2_28_aarch64 exists for: termcolor==1.1.0"):
        _env("termcolor==1.1.0").download_wheels(tmp_path / "w", python_version="3.11", platform="linux/arm64")


@pytest.mark.slow
@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="host build needs a local Python 3.11")
def test_sdist_only_package_is_built_on_a_matching_host(tmp_path: Path) -> None:
    house = _env("termcolor==1.1.0").download_wheels(tmp_path / "w", python_version="3.11", platform="linux/amd64")
    assert house.built_on_host == ("termcolor",)
    assert any(w.name.startswith("termcolor-1.1.0-py3-none-any") for w in house.wheels)


@pytest.mark.slow
def test_unresolvable_requirement_is_named(tmp_path: Path) -> None:
    with pytest.raises(WheelDownloadError, match=r"the resolver's error names: no-such-package-mldeploy-test-zz"):
        _env("no-such-package-mldeploy-test-zz").download_wheels(tmp_path / "w")


@pytest.mark.slow
def test_bad_python_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="give the target interpreter as 'X.Y'"):
        _env("six").download_wheels(tmp_path / "w", python_version="three")
