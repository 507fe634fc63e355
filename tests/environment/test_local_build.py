"""Real local builds with uv: cache reuse, same packages in another order, conda files, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_mldeploy import CondaDependencies, Environment
from jupyter_mldeploy.environment import local_build
from jupyter_mldeploy.errors import (
    CondaOnlyPackageError,
    EnvironmentBuildError,
    InvalidArgumentError,
)

pytestmark = pytest.mark.slow
HOST = f"{sys.version_info.major}.{sys.version_info.minor}"


def _env(*pip: str, name: str = "small") -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(pip), python_version=HOST)
    return env


def _run(python: Path, code: str) -> str:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_build_then_reuse_and_same_packages_in_another_order(mldeploy_home: Path) -> None:
    lines: list[str] = []
    first = _env("six", "pyyaml").build_local(log=lines.append)
    assert first.reused is False
    assert first.path.parent == mldeploy_home / "envs"
    assert any("Installed" in line for line in lines)  # uv's output was streamed
    assert _run(first.python, "import six, yaml, jupyter_mldeploy.scoring.contract, uvicorn; print('ok')") == "ok"
    meta = first.metadata()
    assert meta["spec_hash"] == first.spec_hash
    assert any(line.startswith("six==") for line in meta["installed"])

    again = _env("six", "pyyaml").build_local()
    assert again.reused is True and again.path == first.path

    reordered = _env("PyYAML", "SIX", name="other-name").build_local()
    assert reordered.reused is True and reordered.path == first.path
    assert not list((mldeploy_home / "envs").glob(".build-*"))


def test_conda_file_with_pip_section_builds(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(
        f"name: demo\nchannels: [conda-forge]\ndependencies:\n  - python={HOST}\n  - pip\n"
        "  - conda-forge::pyyaml>=6\n  - msgpack-python\n  - libgcc-ng\n  - pip:\n    - six\n"
    )
    lines: list[str] = []
    build = Environment.from_conda_specification("demo", path).build_local(log=lines.append)
    assert _run(build.python, "import yaml, six, msgpack; print(yaml.__version__[0])") == "6"
    assert any("skipped conda package 'libgcc-ng'" in line for line in lines)


def test_conda_only_package_errors_by_name(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(f"dependencies:\n  - python={HOST}\n  - cudnn=8\n")
    with pytest.raises(CondaOnlyPackageError, match=r"'cudnn=8'"):
        Environment.from_conda_specification("gpu", path).build_local()


def test_missing_python_version_is_named_with_what_exists(mldeploy_home: Path) -> None:
    env = _env("six")
    env.python.conda_dependencies.set_python_version("3.99")
    with pytest.raises(EnvironmentBuildError) as caught:
        env.build_local()
    message = str(caught.value)
    assert "no local Python matches the environment's python version '3.99'" in message
    assert f"{sys.version_info.major}.{sys.version_info.minor}." in message  # lists found interpreters
    assert "Install that Python" in message
    assert not (mldeploy_home / "envs").exists() or not any((mldeploy_home / "envs").iterdir())


def test_bad_requirement_fails_with_installer_output_and_leaves_nothing(mldeploy_home: Path) -> None:
    env = _env("six", "no-such-package-mldeploy-test-zz==1.0")
    with pytest.raises(EnvironmentBuildError) as caught:
        env.build_local()
    message = str(caught.value)
    assert "the installer's error names: no-such-package-mldeploy-test-zz" in message
    assert "uv said:" in message and "not found in the package registry" in message
    assert "fix the requirements" in message
    envs = mldeploy_home / "envs"
    assert [p.name for p in envs.iterdir() if p.name != ".locks"] == []


def test_renamed_conda_package_that_fails_points_at_the_pip_section(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(f"dependencies:\n  - python={HOST}\n  - no-such-conda-pkg-mldeploy-zz\n")
    with pytest.raises(EnvironmentBuildError, match=r"came from the conda package 'no-such-conda-pkg-mldeploy-zz'.*'pip:' section"):
        Environment.from_conda_specification("c", path).build_local()


def test_two_processes_build_the_same_environment_once(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from jupyter_mldeploy import Environment, CondaDependencies\n"
        "env = Environment('race')\n"
        f"env.python.conda_dependencies = CondaDependencies.create(pip_packages=['six'], python_version='{HOST}')\n"
        "b = env.build_local()\n"
        "print(json.dumps({'path': str(b.path), 'reused': b.reused}))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ))
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0]["path"] == results[1]["path"]
    assert sorted(r["reused"] for r in results) == [False, True]


def test_incomplete_build_folder_is_replaced(mldeploy_home: Path) -> None:
    env = _env("six")
    build = env.build_local()
    (build.path / local_build.META_FILE).unlink()  # as if a crash happened before completion
    stale = mldeploy_home / "envs" / f".build-{build.build_key[:16]}-killed"
    (stale / "env").mkdir(parents=True)  # what a builder killed with -9 leaves behind
    rebuilt = env.build_local()
    assert not stale.exists()
    assert rebuilt.reused is False and rebuilt.path == build.path
    assert (rebuilt.path / local_build.META_FILE).is_file()


def test_list_and_prune_builds(mldeploy_home: Path) -> None:
    from jupyter_mldeploy.environment.local_build import list_builds, remove_unused_builds

    build = _env("six").build_local()
    (mldeploy_home / "envs" / "0123456789abcdef").mkdir()  # a broken leftover
    builds = list_builds()
    assert [b.path for b in builds] == [build.path]
    assert builds[0].spec_hash == build.spec_hash and builds[0].size_bytes > 0
    assert remove_unused_builds(older_than_days=30) == [mldeploy_home / "envs" / "0123456789abcdef"]
    assert build.path.is_dir()
    old = time.time() - 40 * 86400
    os.utime(build.path / local_build.META_FILE, (old, old))
    assert remove_unused_builds(older_than_days=30) == [build.path]
    assert list_builds() == []
    with pytest.raises(InvalidArgumentError, match="is negative"):
        remove_unused_builds(-1)


def test_reuse_records_last_use(mldeploy_home: Path) -> None:
    build = _env("six").build_local()
    old = time.time() - 40 * 86400
    os.utime(build.path / local_build.META_FILE, (old, old))
    assert _env("six").build_local().reused
    assert (build.path / local_build.META_FILE).stat().st_mtime > old + 86400


def test_user_managed_dependencies_use_the_interpreter_as_is() -> None:
    env = _env("no-such-package-mldeploy-test-zz")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = sys.executable
    build = env.build_local()
    assert build.python == Path(sys.executable) and build.reused is True
    env.python.interpreter_path = "/nonexistent/python"
    with pytest.raises(EnvironmentBuildError, match="set env.python.interpreter_path"):
        env.build_local()
