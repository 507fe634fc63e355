"""``mldeploy deploy --target docker`` and ``mldeploy package`` through the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

MLDEPLOY = str(Path(sys.executable).with_name("mldeploy"))


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MLDEPLOY, *args], capture_output=True, text=True, timeout=600, check=False,
                          env=env or os.environ.copy())


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "k.txt"
    path.write_text("3")
    return path


@pytest.fixture
def docker_env(docker_home: Path) -> dict[str, str]:
    """The environment for mldeploy commands against the real engine (cleaned by docker_home)."""
    return {**os.environ}


@pytest.mark.docker
def test_deploy_target_docker_score_and_delete(
    docker_env: dict[str, str], docker_client: Any, app_dir: Path, model_file: Path
) -> None:
    out = _cli("deploy", "clidock", "--model", str(model_file), "--entry-script", str(app_dir / "score.py"),
               "--target", "docker", env=docker_env)
    assert out.returncode == 0, out.stderr
    assert "[build] done" in out.stdout and "target:      docker" in out.stdout
    assert "scoring_uri: http://127.0.0.1:" in out.stdout

    listed = json.loads(_cli("services", "--json", env=docker_env).stdout)
    assert [(s["name"], s["compute_type"], s["state"]) for s in listed] == [("clidock", "docker", "Healthy")]
    scored = _cli("score", "clidock", '{"data": [2]}', env=docker_env)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout) == [6.0]
    assert "init loaded" in _cli("logs", "clidock", env=docker_env).stdout
    assert _cli("delete", "clidock", "--delete-image", env=docker_env).returncode == 0
    assert json.loads(_cli("services", "--json", env=docker_env).stdout) == []
    assert docker_client.images.list(name="mldeploy/service-clidock") == []


def test_package_dockerfile_only_writes_a_buildable_context(
    app_dir: Path, model_file: Path, tmp_path: Path, mldeploy_home: Path
) -> None:
    dest = tmp_path / "ctx"
    out = _cli("package", "--model", str(model_file), "--entry-script", str(app_dir / "score.py"),
               "--image", "mldeploy-test/cli:1", "--dockerfile-only", str(dest))
    assert out.returncode == 0, out.stderr
    assert f"docker build -t mldeploy-test/cli:1 {dest}" in out.stdout
    dockerfile = (dest / "Dockerfile").read_text()
    assert "--no-index" in dockerfile and "USER 1000:1000" in dockerfile
    assert (dest / "src" / "score.py").is_file() and any((dest / "wheels").glob("*.whl"))
    assert not any((mldeploy_home / "packages").iterdir())  # no staging copy left behind


def test_package_refuses_a_bad_image_name(app_dir: Path, model_file: Path) -> None:
    out = _cli("package", "--model", str(model_file), "--entry-script", str(app_dir / "score.py"),
               "--image", "Bad Name:1", "--dockerfile-only", "unused")
    assert out.returncode != 0
    assert "not a valid image name" in out.stderr
