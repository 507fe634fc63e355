"""POST /-/reload: a code swap across every worker of a real server, and its clear errors."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from pathlib import Path

from test_server_reload import version, write
from test_server_support import children, post, serve, wait_for_log, wait_until

from jupyter_mldeploy.scoring.keys import write_keys_file

__all__ = ["serve"]

KEY = "control-key-for-tests-0123456789"


def _server(serve, tmp_path: Path, workers: int = 2):
    script = tmp_path / "score.py"
    write(tmp_path / "helper.py", "OFFSET = 0\n")
    version(script, 1)
    keys = write_keys_file([KEY], tmp_path / "keys" / "control")
    return script, serve(script, workers=workers, control_key_file=keys)


def _values(server, count: int = 20) -> set[object]:
    return {post(server, "{}").json()["value"] for _ in range(count)}


def _swap(server, body: str = "", key: str = KEY):
    return post(server, body, {"Authorization": f"Bearer {key}"}, path="/-/reload")


def test_a_swap_reaches_every_worker_and_a_failed_one_changes_nothing(serve, tmp_path: Path) -> None:
    script, server = _server(serve, tmp_path)
    assert not (tmp_path / "keys" / "control").exists()  # read, then deleted, before the script ran
    assert _values(server) == {1}
    version(script, 2)
    answer = _swap(server)
    assert answer.status == 200, answer.body
    assert answer.json()["status"] == "Swapped" and answer.json()["workers"] == 2
    assert _values(server) == {2}  # no worker still serves version 1

    version(script, 3, init_line='raise RuntimeError("bad weights")')
    failed = _swap(server)
    assert failed.status == 500
    error = failed.json()["error"]
    assert error["code"] == "InitFailed" and "bad weights" in error["message"]
    assert "the previous version keeps serving" in error["message"]
    assert "RuntimeError: bad weights" in error["traceback"]
    assert _values(server) == {2}
    assert "reload_error" in post(server, None, method="GET", path="/ready").json()

    version(script, 4)
    assert _swap(server).status == 200
    assert _values(server) == {4}
    assert "reload_error" not in post(server, None, method="GET", path="/ready").json()


def test_bad_swap_requests_get_clear_errors_and_the_server_keeps_serving(serve, tmp_path: Path) -> None:
    _, server = _server(serve, tmp_path, workers=1)
    unauthorized = _swap(server, key="wrong-key-0123456789")
    assert unauthorized.status == 401 and "control key" in unauthorized.json()["error"]["message"]
    assert post(server, "", path="/-/reload").status == 401  # no key at all
    wrong_method = post(server, None, {"Authorization": f"Bearer {KEY}"}, path="/-/reload", method="GET")
    assert wrong_method.status == 405 and wrong_method.headers["allow"] == "POST"
    bad = _swap(server, "[1, 2]")
    assert bad.status == 400 and "JSON object" in bad.json()["error"]["message"]
    missing = _swap(server, json.dumps({"entry_script": str(tmp_path / "nope.py")}))
    assert missing.status == 500 and "nope.py" in missing.json()["error"]["message"]
    assert _values(server, 5) == {1}


def test_no_control_key_no_route(serve, tmp_path: Path) -> None:
    script = tmp_path / "score.py"
    write(tmp_path / "helper.py", "OFFSET = 0\n")
    version(script, 1)
    server = serve(script)
    answer = _swap(server)
    assert answer.status == 404 and "without a control key" in answer.json()["error"]["message"]
    assert _values(server, 3) == {1}


def test_a_swap_with_site_dirs_adds_packages_for_every_worker_even_a_replacement(serve, tmp_path: Path) -> None:
    """An environment that only adds packages: their folder goes on ``sys.path`` (``.pth`` files run) in the swap."""
    script, server = _server(serve, tmp_path)
    site = tmp_path / "added-site"
    (site / "extra_pkg").mkdir(parents=True)
    (site / "extra_pkg" / "__init__.py").write_text("VALUE = 'from the added environment'\n")
    (site / "more").mkdir()
    (site / "more" / "deep_mod.py").write_text("X = 7\n")
    (site / "added.pth").write_text("more\n")  # a .pth file of the folder is honoured, as in site-packages
    write(script, textwrap.dedent("""
        import extra_pkg, deep_mod

        def init():
            pass

        def run(raw_data):
            return {"value": extra_pkg.VALUE, "x": deep_mod.X}
    """))
    missing = _swap(server, json.dumps({"site_dirs": [str(tmp_path / "not-there")]}))
    assert missing.status == 409 and "not-there" in missing.json()["error"]["message"]
    bad = _swap(server, json.dumps({"site_dirs": "one/folder"}))
    assert bad.status == 400 and "site_dirs" in bad.json()["error"]["message"]
    assert _values(server, 5) == {1}  # neither changed anything

    answer = _swap(server, json.dumps({"site_dirs": [str(site)]}))
    assert answer.status == 200, answer.body
    assert {post(server, "{}").json()["x"] for _ in range(10)} == {7}  # both workers import from it
    assert post(server, "{}").json()["value"] == "from the added environment"

    victims = children(server.pid)
    os.kill(victims[0], signal.SIGKILL)  # its replacement starts on the swapped-in version, packages included
    wait_until(lambda: len(children(server.pid)) == 2 and victims[0] not in children(server.pid),
               what="a replacement worker")
    wait_for_log(server, lambda t: "worker 3: ready" in t)
    assert {post(server, "{}").json()["x"] for _ in range(10)} == {7}
    assert "InitFailed" not in server.logs()
