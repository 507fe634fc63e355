"""The Open Inference Protocol routes of a real server: metadata from the schema, tensors both ways, errors."""

from __future__ import annotations

import json
import os
import signal
import struct

import pytest
from test_server_support import body_json, post, raw_request, serve, wait_until

__all__ = ["serve"]


def infer(server, body, path="/v2/models/m/infer", headers=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return post(server, data, headers, path=path)


def tensor(name, shape, datatype, data):
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def test_server_routes_health_and_model_metadata(serve):
    server = serve("schema_pandas", models=("houses:1", "houses:2", "other:7"))
    meta = body_json(post(server, None, method="GET", path="/v2"))
    assert meta["name"] == "jupyter-mldeploy" and "binary_tensor_data" in meta["extensions"]
    assert body_json(post(server, None, method="GET", path="/v2/health/live")) == {"live": True}
    assert body_json(post(server, None, method="GET", path="/v2/health/ready")) == {"ready": True}
    model = body_json(post(server, None, method="GET", path="/v2/models/houses"))
    assert model["name"] == "houses" and model["versions"] == ["1", "2"]
    assert model["inputs"] == [  # the DataFrame's columns, then the optional standard parameter
        {"name": "age", "datatype": "INT64", "shape": [-1]},
        {"name": "income", "datatype": "FP64", "shape": [-1]},
        {"name": "city", "datatype": "BYTES", "shape": [-1]},
        {"name": "threshold", "datatype": "FP64", "shape": [1], "parameters": {"optional": True}},
    ]
    assert model["outputs"] == [{"name": "output-0", "datatype": "FP64", "shape": [-1]}]
    assert body_json(post(server, None, method="GET", path="/v2/models/houses/versions/2"))["versions"] == ["2"]
    assert post(server, None, method="GET", path="/v2/models/other/versions/7/ready").status == 200

    answer = infer(server, {"id": "q1", "inputs": [tensor("age", [2], "INT64", [30, 50]),
                                                    tensor("income", [2], "FP64", [5000.0, 0.0]),
                                                    tensor("city", [2], "BYTES", ["Paris", "Rome"])]},
                   path="/v2/models/houses/versions/1/infer")
    assert answer.status == 200, answer.body
    result = body_json(answer)
    assert (result["id"], result["model_name"], result["model_version"]) == ("q1", "houses", "1")
    assert result["outputs"] == [{"name": "output-0", "datatype": "FP64", "shape": [2], "data": [0.35, 0.5]}]


def test_schema_parameters_by_name_and_dict_answers_as_named_outputs(serve):
    server = serve("schema_standard", models=("m",))
    model = body_json(post(server, None, method="GET", path="/v2/models/m"))
    assert model["inputs"] == [{"name": "payload", "datatype": "BYTES", "shape": [1]},
                               {"name": "label", "datatype": "BYTES", "shape": [1]}]
    assert [o["name"] for o in model["outputs"]] == ["result", "label"]
    answer = infer(server, {"inputs": [tensor("payload", [1], "BYTES", [json.dumps({"rows": [[1, 2], [3, 4]], "scale": 2.0})]),
                                       tensor("label", [1], "BYTES", ["x"])],
                            "outputs": [{"name": "result"}]})
    assert body_json(answer)["outputs"] == [{"name": "result", "datatype": "FP64", "shape": [2], "data": [6.0, 14.0]}]


def test_binary_tensors_in_and_out(serve):
    server = serve("schema_numpy", models=("m:1",))
    head = json.dumps({"inputs": [{"name": "data", "shape": [1, 4], "datatype": "FP32",
                                   "parameters": {"binary_data_size": 16}}],
                       "outputs": [{"name": "output-0", "parameters": {"binary_data": True}}]}).encode()
    body = head + struct.pack("<4f", 1, 1, 1, 1)
    status, headers, raw = raw_request(server, "POST", "/v2/models/m/infer", body,
                                       {"Inference-Header-Content-Length": str(len(head))})
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    size = int(headers["inference-header-content-length"])
    meta = json.loads(raw[:size])
    out = meta["outputs"][0]
    assert out["datatype"] == "FP64" and out["shape"] == [1] and out["parameters"]["binary_data_size"] == 8
    assert struct.unpack("<d", raw[size:]) == (10.0,)


BAD = [
    ({"inputs": [tensor("data", [2, 4], "FP64", [1, 2, 3])]}, 400, "shape [2, 4] holds 8"),
    ({"inputs": [tensor("data", [1, 4], "FP99", [1, 2, 3, 4])]}, 400, "datatype \"FP99\""),
    ({"inputs": [tensor("data", [1, 4], "INT64", [1.5, 2, 3, 4])]}, 400, "is INT64 but holds 1.5"),
    ({"inputs": [tensor("rows", [1, 4], "FP64", [1, 2, 3, 4])]}, 400, "unknown input(s) 'rows'"),
    ({"inputs": [tensor("data", [1, 3], "FP64", [1, 2, 3])]}, 400, "'data' does not match its schema"),
    ({"inputs": []}, 400, "non-empty \"inputs\""),
    (b"{not json", 400, "not valid JSON"),
    ({"inputs": [tensor("data", [1, 4], "FP64", [1, 2, 3, 4])], "outputs": [{"name": "nope"}]}, 400,
     "unknown output 'nope'"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD)
def test_bad_tensors_get_oip_errors_and_the_server_keeps_serving(serve, body, status, message):
    server = serve("schema_numpy", models=("m:1",))
    answer = infer(server, body)
    assert answer.status == status
    error = body_json(answer)
    assert list(error) == ["error"] and message in error["error"], error
    good = infer(server, {"inputs": [tensor("data", [1, 4], "FP64", [1, 1, 1, 1])]})
    assert body_json(good)["outputs"][0]["data"] == [10.0]


def test_unknown_models_versions_routes_methods_and_binary_sizes(serve):
    server = serve("plain_json", models=("ridge:3",))
    unknown = post(server, None, method="GET", path="/v2/models/lasso")
    assert unknown.status == 404 and "Unknown model 'lasso'" in body_json(unknown)["error"]
    assert "ridge (versions 3)" in body_json(unknown)["error"]
    version = post(server, None, method="GET", path="/v2/models/ridge/versions/9/ready")
    assert version.status == 404 and "no version '9'" in body_json(version)["error"]
    assert post(server, None, method="GET", path="/v2/models/ridge/explain").status == 404
    wrong = post(server, None, method="GET", path="/v2/models/ridge/infer")
    assert wrong.status == 405 and "POST" in wrong.headers["allow"]
    head = json.dumps({"inputs": [{"name": "data", "shape": [1, 3], "datatype": "FP64",
                                   "parameters": {"binary_data_size": 24}}]}).encode()
    short = raw_request(server, "POST", "/v2/models/ridge/infer", head + b"\0" * 10,
                        {"Inference-Header-Content-Length": str(len(head))})
    assert short[0] == 400 and "goes past the 10 binary byte(s)" in json.loads(short[2])["error"]
    extra = raw_request(server, "POST", "/v2/models/ridge/infer", head + b"\0" * 30,
                        {"Inference-Header-Content-Length": str(len(head))})
    assert extra[0] == 400 and "belong to no input" in json.loads(extra[2])["error"]
    two = infer(server, {"inputs": [tensor("a", [1], "FP64", [1]), tensor("b", [1], "FP64", [1])]},
                path="/v2/models/ridge/infer")
    assert two.status == 400 and "takes one input, got 2" in body_json(two)["error"]
    ok = infer(server, {"inputs": [tensor("x", [1, 3], "FP64", [1, 1, 1])]}, path="/v2/models/ridge/versions/3/infer")
    assert body_json(ok)["outputs"] == [{"name": "predictions", "datatype": "FP64", "shape": [1], "data": [6.5]}]


def test_run_errors_and_auth_as_on_score(serve):
    server = serve("negatives_fail", models=("m",), auth_keys=["key-12345678"])
    body = {"inputs": [tensor("data", [1], "FP64", [-1.0])]}
    assert infer(server, body).status == 401
    assert post(server, None, method="GET", path="/v2/models/m").status == 401
    assert post(server, None, method="GET", path="/v2/models/m/ready").status == 200  # a probe
    failed = infer(server, body, headers={"Authorization": "Bearer key-12345678"})
    assert failed.status == 500 and "ValueError: negative input" in body_json(failed)["error"]
    good = infer(server, {"inputs": [tensor("data", [2], "INT64", [1, 2])]}, headers={"Authorization": "Bearer key-12345678"})
    assert body_json(good)["outputs"][0] == {"name": "output-0", "datatype": "INT64", "shape": [2], "data": [2, 4]}


def test_default_model_name_is_the_script_and_infer_counts_in_metrics(serve):
    server = serve("plain_json")
    assert body_json(post(server, None, method="GET", path="/v2/models/plain_json"))["versions"] == []
    infer(server, {"inputs": [tensor("data", [1, 3], "FP64", [1, 1, 1])]}, path="/v2/models/plain_json/infer")
    metrics = post(server, None, method="GET", path="/metrics").body.decode()
    assert 'mldeploy_requests_total{status="200"} 1' in metrics


def test_metrics_name_the_deployed_models_and_versions(serve):
    server = serve("plain_json", models=("houses:1", "houses:2", "other"), service_name="estate")
    metrics = post(server, None, method="GET", path="/metrics").body.decode()
    info = sorted(line for line in metrics.splitlines() if line.startswith("mldeploy_model_info"))
    assert info == [
        'mldeploy_model_info{service="estate",model="houses",version="1"} 1',
        'mldeploy_model_info{service="estate",model="houses",version="2"} 1',
        'mldeploy_model_info{service="estate",model="other",version=""} 1',
    ]
    assert "# TYPE mldeploy_model_info gauge" in metrics


def test_model_names_travel_through_the_one_settings_writer():
    from jupyter_mldeploy.errors import InvalidArgumentError
    from jupyter_mldeploy.scoring.options import parse_args, settings_from_env
    from jupyter_mldeploy.scoring.settings import ServeSettings

    settings = ServeSettings(entry_script="score.py", models=("ridge:3", "scaler"))
    env = settings.to_env()
    assert env["MLDEPLOY_MODELS"] == "ridge:3,scaler"
    assert settings_from_env(env).models == ("ridge:3", "scaler")
    assert ServeSettings.from_json(settings.to_json()).models == ("ridge:3", "scaler")
    assert parse_args(["--entry-script", "s.py", "--model-name", "a:1", "--model-name", "b"]).models == ("a:1", "b")
    with pytest.raises(InvalidArgumentError, match="NAME or NAME:VERSION"):
        ServeSettings(entry_script="score.py", models=("bad name",))


def test_a_draining_server_is_not_ready_on_oip_either_but_still_answers(serve):
    server = serve("plain_json", models=("ridge:1",), drain_s=20)
    assert server.pid is not None
    os.kill(server.pid, signal.SIGTERM)  # the supervisor tells its worker to drain
    wait_until(lambda: raw_request(server, "GET", "/v2/health/ready")[0] == 503, what="OIP not ready while draining")
    status, _, body = raw_request(server, "GET", "/v2/models/ridge/ready")
    assert status == 503 and json.loads(body) == {"name": "ridge", "ready": False}
    assert raw_request(server, "GET", "/v2/health/live")[0] == 200
    status, headers, body = raw_request(server, "POST", "/v2/models/ridge/infer", json.dumps({"inputs": [tensor("data", [1, 2], "FP64", [1.0, 2.0])]}).encode(),
                                        {"Content-Type": "application/json"})
    assert status == 200 and headers["connection"] == "close"  # in-flight work still done, clients move on
