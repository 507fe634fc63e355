"""``mldeploy env ...`` end to end through the real command-line entry point."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jupyter_mldeploy.cli import main

HOST = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture()
def conda_file(tmp_path: Path) -> Path:
    path = tmp_path / "env.yml"
    path.write_text(f"dependencies:\n  - python={HOST}\n  - pyyaml\n  - pip:\n    - six\n")
    return path


def test_register_list_show(conda_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "register", str(conda_file), "--name", "cli-env"]) == 0
    assert capsys.readouterr().out.strip() == "cli-env:1"
    assert main(["env", "list"]) == 0
    out = capsys.readouterr().out
    assert "cli-env" in out and "SPEC HASH" in out
    assert main(["environments", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "cli-env" and rows[0]["version"] == 1 and rows[0]["packages"] == 2
    assert main(["env", "show", "cli-env:1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["pip_requirements"] == ["pyyaml", "six"]


@pytest.mark.slow
def test_build_prints_path_and_reuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("six\n")
    assert main(["env", "build", str(reqs), "--json", "-q"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["reused"] is False and Path(first["python"]).exists()
    assert main(["env", "build", str(reqs)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"reused {first['path']} in ")


def test_errors_are_one_line_with_advice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "show", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mldeploy: error: no registered environment is called 'nope'")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("six\n")
    assert main(["env", "wheels", str(reqs), str(tmp_path / "w"), "--platform", "windows"]) == 1
    assert "use 'linux/amd64' or 'linux/arm64'" in capsys.readouterr().err
    assert main(["env", "build", str(tmp_path / "missing.txt")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_builds_and_prune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("six\n")
    assert main(["env", "build", str(reqs), "-q", "--json"]) == 0
    path = json.loads(capsys.readouterr().out)["path"]
    assert main(["env", "builds"]) == 0
    assert path in capsys.readouterr().out
    assert main(["env", "prune", "--older-than-days", "0"]) == 0
    assert f"removed {path}" in capsys.readouterr().out
    assert not Path(path).exists()
