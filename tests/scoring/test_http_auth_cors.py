"""Auth keys (Bearer, constant-time) and CORS, off by default, on a real server."""

from __future__ import annotations

import json

import pytest
from test_server_support import post, serve

from jupyter_mldeploy.errors import ScoringRequestError
from jupyter_mldeploy.client.client import ScoringClient

__all__ = ["serve"]

BODY = json.dumps({"data": [[1, 2, 3]]})


def test_auth_off_by_default_and_cors_off_by_default(serve):
    server = serve("plain_json")
    answer = post(server, BODY, {"Origin": "http://evil.example"})
    assert answer.status == 200
    assert "access-control-allow-origin" not in answer.headers
    preflight = post(server, None, {"Origin": "http://a.example", "Access-Control-Request-Method": "POST"},
                     method="OPTIONS")
    assert "access-control-allow-origin" not in preflight.headers


def test_auth_keys_guard_score_and_swagger_but_not_health(serve):
    server = serve("plain_json", auth_keys=["key-one-aaaa", "key-two-bbbb"])
    missing = post(server, BODY)
    assert missing.status == 401
    assert missing.error["code"] == "Unauthorized"
    assert "Authorization: Bearer <key>" in missing.error["message"]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert post(server, BODY, {"Authorization": "Bearer wrong"}).status == 401
    assert post(server, BODY, {"Authorization": "Bearer key-one"}).status == 401  # a prefix is not the key
    assert post(server, BODY, {"Authorization": "key-one-aaaa"}).status == 401  # scheme required
    assert post(server, BODY, {"Authorization": "Bearer key-one-aaaa"}).status == 200
    assert post(server, BODY, {"Authorization": "bearer key-two-bbbb"}).status == 200
    assert post(server, None, method="GET", path="/swagger.json").status == 401
    assert post(server, None, {"Authorization": "Bearer key-two-bbbb"}, method="GET", path="/swagger.json").status == 200
    for path in ("/", "/ready", "/metrics"):
        assert post(server, None, method="GET", path=path).status == 200, path

    with server.client() as client:  # carries the first key
        assert client.score(BODY) == {"predictions": [14.5]}
    with ScoringClient(server.url, auth_key="nope") as wrong, pytest.raises(ScoringRequestError) as info:
        wrong.score(BODY)
    assert info.value.status == 401 and "Bearer" in str(info.value)
    assert info.value.body["error"]["code"] == "Unauthorized"


def test_metrics_auth_asks_metrics_for_a_key_and_leaves_health_open(serve):
    server = serve("plain_json", auth_keys=["key-one-aaaa"], metrics_auth=True)
    post(server, BODY, {"Authorization": "Bearer key-one-aaaa"})
    missing = post(server, None, method="GET", path="/metrics")
    assert missing.status == 401 and missing.error["code"] == "Unauthorized"
    assert post(server, None, {"Authorization": "Bearer wrong-key-1"}, method="GET", path="/metrics").status == 401
    scraped = post(server, None, {"Authorization": "Bearer key-one-aaaa"}, method="GET", path="/metrics")
    assert scraped.status == 200
    assert "mldeploy_requests_total" in scraped.body.decode()
    for path in ("/", "/ready"):
        assert post(server, None, method="GET", path=path).status == 200, path
    # the server keeps serving after the refused scrapes
    assert post(server, BODY, {"Authorization": "Bearer key-one-aaaa"}).status == 200


def test_metrics_auth_without_a_key_is_refused_with_what_to_do():
    from jupyter_mldeploy.errors import InvalidArgumentError
    from jupyter_mldeploy.scoring.options import settings_from_env
    from jupyter_mldeploy.scoring.settings import ServeSettings

    with pytest.raises(InvalidArgumentError, match="--auth-key"):
        ServeSettings(entry_script="score.py", metrics_auth=True)
    read = settings_from_env({"MLDEPLOY_METRICS_AUTH": "1", "MLDEPLOY_AUTH_KEYS": "key-one-aaaa"},
                             entry_script="score.py")
    assert read.metrics_auth is True
    assert read.to_env()["MLDEPLOY_METRICS_AUTH"] == "1"
    assert "MLDEPLOY_METRICS_AUTH" not in ServeSettings(entry_script="score.py").to_env()


def test_cors_with_listed_origins(serve):
    server = serve("plain_json", cors_origins=["http://app.example"])
    preflight = post(server, None, {"Origin": "http://app.example", "Access-Control-Request-Method": "POST",
                                    "Access-Control-Request-Headers": "content-type"}, method="OPTIONS")
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "http://app.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "content-type" in preflight.headers["access-control-allow-headers"]

    answer = post(server, BODY, {"Origin": "http://app.example"})
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == "http://app.example"
    assert "x-request-id" in answer.headers["access-control-expose-headers"]

    other = post(server, BODY, {"Origin": "http://other.example"})
    assert other.status == 200 and "access-control-allow-origin" not in other.headers


def test_cors_any_origin_and_auth_together(serve):
    server = serve("plain_json", cors_origins=["*"], auth_keys=["k-long-enough"])
    # a preflight never carries credentials: it must pass without the key
    preflight = post(server, None, {"Origin": "http://x.example", "Access-Control-Request-Method": "POST"},
                     method="OPTIONS")
    assert preflight.status == 204 and preflight.headers["access-control-allow-origin"] == "*"
    denied = post(server, BODY, {"Origin": "http://x.example"})
    assert denied.status == 401 and denied.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("key", ["my key with spaces", "a,b-cdefgh", "short", ""])
def test_keys_that_would_split_or_are_too_short_are_refused(key):
    from jupyter_mldeploy.errors import InvalidArgumentError
    from jupyter_mldeploy.scoring.settings import ServeSettings

    with pytest.raises(InvalidArgumentError, match="no spaces or commas"):
        ServeSettings(entry_script="score.py", auth_keys=(key,))
