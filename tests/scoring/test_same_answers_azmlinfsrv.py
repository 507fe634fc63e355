"""The same answers as azmlinfsrv: scripts written for it, run under azmlinfsrv and under ``mldeploy serve``.

Each entry script in ``tests/scoring/same_answers/`` (plain ``run(raw_data)``, inference-schema
decorated, ``@rawhttp`` with GET/POST, uploads, headers, status codes and content types, errors
raised in ``run()``, bad JSON) is served twice, each server started as a command with azmlinfsrv's
flag spellings (``--entry_script``, ``--model_dir``, ``--port``, ``--worker_count``): by azmlinfsrv
1.5.1 (``azureml-inference-server-http``, installed from the package index into a virtualenv of its
own, cached between runs; :mod:`peer_venvs`) and by ``mldeploy serve``. Every request must get the
same status, content type and body from both. Where they differ on purpose, :data:`DIFFERENCES`
says how and why, and the test asserts exactly that difference.

Both servers listen on 127.0.0.1 only (azmlinfsrv through ``same_answers/azmlinfsrv_loopback.py``,
its own ``run()`` with the bind address set to loopback); requests are bounded in count and time.
If azmlinfsrv cannot be installed the test fails saying so: it is never skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import requests
from peer_venvs import peer_python

from jupyter_mldeploy._net import free_port

HERE = Path(__file__).parent / "same_answers"
AZMLINFSRV = "azureml-inference-server-http==1.5.1"
MLDEPLOY = str(Path(sys.executable).with_name("mldeploy"))
#: the longest a server may take to answer GET / after it was started (azmlinfsrv imports a lot)
START_TIMEOUT_S = 90
REQUEST_TIMEOUT_S = 30

pytestmark = [pytest.mark.slow]


@dataclass(frozen=True)
class Case:
    """One request: ``name`` for the test id, then what ``requests.request`` gets."""

    name: str
    method: str = "POST"
    path: str = "/score"
    json: Any = None
    data: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    files: tuple[tuple[str, tuple[str, bytes, str]], ...] = ()
    form: dict[str, str] = field(default_factory=dict)
    #: response headers compared too (besides Content-Type)
    compare: tuple[str, ...] = ()

    def send(self, port: int) -> requests.Response:
        return requests.request(
            self.method, f"http://127.0.0.1:{port}{self.path}", json=self.json,
            data=self.form or self.data, headers=self.headers or None, files=list(self.files) or None,
            timeout=REQUEST_TIMEOUT_S,
        )


JSON = {"Content-Type": "application/json"}
CASES: dict[str, list[Case]] = {
    "plain.py": [
        Case("dict", json={"data": [1, 2, 3]}),
        Case("list", json={"items": [1, 2]}),
        Case("str-return", json={"text": "hello"}),
        Case("none-return", json={"nothing": True}),
        Case("run-raises", json={"fail": "on purpose"}),
        Case("bad-json", data=b"{not json", headers=JSON),
        Case("text-plain-body", data=b'{"data": [4]}', headers={"Content-Type": "text/plain"}),
        Case("get-score", method="GET"),
        Case("liveness", method="GET", path="/"),
        Case("not-found", method="GET", path="/nothing-here"),
    ],
    "schema.py": [
        Case("valid", json={"data": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}),
        Case("with-scale", json={"data": [[1.0, 2.0, 3.0]], "scale": 2.0}),
        Case("run-raises", json={"data": [[1.0, 2.0, 3.0]], "scale": -1.0}),
        Case("missing-key", json={"rows": [[1.0, 2.0, 3.0]]}),
        Case("wrong-type", json={"data": "not an array"}),
        Case("bad-json", data=b"[1, 2", headers=JSON),
        Case("get-score", method="GET"),
    ],
    "raw.py": [
        Case("get", method="GET", path="/score?a=1&a=2&b=x"),
        Case("get-dict", method="GET", path="/score?kind=dict&q=7"),
        Case("get-status-404", method="GET", path="/score?kind=status&code=404"),
        Case("get-status-202", method="GET", path="/score?kind=status&code=202"),
        Case("post-files", path="/score?kind=files",
             files=(("image", ("digit.png", b"\x89PNG fake", "image/png")),
                    ("image", ("second.png", b"12345", "image/png")),
                    ("notes", ("notes.txt", b"hello", "text/plain"))),
             form={"label": "seven"}),
        Case("post-headers", path="/score?kind=headers", data=b"x",
             headers={"X-Custom": "yes", "X-Other": "2", "Content-Type": "application/octet-stream"}),
        Case("response-headers", path="/score?kind=echo-headers", compare=("X-Answer", "Cache-Control")),
        Case("csv", path="/score?kind=csv"),
        Case("png", path="/score?kind=png", compare=("Content-Length",)),
        Case("created-201", path="/score?kind=created", compare=("Location",)),
        Case("status-code-set", path="/score?kind=teapot"),
        Case("run-raises", path="/score?kind=raise"),
        Case("get-json", path="/score?kind=json", json={"a": [1, 2]}),
        Case("get-json-bad", path="/score?kind=json", data=b"{oops", headers=JSON),
        Case("get-json-silent-bad", path="/score?kind=json-silent", data=b"{oops", headers=JSON),
        Case("text", path="/score?kind=text", data="grüße".encode(), headers={"Content-Type": "text/plain"}),
        Case("dict-return", data=b"12345", headers={"Content-Type": "application/octet-stream"}),
        Case("put-405", method="PUT", data=b"x"),
    ],
}

#: azmlinfsrv's body whenever run() raised (or the script failed on its input): nothing about what went wrong
AZ_UNEXPECTED = b'{"message": "An unexpected error occurred in scoring script. Check the logs for more info."}'
#: why our error bodies differ: one shape for every error, saying what went wrong and what to send instead
OUR_ERRORS = ("our error bodies are {'error': {'code', 'message', 'request_id', ...}}: the code names the error, "
              "the message says what was wrong and what to send instead, the request id finds the log lines")
#: why a str body is text/plain here: azmlinfsrv's AMLResponse is a Flask Response (default text/html)
TEXT_PLAIN = ("a str body (AMLResponse('...') or the liveness 'Healthy') is text/plain here, as werkzeug's Response "
              "sends it; azmlinfsrv's AMLResponse is a Flask Response, whose default is text/html, so a browser "
              "would render a script's text (which may echo its input) as HTML; set Content-Type for text/html")
BAD_INPUT_IS_4XX = ("bad input is the client's error: a body that is not JSON (sent as application/json), or that "
                    "does not match the schema, gets a 4xx saying what is wrong before run() is called; azmlinfsrv "
                    "lets run() or inference-schema fail on it and answers 500")


def error_body(code: str, *phrases: str) -> Callable[[bytes], bool]:
    """A check of our error body: ``{"error": {"code": code, "message": ...each phrase...}}``."""
    def check(body: bytes) -> bool:
        error = json.loads(body)["error"]
        return error["code"] == code and all(p in error["message"] for p in phrases) and bool(error["request_id"])
    check.__name__ = f"error_body({code!r}, {', '.join(map(repr, phrases))})"
    return check


#: (script, case) -> (why the answers differ, ``{field: (azmlinfsrv's value, ours: a value or a check)}``);
#: every field not named must be equal
DIFFERENCES: dict[tuple[str, str], tuple[str, dict[str, tuple[Any, Any]]]] = {
    **{(script, case): (OUR_ERRORS, {"body": (AZ_UNEXPECTED, error_body("RunFailed", *phrases))}) for script, case, phrases in (
        ("plain.py", "run-raises", ("run() raised ValueError: asked to fail: on purpose",)),
        ("plain.py", "get-score", ("run() raised KeyError",)),  # GET /score calls run() with an empty body
        ("schema.py", "run-raises", ("run() raised ValueError: scale must not be negative",)),
        ("raw.py", "run-raises", ("run() raised RuntimeError: run() failed on purpose",)),
    )},
    ("plain.py", "bad-json"): (BAD_INPUT_IS_4XX, {
        "status": (500, 400), "body": (AZ_UNEXPECTED, error_body("InvalidJSON", "Invalid JSON at line 1 column 2"))}),
    ("raw.py", "get-json-bad"): (BAD_INPUT_IS_4XX + " (request.get_json() raises werkzeug's BadRequest: 400)", {
        "status": (500, 400), "body": (AZ_UNEXPECTED, error_body("InvalidJSON", "Invalid JSON at line 1 column 2"))}),
    ("schema.py", "wrong-type"): (BAD_INPUT_IS_4XX, {
        "status": (500, 422), "body": (AZ_UNEXPECTED, error_body("SchemaValidation", "Parameter 'data' does not match"))}),
    ("schema.py", "missing-key"): (OUR_ERRORS, {
        "body": (b'{"message": "A value is not provided for the \'data\' parameter."}',
                 error_body("SchemaValidation", "Missing parameter 'data'", 'Send a body like {"data": [[1.0, 2.0, 3.0]]'))}),
    ("schema.py", "get-score"): (OUR_ERRORS + " (GET /score of a schema script: run() gets no parameters)", {
        "body": (b'{"message": "A value is not provided for the \'data\' parameter."}',
                 error_body("SchemaValidation", "Missing parameter 'data'"))}),
    ("schema.py", "bad-json"): (OUR_ERRORS, {
        "body": (b'{"message": "POST body could not be decoded as JSON: Expecting \',\' delimiter: line 1 column 6 (char 5)"}',
                 error_body("InvalidJSON", "Invalid JSON at line 1 column 6: Expecting ',' delimiter"))}),
    ("plain.py", "not-found"): (OUR_ERRORS + " (here: the routes there are)", {
        "body": ((b'{"message": "The requested URL was not found on the server. If you entered the URL manually please '
                  b'check your spelling and try again."}'), error_body("NotFound", "No route /nothing-here", "GET /score"))}),
    **{(script, case): (TEXT_PLAIN, {"content_type": ("text/html; charset=utf-8", "text/plain; charset=utf-8")})
       for script, case in (("plain.py", "liveness"), ("raw.py", "get-status-404"), ("raw.py", "get-status-202"),
                            ("raw.py", "response-headers"), ("raw.py", "status-code-set"), ("raw.py", "text"))},
    ("raw.py", "put-405"): (
        ("a @rawhttp run() here gets every method (PUT, DELETE, PATCH, ...), so a script can serve them; azmlinfsrv's "
         "/score route takes only GET and POST and answers any other method with Flask's 405 before run() is called "
         "(the status is the same here only because this script answers 405 itself)"),
        {"content_type": ("application/json", "text/plain; charset=utf-8"),
         "body": (b'{"message": "The method is not allowed for the requested URL."}', b"PUT is not allowed")}),
}


def azmlinfsrv_python() -> Path:
    """azmlinfsrv's virtualenv (numpy pinned to ours, so schema scripts see the same arrays)."""
    return peer_python(f"azmlinfsrv-{AZMLINFSRV.split('==')[1]}", [AZMLINFSRV, f"numpy=={version('numpy')}"],
                       skip_outside_ci=False)


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path


def _start(name: str, argv: list[str], cwd: Path, env: dict[str, str], port: int) -> Server:
    log = cwd / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, port, proc, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=5)
            return server
        except requests.RequestException:  # not listening yet
            time.sleep(0.2)
    _stop(server)
    pytest.fail(f"{name} did not answer GET / within {START_TIMEOUT_S} s (exit code {proc.returncode}):\n"
                f"{log.read_text(errors='replace')[-4000:]}")


def _stop(server: Server) -> None:
    """SIGTERM (both servers stop their workers on it), then SIGKILL whatever is left of its process group."""
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Server]]]:
    """For each script: azmlinfsrv and ``mldeploy serve`` serving it, both started with azmlinfsrv's flags."""
    python = azmlinfsrv_python()
    started: dict[str, dict[str, Server]] = {}
    base_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "AZUREML_MODEL_DIR")}
    try:
        for script in CASES:
            work = tmp_path_factory.mktemp(script.removesuffix(".py"))
            models = work / "models"
            models.mkdir()
            flags = ["--entry_script", str(HERE / script), "--model_dir", str(models), "--worker_count", "1"]
            pair = started[script] = {}  # stopped in the end even when its second server fails to start
            port = free_port()
            pair["azmlinfsrv"] = _start("azmlinfsrv", [str(python), str(HERE / "azmlinfsrv_loopback.py"), *flags,
                                                        "--port", str(port)], work, base_env, port)
            port = free_port()
            pair["mldeploy"] = _start("mldeploy", [MLDEPLOY, "serve", *flags, "--port", str(port)], work,
                                      {**base_env, "MLDEPLOY_HOME": str(work / "home")}, port)
        yield started
    finally:
        for pair in started.values():
            for server in pair.values():
                _stop(server)


def _answer(response: requests.Response, case: Case) -> dict[str, Any]:
    """What a client compares: the status, the content type, the body (bytes), and the headers ``case`` names."""
    return {"status": response.status_code, "content_type": response.headers.get("Content-Type"),
            "body": response.content, **{f"header {name}": response.headers.get(name) for name in case.compare}}


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("script", "case"), [(s, c) for s, cases in CASES.items() for c in cases],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_same_status_content_type_and_body(servers: dict[str, dict[str, Server]], script: str, case: Case) -> None:
    pair = servers[script]
    theirs = _answer(case.send(pair["azmlinfsrv"].port), case)
    ours = _answer(case.send(pair["mldeploy"].port), case)
    why, expected = DIFFERENCES.get((script, case.name), ("", {}))
    for key in theirs:
        if key in expected:
            want_theirs, want_ours = expected[key]
            assert theirs[key] == want_theirs, f"{script} {case.name}: azmlinfsrv's {key} is no longer the documented one"
            if callable(want_ours):
                assert want_ours(ours[key]), f"{script} {case.name}: our {key} {ours[key]!r} fails {want_ours.__name__}"
            else:
                assert ours[key] == want_ours, f"{script} {case.name}: {why}"
        else:
            assert theirs[key] == ours[key], f"{script} {case.name}: {key} differs (azmlinfsrv, ours)"


def test_every_documented_difference_is_a_request_sent() -> None:
    sent = {(script, case.name) for script, cases in CASES.items() for case in cases}
    assert set(DIFFERENCES) <= sent, sorted(set(DIFFERENCES) - sent)
    assert len(sent) == sum(len(cases) for cases in CASES.values()), "two cases of one script share a name"


def test_a_peer_that_cannot_install_fails_the_test_saying_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never a skip: a requirement uv refuses (here one that does not parse, so no index is asked) fails clearly."""
    monkeypatch.setenv("MLDEPLOY_TEST_CLIENTS", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match=r"cannot install not a requirement!! into a virtualenv"):
        peer_python("broken-peer", ["not a requirement!!"], skip_outside_ci=False)
    assert not (tmp_path / "broken-peer").exists(), "a failed build leaves nothing behind"
