"""A script whose import or init() fails: 503 with the traceback at once, never a fake 'healthy'."""

from __future__ import annotations

import time

import pytest
from test_server_support import post, serve, wait_for_log

from jupyter_mldeploy.errors import InitError

__all__ = ["serve"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("init_raises", "model weights not found"),
        ("init_import_error", "No module named"),
        ("syntax_error", "SyntaxError"),
    ],
)
def test_failed_init_answers_503_with_the_traceback(serve, name, expected, tmp_path):
    (tmp_path / "model.bin").write_bytes(b"1234")
    server = serve(name, wait=False, model_dir=tmp_path)
    with pytest.raises(InitError) as info:
        server.wait_ready(timeout=60)
    assert expected in str(info.value) + info.value.traceback_text

    # the process is alive (it answers), but no route may call a failed script healthy
    live = post(server, None, method="GET", path="/")
    assert live.status == 503 and live.error["code"] == "InitFailed" and expected in live.error["message"] + (
        live.error.get("traceback") or "")
    ready = post(server, None, method="GET", path="/ready")
    assert ready.status == 503
    assert ready.error["code"] == "InitFailed"
    assert expected in ready.error["message"] + ready.error["traceback"]
    score = post(server, '{"data": [[1]]}')
    assert score.status == 503 and score.error["code"] == "InitFailed"
    assert post(server, None, method="GET", path="/swagger.json").status == 503

    log = wait_for_log(server, lambda t: "failed to load or init()" in t and "model folder" in t)
    assert expected in log
    assert "model.bin (4 bytes)" in log  # the listing of the model folder


def test_init_error_is_reported_within_a_second_of_the_server_answering(serve):
    server = serve("init_raises", wait=False)
    started = time.monotonic()
    with pytest.raises(InitError):
        server.wait_ready(timeout=60)
    # wait_ready raises as soon as /ready says InitFailed, not after its timeout
    assert time.monotonic() - started < 60
