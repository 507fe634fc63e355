"""ScoringServer (start/stop/wait_ready/urls/logs) and ScoringClient against a real server."""

from __future__ import annotations

import json

import pytest
from test_server_support import script, serve

from jupyter_mldeploy.errors import (
    InvalidArgumentError,
    PortInUseError,
    ScoringRequestError,
    ServerStartError,
)
from jupyter_mldeploy.client.client import ScoringClient
from jupyter_mldeploy.client.server import ScoringServer

__all__ = ["serve"]


def test_server_urls_port_logs_and_context_manager():
    server = ScoringServer(script("plain_json"), port=0)
    assert server.port is None
    server.start()
    try:
        assert server.port and server.port > 0  # known right after start(), before init() ran
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.scoring_uri == server.url + "/score"
        assert server.swagger_uri == server.url + "/swagger.json"
        server.wait_ready(timeout=60)
        assert server.is_running()
        assert "listening on http://127.0.0.1:" in server.logs()
        assert "plain_json" in repr(server)
    finally:
        assert server.stop() == 0
    assert not server.is_running()

    with ScoringServer(script("plain_json"), port=0) as ctx, ctx.client() as client:
        assert client.score({"data": [[1, 2, 3]]}) == {"predictions": [14.5]}
    assert not ctx.is_running()


def test_client_score_request_swagger_and_errors(serve):
    server = serve("rawhttp_bytes")
    with ScoringClient(server.scoring_uri, timeout=30) as client:  # a /score URL works as base too
        assert client.health() and client.ready()
        client.wait_ready(timeout=5)
        assert client.score(b"\x01\x02") == b"\x01\x02"
        response = client.request("GET", "/score?x=1")
        assert response.status == 200 and response.json()["args"] == {"x": "1"}
        assert response.latency_ms > 0 and response.request_id
        assert client.swagger()["swagger"] == "2.0"
        assert client.swagger(3)["openapi"].startswith("3")
        assert "mldeploy_requests_total" in client.metrics()

    plain = serve("plain_json")
    with plain.client() as client:
        assert client.score(json.dumps({"data": [[0, 0, 1]]})) == {"predictions": [3.5]}
        with pytest.raises(ScoringRequestError) as info:
            client.score("{broken")
        assert info.value.status == 400
        assert info.value.body["error"]["code"] == "InvalidJSON"
        assert "400" in str(info.value) and "InvalidJSON" in str(info.value)


def test_client_errors_say_what_to_do():
    with pytest.raises(InvalidArgumentError, match="http://127.0.0.1:5001"):
        ScoringClient("ftp://x")
    with ScoringClient("http://127.0.0.1:9", timeout=2) as client:  # nothing listens on port 9
        assert not client.health()
        with pytest.raises(ScoringRequestError, match="cannot reach the scoring server"):
            client.score({"a": 1})
        with pytest.raises(ServerStartError, match="not ready after"):
            client.wait_ready(timeout=0.2)


def test_port_in_use_and_exiting_process_are_clear_errors(serve, tmp_path):
    first = serve("plain_json")
    with pytest.raises(PortInUseError, match="--port 0"):
        ScoringServer(script("plain_json"), port=first.port).start()
    missing = ScoringServer(tmp_path / "nope.py", port=0, python=str(tmp_path / "no-python"))
    with pytest.raises(ServerStartError, match="python="):
        missing.start()
