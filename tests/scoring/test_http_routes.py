"""Routes, headers, status codes and error bodies of a real scoring server on an ephemeral port."""

from __future__ import annotations

import json

import pytest
from test_server_support import body_json, post, raw_request, serve, wait_for_log

__all__ = ["serve"]


def test_liveness_readiness_and_score_with_request_id_headers(serve):
    server = serve("plain_json")
    status, _, body = raw_request(server, "GET", "/")
    assert (status, body) == (200, b"Healthy")
    ready = post(server, None, method="GET", path="/ready")
    assert ready.status == 200 and body_json(ready)["status"] == "Ready"

    answer = post(server, json.dumps({"data": [[1, 2, 3]]}), {"x-request-id": "my-req-42"})
    assert answer.status == 200
    assert body_json(answer) == {"predictions": [14.5]}
    assert answer.headers["x-request-id"] == "my-req-42"
    assert answer.headers["x-ms-request-id"] == "my-req-42"
    assert float(answer.headers["x-ms-run-fn-exec-ms"]) >= 0
    assert answer.headers["content-type"].startswith("application/json")

    generated = post(server, json.dumps({"data": [[0, 0, 0]]}))
    assert len(generated.headers["x-request-id"]) == 36  # a uuid4
    # a header value that is not a sane id is replaced, not echoed
    weird = post(server, json.dumps({"data": [[0, 0, 0]]}), {"x-request-id": "a b<script>"})
    assert weird.headers["x-request-id"] != "a b<script>"


def test_unknown_route_and_wrong_methods_answer_json_errors(serve):
    server = serve("plain_json")
    missing = post(server, None, method="GET", path="/nope")
    assert missing.status == 404
    assert missing.error["code"] == "NotFound" and "/score" in missing.error["message"]

    put = post(server, "{}", method="PUT")
    assert put.status == 405
    assert put.error["code"] == "MethodNotAllowed"
    assert "PUT" in put.error["message"] and "POST" in put.error["message"]
    assert "POST" in put.headers["allow"]
    assert put.error["request_id"] == put.headers["x-request-id"]

    options = post(server, None, method="OPTIONS")
    assert options.status == 200 and "POST" in options.headers["allow"]

    post_root = post(server, "{}", path="/")
    assert post_root.status == 405 and post_root.error["code"] == "MethodNotAllowed"


def test_body_over_the_limit_answers_413_and_server_stays_ready(serve):
    server = serve("plain_json", max_body_mb=0.01)  # about 10 kB
    big = json.dumps({"data": [[1.0, 2.0, 3.0]] * 2000})
    answer = post(server, big)
    assert answer.status == 413
    assert answer.error["code"] == "PayloadTooLarge"
    assert "--max-body-mb" in answer.error["message"] and "0.01 MB" in answer.error["message"]

    # without Content-Length (chunked), reading stops at the limit
    status, _, body = raw_request(server, "POST", "/score", big.encode() * 20,
                                  {"Content-Type": "application/json"}, chunked=True)
    assert status == 413 and json.loads(body)["error"]["code"] == "PayloadTooLarge"

    small = post(server, json.dumps({"data": [[1, 1, 1]]}))
    assert small.status == 200


BAD_REQUESTS = [
    (b"{not json", "application/json", 400, "InvalidJSON"),
    (b"\xff\xfe\xfa", "application/json", 400, "NotUTF8"),
    (b"", "application/json", 400, "EmptyBody"),
    (b"[1, 2", "application/json", 400, "InvalidJSON"),
]


def test_bad_input_gets_json_errors_and_never_wedges_the_server(serve):
    server = serve("plain_json")
    for body, content_type, status, code in BAD_REQUESTS:
        answer = post(server, body, {"Content-Type": content_type})
        assert answer.status == status, (body, answer.text)
        assert answer.error["code"] == code
        assert answer.error["request_id"] == answer.headers["x-request-id"]
        assert post(server, None, method="GET", path="/ready").status == 200
    # raw garbage on the socket: uvicorn answers 400, the server keeps serving
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"BLAH /score HTTP/9.9\r\n\r\n\x00\x01\x02\r\n\r\n")
        reply = sock.recv(1000)
    assert reply.startswith(b"HTTP/1.1 400")
    assert post(server, json.dumps({"data": [[1, 2, 3]]})).status == 200


def test_run_raising_answers_500_and_logs_the_traceback_with_the_request_id(serve):
    server = serve("http_run_raises")
    answer = post(server, json.dumps({"fail": True, "why": "because"}), {"x-request-id": "fail-req-7"})
    assert answer.status == 500
    assert answer.error["code"] == "RunFailed"
    assert "ValueError" in answer.error["message"] and "asked to fail: because" in answer.error["message"]
    log = wait_for_log(server, lambda t: "fail-req-7" in t and "Traceback" in t and "access POST" in t)
    tb_lines = [line for line in log.splitlines() if "fail-req-7" in line]
    assert any("ValueError" in line or "run() raised" in line for line in tb_lines)
    assert 'raise ValueError("asked to fail' in log
    assert post(server, json.dumps({"fail": False})).status == 200


def test_get_score_rawhttp_bytes_and_request_headers(serve):
    raw = serve("rawhttp_bytes")
    echoed = post(raw, b"\x00\x01binary\xff", {"Content-Type": "application/octet-stream"})
    assert echoed.status == 200 and echoed.body == b"\x00\x01binary\xff"
    assert echoed.headers["x-echo-length"] == "9"
    got = post(raw, None, method="GET", path="/score?a=1&b=two")
    assert got.status == 200
    assert body_json(got)["method"] == "GET" and body_json(got)["args"] == {"a": "1", "b": "two"}

    plain = serve("plain_json")
    query = post(plain, None, method="GET", path="/score?data=[[1,1,1]]")
    assert query.status in (200, 400)  # GET maps the query to a JSON object; the script decides
    assert query.headers["x-request-id"]

    headers = serve("headers")
    seen = post(headers, json.dumps({"x": 1}), {"X-Custom-Header": "hello"})
    assert seen.status == 200
    assert body_json(seen)["custom"] == "hello"


@pytest.mark.parametrize("name", ["schema_numpy", "schema_pandas", "schema_standard"])
def test_schema_scripts_serve_swagger_and_typed_input(serve, name):
    server = serve(name)
    for version, key in ((2, "swagger"), (3, "openapi")):
        answer = post(server, None, method="GET", path="/swagger.json" + ("?version=3" if version == 3 else ""))
        assert answer.status == 200
        doc = body_json(answer)
        assert key in doc and "/score" in json.dumps(doc["paths"])
    v31 = body_json(post(server, None, method="GET", path="/swagger.json?version=3.1"))
    assert v31["openapi"].startswith("3.1")
    unknown = post(server, None, method="GET", path="/swagger.json?version=7")
    assert unknown.status == 404
    assert "version=2" in unknown.error["message"] and "version=3" in unknown.error["message"]
    assert post(server, None, method="GET", path="/ready").status == 200  # still serving
    bad = post(server, json.dumps({"nope": 1}))
    assert 400 <= bad.status < 500
    assert bad.error["code"] in ("SchemaValidation", "InvalidJSON")


def test_several_models_through_get_model_path(serve, tmp_path):
    from entry_helpers import MULTI_MODEL_LAYOUT, write_azure_models

    models = write_azure_models(tmp_path / "azureml-models", MULTI_MODEL_LAYOUT)
    server = serve("multi_model", model_dir=models)
    answer = post(server, json.dumps({"data": [[1, 1]]}))
    assert answer.status == 200, answer.text
    result = body_json(answer)
    assert result["predictions"] == [13.5]
    assert result["paths"]["linear"].endswith("linear/2/model.json")


def test_streaming_answer_arrives_in_chunks(serve):
    server = serve("streaming")
    answer = post(server, json.dumps({"chunks": 4}))
    assert answer.status == 200
    lines = [json.loads(line) for line in answer.text.splitlines() if line.strip()]
    assert lines == [{"chunk": i} for i in range(4)]
    assert "content-length" not in answer.headers  # streamed (chunked transfer)
    broken = post(server, json.dumps({"chunks": 4, "fail_at": 2}))
    assert broken.status == 200
    parts = broken.text.splitlines()
    assert json.loads(parts[0]) == {"chunk": 0}
    assert "stream broke at chunk 2" in broken.text
    assert post(server, None, method="GET", path="/ready").status == 200


def test_run_may_use_asyncio_run_itself(serve):
    server = serve("http_asyncio_run")
    for _ in range(3):
        answer = post(server, json.dumps({"data": [1, 2]}))
        assert answer.status == 200, answer.text
        assert body_json(answer) == {"doubled": [2, 4]}


def test_header_http_cannot_carry_is_a_json_500_and_the_server_goes_on(serve):
    server = serve("http_bad_header")
    answer = post(server, None, method="GET", path="/score")
    assert answer.status == 500
    assert answer.error["code"] == "RunFailed"
    assert "Latin-1" in answer.error["message"]
    fine = post(server, None, method="GET", path="/score?ok=1")
    assert fine.status == 200 and fine.headers["x-note"] == "plain"
