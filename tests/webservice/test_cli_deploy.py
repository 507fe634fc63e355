"""``mldeploy deploy | services | logs | score | delete`` through the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jupyter_mldeploy import Model

MLDEPLOY = str(Path(sys.executable).with_name("mldeploy"))


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MLDEPLOY, *args], capture_output=True, text=True, input=stdin, timeout=180,
                          env=os.environ.copy())


def test_deploy_list_score_logs_delete(app_dir: Path, k_model: Model, tmp_path: Path) -> None:
    out = _cli("deploy", "clisvc", "--model", "k", "--entry-script", str(app_dir / "score.py"), "--target", "process")
    assert out.returncode == 0, out.stderr
    assert "[init] done" in out.stdout
    assert "scoring_uri: http://127.0.0.1:" in out.stdout

    listed = json.loads(_cli("services", "--json").stdout)
    assert [(s["name"], s["state"], s["models"]) for s in listed] == [("clisvc", "Healthy", ["k:1"])]
    table = _cli("services").stdout
    assert "clisvc" in table and "Healthy" in table

    assert json.loads(_cli("score", "clisvc", '{"data": [2]}').stdout) == [6.0]
    (tmp_path / "req.json").write_text('{"data": [1, 3]}')
    assert json.loads(_cli("score", "clisvc", f"@{tmp_path / 'req.json'}").stdout) == [3.0, 9.0]
    assert json.loads(_cli("score", "clisvc", stdin='{"data": [0]}').stdout) == [0.0]

    logs = _cli("logs", "clisvc", "--tail", "50").stdout
    assert "init loaded" in logs and "POST /score 200" in logs

    assert _cli("delete", "clisvc").returncode == 0
    assert "no services" in _cli("services").stdout


def test_cli_errors_are_one_line(app_dir: Path, k_model: Model) -> None:
    cases = [
        (("deploy", "x", "--model", "nope", "--entry-script", str(app_dir / "score.py")), "no model named 'nope'"),
        (("deploy", "x", "--model", "k", "--entry-script", "missing.py"), "missing.py"),
        (("deploy", "x", "--model", "k:abc", "--entry-script", str(app_dir / "score.py")), "VERSION must be a number"),
        (("score", "ghost", "{}"), "no service named 'ghost'"),
        (("logs", "ghost"), "no service named 'ghost'"),
        (("delete", "ghost"), "no service named 'ghost'"),
    ]
    for args, expected in cases:
        out = _cli(*args)
        assert out.returncode == 1, (args, out.stdout)
        assert out.stderr.startswith("mldeploy: error: "), out.stderr
        assert expected in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
