"""``mldeploy serve`` / ``python -m jupyter_mldeploy.scoring``: options, Azure environment names, Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_server_support import script

from jupyter_mldeploy.errors import InvalidArgumentError
from jupyter_mldeploy.client.client import ScoringClient
from jupyter_mldeploy.scoring.options import settings_from_args
from jupyter_mldeploy.scoring.settings import ServeSettings

MLDEPLOY = str(Path(sys.executable).with_name("mldeploy"))


def test_environment_names_fill_the_options():
    env = {
        "AZUREML_ENTRY_SCRIPT": "score.py",
        "AML_APP_ROOT": "/app",
        "AZUREML_MODEL_DIR": "/models",
        "SCORING_TIMEOUT_MS": "1500",
        "WORKER_COUNT": "3",
        "AML_CORS_ORIGINS": "http://a.example, http://b.example",
        "MLDEPLOY_AUTH_KEYS": "key-one-1,key-two-2",
    }
    s = settings_from_args(None, env)
    assert (s.entry_script, s.source_dir, s.model_dir) == ("score.py", "/app", "/models")
    assert (s.timeout_ms, s.workers) == (1500, 3)
    assert s.cors_origins == ("http://a.example", "http://b.example")
    assert s.auth_keys == ("key-one-1", "key-two-2")
    assert (s.host, s.port, s.reload) == ("127.0.0.1", 5001, False)  # safe defaults

    import argparse

    from jupyter_mldeploy.scoring.options import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--workers", "2", "--auth-key", "xxxxxxxx", "--reload"])
    flags = settings_from_args(args, env)
    assert (flags.workers, flags.auth_keys, flags.reload, flags.timeout_ms) == (2, ("xxxxxxxx",), True, 1500)


def test_bad_settings_say_what_to_fix():
    with pytest.raises(InvalidArgumentError, match="--entry-script"):
        settings_from_args(None, {})
    with pytest.raises(InvalidArgumentError, match="WORKER_COUNT|workers"):
        settings_from_args(None, {"AZUREML_ENTRY_SCRIPT": "s.py", "WORKER_COUNT": "many"})
    with pytest.raises(InvalidArgumentError, match="--workers"):
        ServeSettings(entry_script="s.py", workers=0)
    with pytest.raises(InvalidArgumentError, match="--timeout-ms"):
        ServeSettings(entry_script="s.py", timeout_ms=0)


def _start(cmd: list[str], env_extra: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    import os

    env = dict(os.environ, **env_extra)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if match:
            return proc, match.group(1)
        assert time.monotonic() < deadline, "server did not print its URL"
    raise AssertionError(f"server exited early with {proc.wait()}")


@pytest.mark.parametrize("entry", ["cli", "module"])
def test_serve_from_the_command_line_with_azure_env_and_ctrl_c(entry):
    cmd = (
        [MLDEPLOY, "serve", "--port", "0"]
        if entry == "cli"
        else [sys.executable, "-m", "jupyter_mldeploy.scoring", "--port", "0"]
    )
    proc, url = _start(cmd, {"AZUREML_ENTRY_SCRIPT": str(script("plain_json")), "WORKER_COUNT": "1"})
    try:
        with ScoringClient(url) as client:
            client.wait_ready(timeout=60)
            assert client.score({"data": [[1, 2, 3]]}) == {"predictions": [14.5]}
            assert client.request("GET", "/").text == "Healthy"
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "scoring server stopped" in out
    assert "Traceback" not in out


def test_serve_without_a_script_fails_with_a_one_line_error():
    result = subprocess.run([MLDEPLOY, "serve", "--port", "0"], check=False, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "MLDEPLOY_HOME": "/tmp"})
    assert result.returncode == 1
    assert "--entry-script" in result.stderr and "Traceback" not in result.stderr


def test_serve_help_lists_every_option_with_its_environment_name():
    result = subprocess.run([MLDEPLOY, "serve", "--help"], check=False, capture_output=True, text=True, timeout=60)
    text = " ".join(result.stdout.split())
    for flag, env in [("--entry-script", "AZUREML_ENTRY_SCRIPT"), ("--source-dir", "AZUREML_SOURCE_DIRECTORY"),
                      ("--model-dir", "AZUREML_MODEL_DIR"), ("--timeout-ms", "SCORING_TIMEOUT_MS"),
                      ("--workers", "WORKER_COUNT"), ("--cors-origins", "AML_CORS_ORIGINS"),
                      ("--source-dir", "AML_APP_ROOT")]:
        assert flag in text and env in text, (flag, env)
    for flag in ("--host", "--port", "--max-body-mb", "--auth-key", "--reload"):
        assert flag in text
