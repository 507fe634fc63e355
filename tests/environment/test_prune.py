"""``mldeploy env prune``: old environments go, the ones services still run from stay, whatever their age."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from jupyter_mldeploy import Environment
from jupyter_mldeploy.cli import main as cli_main
from jupyter_mldeploy.deploy import records
from jupyter_mldeploy.deploy.prune import prune_environments
from jupyter_mldeploy.deploy.records import ServiceRecord
from jupyter_mldeploy.environment.env_tree import META, env_trees_dir
from jupyter_mldeploy.environment.local_build import META_FILE
from jupyter_mldeploy.errors import InvalidArgumentError

OLD = time.time() - 40 * 86400


def _tree(key: str) -> Path:
    """A finished tree as env_tree leaves it (its build is tested with a real engine in tests/webservice)."""
    root = env_trees_dir()
    (root / key / "site-packages" / "six").mkdir(parents=True)
    (root / key / META).write_text(json.dumps({"pins": ["six==1.17.0"], "python_version": "3.11"}))
    (root / f".{key}.lock").touch()
    os.utime(root / key / META, (OLD, OLD))
    return root / key


def _env(tmp_path: Path, lines: str, name: str) -> Environment:
    (tmp_path / f"{name}.txt").write_text(lines)
    return Environment.from_pip_requirements(name, str(tmp_path / f"{name}.txt"))


def test_prune_keeps_what_services_use_and_removes_the_rest(
    mldeploy_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    used_venv = _env(tmp_path, "six\n", "used").build_local().path
    old_venv = _env(tmp_path, "six\ntoolz\n", "old").build_local().path
    fresh_venv = _env(tmp_path, "toolz\n", "fresh").build_local().path
    for venv in (used_venv, old_venv):
        os.utime(venv / META_FILE, (OLD, OLD))
    used_tree, old_tree = _tree("aaaa-3.11-linux_amd64-r1"), _tree("bbbb-3.11-linux_amd64-r1")
    (env_trees_dir() / ".bbbb-3.11-linux_amd64-r1-x1y2").mkdir()  # an interrupted build's leftover
    records.save(ServiceRecord(name="proc", compute_type="process", environment={"path": str(used_venv)}))
    records.save(ServiceRecord(name="box", compute_type="docker",
                               environment={"tree": str(used_tree / "site-packages")}))

    assert cli_main(["env", "prune", "--older-than-days", "30"]) == 0
    said = capsys.readouterr().out
    assert "1 build(s) and 1 Docker environment tree(s) removed; 2 kept because services use them" in said
    assert f"removed {old_venv}" in said and f"removed {old_tree}" in said
    assert not old_venv.exists() and not old_tree.exists()
    assert not (env_trees_dir() / ".bbbb-3.11-linux_amd64-r1-x1y2").exists()
    assert used_venv.is_dir() and used_tree.is_dir()  # 40 days old, but services run from them
    assert fresh_venv.is_dir()  # used recently

    records.remove("proc")
    records.remove("box")
    report = prune_environments(0)  # 0: everything no service names
    assert set(report.builds) == {used_venv, fresh_venv} and report.trees == (used_tree,)
    with pytest.raises(InvalidArgumentError, match="is negative"):
        prune_environments(-1)
