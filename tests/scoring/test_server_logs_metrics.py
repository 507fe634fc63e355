"""Logs (one access line per request, the script's print/logging tagged with request ids) and /metrics."""

from __future__ import annotations

import json
import time

from test_server_support import metric, post, serve, wait_for_log

from jupyter_mldeploy.client.client import ScoringClient

__all__ = ["serve"]


def test_access_lines_and_script_output_carry_the_request_id(serve):
    server = serve("prints")
    answer = post(server, json.dumps({"a": 1}), {"x-request-id": "log-req-1"})
    assert answer.status == 200
    post(server, "{}", {"x-request-id": "log-req-2"}, method="PUT")
    log = wait_for_log(server, lambda t: "log-req-2" in t and t.count("log-req-1") >= 4)
    lines = log.splitlines()
    access = [line for line in lines if " access " in line]
    assert any("POST /score 200" in line and "rid=log-req-1" in line and "ms " in line for line in access)
    assert any("PUT /score 405" in line and "rid=log-req-2" in line for line in access)
    tagged = [line for line in lines if "rid=log-req-1" in line]
    assert any("run: got" in line for line in tagged)          # print()
    assert any("run: to stderr" in line for line in tagged)    # print(file=sys.stderr)
    assert any("run: logged warning" in line and "WARNING" in line for line in tagged)  # logging
    assert any("init: loading model" in line and "rid=init" in line for line in lines)


def test_binary_stdout_writes_are_tagged_too(serve):
    server = serve("http_run_raises")
    assert post(server, json.dumps({"bytes": True}), {"x-request-id": "bytes-req"}).status == 200
    log = wait_for_log(server, lambda t: "raw bytes line" in t)
    assert any("rid=bytes-req" in line and "raw bytes line" in line for line in log.splitlines())


def test_metrics_text_counts_statuses_latency_and_in_flight(serve):
    server = serve("plain_json")
    for _ in range(3):
        assert post(server, json.dumps({"data": [[1, 2, 3]]})).status == 200
    assert post(server, "{oops").status == 400
    post(server, None, method="GET", path="/")  # health probes are not counted
    with ScoringClient(server.url) as client:
        text = client.metrics()
        raw = client.request("GET", "/metrics")
    assert raw.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE mldeploy_requests_total counter" in text
    assert metric(text, 'mldeploy_requests_total{status="200"}') == 3
    assert metric(text, 'mldeploy_requests_total{status="400"}') == 1
    assert "# TYPE mldeploy_request_duration_seconds histogram" in text
    assert metric(text, 'mldeploy_request_duration_seconds_bucket{le="+Inf"}') == 4
    assert metric(text, "mldeploy_request_duration_seconds_count") == 4
    assert metric(text, "mldeploy_request_duration_seconds_sum") > 0
    assert metric(text, "mldeploy_run_duration_seconds_count") >= 3
    assert metric(text, "mldeploy_requests_in_flight") == 0
    # buckets are cumulative
    buckets = [float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("mldeploy_request_duration_seconds_bucket")]
    assert buckets == sorted(buckets)


def test_passing_health_probes_stay_out_of_the_access_log(serve):
    server = serve("plain_json")
    for path in ("/ready", "/", "/ready"):
        assert post(server, None, method="GET", path=path, headers={"x-request-id": "probe"}).status == 200
    assert post(server, None, method="GET", path="/nowhere", headers={"x-request-id": "lost"}).status == 404
    assert post(server, '{"data": [[1, 2]]}', {"x-request-id": "real-req"}).status == 200
    log = wait_for_log(server, lambda t: "rid=real-req" in t and "rid=lost" in t)
    assert "GET /nowhere 404" in log
    assert "rid=probe" not in log  # the 200 probes are not logged ...


def test_failing_probes_are_access_logged(serve, tmp_path):
    server = serve("init_raises", wait=False, model_dir=tmp_path)
    probe = None
    for _ in range(200):  # bounded: until init() has failed and /ready says so
        probe = post(server, None, method="GET", path="/ready", headers={"x-request-id": "bad-probe"})
        if probe.status == 503 and probe.error["code"] == "InitFailed":
            break
        time.sleep(0.05)
    assert probe is not None and probe.status == 503
    wait_for_log(server, lambda t: "GET /ready 503" in t and "rid=bad-probe" in t)  # ... failing ones are
