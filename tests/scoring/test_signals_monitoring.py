"""Scripts that import azureml.monitoring / azureml.core.run, served by a real server; per-model /metrics counters."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from test_server_support import metric, post, serve, wait_for_log, wait_until

from jupyter_mldeploy.client.client import ScoringClient
from jupyter_mldeploy.scoring.jsonl import read_last
from jupyter_mldeploy.scoring.monitoring import COLLECTED_FILE

__all__ = ["serve"]


def test_model_data_collector_writes_inputs_and_predictions_per_request(serve, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = serve("collects", data_dir=str(data))
    answer = post(server, json.dumps({"data": [[1, 2], [3, 4]], "order": "order-17"}), {"x-request-id": "dc-1"})
    assert answer.status == 200 and json.loads(answer.body) == [3, 7]
    path = data / COLLECTED_FILE
    wait_until(lambda: len(read_last(path, 10)) >= 2, 15, "two collected records")
    inputs, predictions = read_last(path, 10)
    assert inputs["request_id"] == predictions["request_id"] == "dc-1"
    assert (inputs["model_name"], inputs["designation"], inputs["feature_names"]) == ("ridge", "inputs", ["a", "b"])
    assert inputs["data"] == [[1, 2], [3, 4]]  # a numpy array, as lists
    assert inputs["user_correlation_id"] == "order-17"
    assert (predictions["designation"], predictions["feature_names"], predictions["data"]) == (
        "predictions", ["y"], [3, 7])
    assert predictions["user_correlation_id"] is None
    assert inputs["time"].endswith("Z")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_run_logs_go_to_the_service_log_with_the_request_id(serve, tmp_path: Path) -> None:
    server = serve("collects", data_dir=str(tmp_path / "data"))
    assert post(server, json.dumps({"data": [[1, 2]]}), {"x-request-id": "runlog-1"}).status == 200
    log = wait_for_log(server, lambda t: "log_row shape=" in t)
    lines = [line for line in log.splitlines() if " run rid=" in line]
    assert any("rid=init log init_done=1" in line for line in lines)
    assert any("rid=runlog-1 log rows=1" in line for line in lines)
    assert any("rid=runlog-1 log_list sums=[3]" in line for line in lines)
    assert any('rid=runlog-1 log_row shape={"rows": 1, "cols": 2}' in line for line in lines)


def test_collected_data_over_the_bound_is_truncated_with_a_marker(serve, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = serve("collects", data_dir=str(data), capture_max_kb=1)
    rows = [[i, i] for i in range(400)]
    assert post(server, json.dumps({"data": rows})).status == 200
    path = data / COLLECTED_FILE
    wait_until(lambda: len(read_last(path, 10)) >= 2, 15, "two collected records")
    inputs = read_last(path, 10)[0]
    assert inputs["data"]["truncated"] is True
    assert inputs["data"]["size"] == len(json.dumps(rows))
    assert inputs["data"]["head"] == json.dumps(rows)[:1024]


def test_metrics_count_requests_per_model_version_route_and_status_class(serve) -> None:
    server = serve("plain_json", models=("ridge:1", "ridge:2"), service_name="svc")
    infer = json.dumps({"inputs": [{"name": "data", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]})
    for _ in range(2):
        assert post(server, json.dumps({"data": [[1, 2, 3]]})).status == 200
    assert post(server, "{oops").status == 400
    assert post(server, infer, path="/v2/models/ridge/versions/2/infer").status == 200
    assert post(server, infer, path="/v2/models/ridge/infer").status == 200
    assert post(server, "{}", path="/v2/models/ridge/versions/1/infer").status == 400
    assert post(server, infer, path="/v2/models/nope/infer").status == 404  # no such model: not counted
    with ScoringClient(server.url) as client:
        text = client.metrics()
    name = "mldeploy_model_requests_total"
    # /score of a model with two versions: the model, no version
    assert metric(text, f'{name}{{service="svc",model="ridge",version="",route="score",status_class="2xx"}}') == 2
    assert metric(text, f'{name}{{service="svc",model="ridge",version="",route="score",status_class="4xx"}}') == 1
    assert metric(text, f'{name}{{service="svc",model="ridge",version="2",route="infer",status_class="2xx"}}') == 1
    assert metric(text, f'{name}{{service="svc",model="ridge",version="",route="infer",status_class="2xx"}}') == 1
    assert metric(text, f'{name}{{service="svc",model="ridge",version="1",route="infer",status_class="4xx"}}') == 1
    assert 'model="nope"' not in text
    assert "# TYPE mldeploy_model_requests_total counter" in text
    counted = sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + "{"))
    assert counted == 6


def test_per_model_counters_sum_over_workers(serve) -> None:
    server = serve("plain_json", models=("solo:4",), workers=2)
    for _ in range(12):
        assert post(server, json.dumps({"data": [[1, 1, 1]]})).status == 200
    with ScoringClient(server.url) as client:
        text = client.metrics()
    assert metric(text, 'mldeploy_model_requests_total{service="mldeploy",model="solo",version="4",'
                        'route="score",status_class="2xx"}') == 12
