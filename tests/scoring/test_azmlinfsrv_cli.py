"""``mldeploy serve`` as a drop-in for ``azmlinfsrv``: the behaviours Microsoft's scenario tests check, ported.

Microsoft's black-box scenario tests for azmlinfsrv (``tests/azmlinfsrv/scenarios`` in
microsoft/azureml-inference-server) start the server as a command with azmlinfsrv's flag
spellings and talk HTTP. That suite cannot be fetched in CI, so each behaviour it checks
that a script or a client sees is checked here the same way (the scripts are our own):
the flags, the variables scripts get, exiting non-zero when the script cannot load or its
init() fails, a busy port, ``--config_file``, the server-version header, prints in the log
before the answer, streamed answers. docs/azureml-v1.md lists the scenarios that assert
only azmlinfsrv's log wording or App Insights wiring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from jupyter_mldeploy._net import free_port

MLDEPLOY = str(Path(sys.executable).with_name("mldeploy"))

ENV_SCRIPT = textwrap.dedent(
    """
    import os
    from azureml_inference_server_http.api.aml_request import rawhttp
    from azureml_inference_server_http.api.aml_response import AMLResponse


    def init():
        print("init done here")


    @rawhttp
    def run(request):
        names = ["AML_APP_ROOT", "AZUREML_ENTRY_SCRIPT", "AZUREML_MODEL_DIR", "AML_APP_INSIGHTS_ENABLED"]
        seen = {n: os.environ.get(n, "__NONE__") for n in names}
        seen["headers"] = {name: value for name, value in request.headers}  # pairs, as werkzeug's
        print("printed by run")
        return AMLResponse(seen, 200, json_str=True)
    """
)


@contextmanager
def serving(tmp_path: Path, args: list[str], env: dict[str, str] | None = None, *, wait: bool = True,
            port: int | None = None, drop: tuple[str, ...] = ()) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """Run ``mldeploy serve ARGS --port P`` in ``tmp_path``; yield (process, port, stdout file); always stopped."""
    port = port or free_port()
    out = tmp_path / f"stdout-{port}-{time.monotonic_ns()}.txt"
    err = out.with_suffix(".err")
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen([MLDEPLOY, "serve", *args, "--port", str(port)], cwd=tmp_path, stdout=stdout,
                                stderr=stderr, env={k: v for k, v in {**os.environ, **(env or {})}.items()
                                                    if k not in drop})
    try:
        if wait:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                        break
                except requests.RequestException:  # not listening yet, or no worker up yet
                    pass
                time.sleep(0.1)
            assert proc.poll() is None, f"the server exited: {out.read_text()} {err.read_text()}"
        yield proc, port, out
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _exits(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("the server kept running; it should have exited")


def test_azmlinfsrv_flags_and_the_variables_scripts_see(tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "env_score.py").write_text(ENV_SCRIPT)
    args = ["--entry_script", "./resources/env_score.py", "--model_dir", "./my/dir", "--worker_count", "2",
            "--appinsights_instrumentation_key", "1b1e9d56-0000-4000-8000-000000000000",
            "--access_control_allow_origins", "*"]
    with serving(tmp_path, args, env={"AZUREML_MODEL_DIR": "./not/good"}) as (_, port, out):
        answer = requests.post(f"http://127.0.0.1:{port}/score", json={}, headers={"X-Custom": "v",
                               "Origin": "http://a.example"}, timeout=30)
        assert answer.status_code == 200
        seen = answer.json()
        assert seen["AZUREML_MODEL_DIR"] == "./my/dir"  # the flag wins over the environment, kept as given
        assert seen["AML_APP_ROOT"] == str(tmp_path)
        assert seen["AZUREML_ENTRY_SCRIPT"] == os.path.realpath(tmp_path / "resources" / "env_score.py")
        assert seen["AML_APP_INSIGHTS_ENABLED"] == "false"
        assert seen["headers"]["X-Custom"] == "v" and seen["headers"]["Content-Type"] == "application/json"
        assert answer.headers["x-ms-server-version"].startswith("mldeploy/")
        assert answer.headers["access-control-allow-origin"] == "*"
        log = out.read_text()
        assert "printed by run" in log  # in the log before the answer left, as under azmlinfsrv
        assert "init done here" in log and "workers: 2" in log
    err = out.with_suffix(".err").read_text()
    assert "--appinsights_instrumentation_key is accepted and ignored" in err


def test_model_dir_unset_means_unset(tmp_path: Path) -> None:
    (tmp_path / "env_score.py").write_text(ENV_SCRIPT)
    with serving(tmp_path, ["--entry_script", "env_score.py"], drop=("AZUREML_MODEL_DIR",)) as (_, port, _out):
        seen = requests.post(f"http://127.0.0.1:{port}/score", json={}, timeout=30).json()
    assert seen["AZUREML_MODEL_DIR"] == "__NONE__"  # not invented when neither the flag nor the environment sets it


@pytest.mark.parametrize(
    ("args", "files", "in_log"),
    [
        ([], {}, None),
        (["--entry_script", "resources/missing_score.py"], {}, None),
        (["--entry_script", "bad_indent.py"], {"bad_indent.py": "def init():\n        x = 1\n    y = 2\n"},
         "IndentationError: unindent does not match any outer indentation level"),
        (["--entry_script", "init_fails.py"],
         {"init_fails.py": "def init():\n    raise RuntimeError('weights are missing')\n\ndef run(d):\n    return d\n"},
         "RuntimeError: weights are missing"),
    ],
    ids=["no-entry-script", "missing-script", "bad-indent", "init-raises"],
)
def test_a_script_that_cannot_serve_makes_the_server_exit_nonzero(tmp_path: Path, args: list[str],
                                                                 files: dict[str, str], in_log: str | None) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with serving(tmp_path, args, wait=False) as (proc, _, out):
        assert _exits(proc) != 0
        if in_log is not None:
            assert in_log in out.read_text()  # the traceback is logged before the exit


def test_stay_up_keeps_serving_503_and_never_healthy(tmp_path: Path) -> None:
    (tmp_path / "init_fails.py").write_text("def init():\n    raise RuntimeError('weights are missing')\n\n"
                                            "def run(d):\n    return d\n")
    with serving(tmp_path, ["--entry_script", "init_fails.py", "--stay-up"], wait=False) as (proc, port, _):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                if ready.status_code == 503:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        for method, path in (("GET", "/"), ("GET", "/ready"), ("POST", "/score")):
            answer = requests.request(method, f"http://127.0.0.1:{port}{path}", json={}, timeout=10)
            assert answer.status_code == 503, path
            assert answer.json()["error"]["code"] == "InitFailed" and "weights are missing" in answer.text
        assert proc.poll() is None


def test_a_busy_port_makes_the_second_server_exit(tmp_path: Path) -> None:
    (tmp_path / "env_score.py").write_text(ENV_SCRIPT)
    with serving(tmp_path, ["--entry_script", "env_score.py"]) as (_, port, _out):
        with serving(tmp_path, ["--entry_script", "env_score.py"], wait=False, port=port) as (second, _, _o):
            assert _exits(second) != 0
        assert requests.post(f"http://127.0.0.1:{port}/score", json={}, timeout=30).ok  # the first serves on


def test_config_file_gives_the_settings(tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "env_score.py").write_text(ENV_SCRIPT)
    (tmp_path / "config.json").write_text(json.dumps({
        "AZUREML_ENTRY_SCRIPT": "resources/env_score.py", "SCORING_TIMEOUT_MS": 6000,
        "AML_APP_INSIGHTS_ENABLED": True, "EXTRA_KEY": False}))
    with serving(tmp_path, ["--config_file", "config.json"]) as (_, port, out):
        assert requests.post(f"http://127.0.0.1:{port}/score", json={}, timeout=30).ok
    assert "EXTRA_KEY ignored" in out.with_suffix(".err").read_text()


@pytest.mark.parametrize(("value", "present"), [(None, True), ("true", True), ("false", False), ("notgood", False)])
def test_server_version_header_follows_the_azmlinfsrv_variable(tmp_path: Path, value: str | None,
                                                                present: bool) -> None:
    (tmp_path / "env_score.py").write_text(ENV_SCRIPT)
    env = {} if value is None else {"SERVER_VERSION_LOG_RESPONSE_ENABLED": value}
    with serving(tmp_path, ["--entry_script", "env_score.py"], env=env) as (_, port, _out):
        answer = requests.post(f"http://127.0.0.1:{port}/score", json={}, timeout=30)
    assert answer.ok and ("x-ms-server-version" in answer.headers) is present


def test_contrib_imports_and_streamed_answers(tmp_path: Path) -> None:
    (tmp_path / "stream_score.py").write_text(textwrap.dedent(
        """
        import json
        from azureml.contrib.services.aml_request import AMLRequest, rawhttp
        from azureml.contrib.services.aml_response import AMLResponse

        def init():
            pass

        def generate(items):
            for item in items:
                yield "item: " + str(item) + "\\n\\n"

        @rawhttp
        def run(request: AMLRequest):
            return AMLResponse(generate(json.loads(request.data)["items"]), 200)
        """
    ))
    with serving(tmp_path, ["--entry_script", "stream_score.py"]) as (_, port, _out):
        answer = requests.post(f"http://127.0.0.1:{port}/score", json={"items": ["a", "b", "c"]}, stream=True,
                               timeout=30)
        text = b"".join(answer.iter_content(chunk_size=None)).decode()
    assert answer.ok and text == "item: a\n\nitem: b\n\nitem: c\n\n"
