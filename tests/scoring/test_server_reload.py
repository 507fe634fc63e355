"""--reload: an edited script or source file is reloaded; a broken one keeps the old version serving."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from test_server_support import metric, post, serve, wait_until

from jupyter_mldeploy.client.client import ScoringClient

__all__ = ["serve"]

SCRIPT = '''
import json
import time
from helper import OFFSET

VALUE = {value}
model = None


def init():
    global model
    {init_line}
    model = VALUE + OFFSET


def run(raw_data):
    time.sleep(float(json.loads(raw_data).get("sleep", 0)))
    return {{"value": model}}
'''


def write(path: Path, text: str) -> None:
    path.write_text(text)
    # make sure the change is visible to an mtime check even on coarse file systems
    later = time.time() + 1
    os.utime(path, (later, later))


def version(path: Path, value: int, init_line: str = "pass") -> None:
    write(path, SCRIPT.format(value=value, init_line=init_line))


def value_of(server) -> object:
    answer = post(server, json.dumps({}))
    return answer.json().get("value") if answer.status == 200 else answer.status


def test_reload_on_edit_keeps_old_version_when_the_new_one_fails(serve, tmp_path):
    script = tmp_path / "score.py"
    write(tmp_path / "helper.py", "OFFSET = 0\n")
    version(script, 1)
    server = serve(script, reload=True)
    assert value_of(server) == 1

    version(script, 2)
    wait_until(lambda: value_of(server) == 2, what="reloaded value 2")

    # a change in a neighbour module reloads too
    write(tmp_path / "helper.py", "OFFSET = 100\n")
    wait_until(lambda: value_of(server) == 102, what="helper change picked up")

    # syntax error: keep serving 102, report the error in /ready and /metrics
    write(script, "def run(raw_data):\n    return (\n")
    wait_until(lambda: "reload_error" in post(server, None, method="GET", path="/ready").json(),
               what="reload error shown")
    ready = post(server, None, method="GET", path="/ready")
    assert ready.status == 200
    assert "syntax error" in ready.json()["reload_error"]["message"]
    assert value_of(server) == 102

    # init() raising: still the old version
    version(script, 3, init_line='raise RuntimeError("bad weights")')
    wait_until(lambda: "bad weights" in json.dumps(post(server, None, method="GET", path="/ready").json()),
               what="init failure reported")
    assert value_of(server) == 102
    with ScoringClient(server.url) as client:
        text = client.metrics()
    assert metric(text, "mldeploy_reload_failures_total") >= 2
    assert "reload failed, still serving the previous version" in server.logs()

    version(script, 4)
    wait_until(lambda: value_of(server) == 104, what="fixed version served")
    assert "reload_error" not in post(server, None, method="GET", path="/ready").json()


def test_reload_does_not_drop_a_request_in_flight(serve, tmp_path):
    script = tmp_path / "score.py"
    write(tmp_path / "helper.py", "OFFSET = 0\n")
    version(script, 1)
    server = serve(script, reload=True)
    result: dict[str, object] = {}

    def slow() -> None:
        answer = post(server, json.dumps({"sleep": 1.5}))
        result["status"], result["value"] = answer.status, answer.json().get("value")

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.2)  # let the slow request start on version 1
    version(script, 2)
    thread.join(timeout=30)
    assert result == {"status": 200, "value": 1}  # finished on the script it started with
    wait_until(lambda: value_of(server) == 2, what="reloaded")


def test_a_failed_first_init_is_fixed_by_saving_the_script(serve, tmp_path):
    script = tmp_path / "score.py"
    write(tmp_path / "helper.py", "OFFSET = 0\n")
    version(script, 1, init_line='raise RuntimeError("not yet")')
    server = serve(script, reload=True, wait=False)
    wait_until(lambda: post(server, None, method="GET", path="/ready").status == 503, what="503 InitFailed")
    version(script, 5)
    wait_until(lambda: post(server, None, method="GET", path="/ready").status == 200, what="ready after fix")
    assert value_of(server) == 5
