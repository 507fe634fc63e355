"""Batching by setting (``MLDEPLOY_BATCH`` / ``mldeploy serve --batch``) for a vectorised run without ``@batched``.

Against really listening servers: answers routed to their requests under concurrency, errors
per request, a full queue answering 503 with ``Retry-After``, the histograms in ``/metrics``;
and every bad value refused with a message naming the bad part.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_server_support import body_json, metric, post, script, serve

from jupyter_mldeploy.client.client import ScoringClient
from jupyter_mldeploy.errors import EntryScriptError, InvalidArgumentError
from jupyter_mldeploy.scoring.batching import BatchOptions, parse_batch
from jupyter_mldeploy.scoring.options import settings_from_args
from jupyter_mldeploy.scoring.settings import ServeSettings

__all__ = ["serve"]

MLDEPLOY = str(Path(sys.executable).with_name("mldeploy"))


def _concurrently(server, bodies):
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda b: post(server, b if isinstance(b, str) else json.dumps(b)), bodies))


def test_without_the_setting_the_script_gets_one_body_per_call(serve):
    server = serve("vectorised_sum")
    answer = post(server, json.dumps({"id": 7, "data": [1, 2]}))
    assert body_json(answer) == {"id": 7, "sum": 3, "batch": 0}
    text = post(server, None, method="GET", path="/metrics").body.decode()
    assert "mldeploy_batch_size" not in text


def test_the_setting_batches_concurrent_requests_each_gets_its_own_answer(serve):
    server = serve("vectorised_sum", env={"MLDEPLOY_BATCH": "max_batch_size=8,max_latency_ms=30"})
    bodies = [{"id": i, "data": [i, i, 1]} for i in range(24)]
    answers = _concurrently(server, bodies)
    assert all(a.status == 200 for a in answers), [a.body for a in answers]
    for body, answer in zip(bodies, answers):
        got = body_json(answer)
        assert got["id"] == body["id"] and got["sum"] == 2 * body["id"] + 1
        assert answer.headers["x-ms-request-id"]
    assert len({a.headers["x-ms-request-id"] for a in answers}) == 24
    sizes = [body_json(a)["batch"] for a in answers]
    assert max(sizes) > 1 and max(sizes) <= 8  # shared calls, never more than max_batch_size
    text = post(server, None, method="GET", path="/metrics").body.decode()
    assert metric(text, "mldeploy_batch_size_sum") == 24
    assert metric(text, "mldeploy_batch_size_count") < 24
    assert metric(text, 'mldeploy_batch_size_bucket{le="8"}') == metric(text, "mldeploy_batch_size_count")
    assert metric(text, "mldeploy_batch_queue_wait_seconds_count") == 24
    assert metric(text, 'mldeploy_requests_total{status="200"}') == 24


def test_with_the_setting_errors_stay_with_their_request(serve):
    server = serve("vectorised_sum", batch="max_batch_size=16,max_latency_ms=50")
    bodies = [{"id": i, "data": [1]} for i in range(6)]
    bodies[1]["fail"] = True
    bodies[3]["explode"] = True
    answers = _concurrently(server, [*bodies, "{not json"])
    assert [a.status for a in answers] == [200, 500, 200, 500, 200, 200, 400], [a.body for a in answers]
    assert "request 1 asked to fail" in answers[1].error["message"]
    assert "breaks the whole call" in answers[3].error["message"]
    assert answers[6].error["code"] == "InvalidJSON"
    assert [body_json(answers[i])["id"] for i in (0, 2, 4, 5)] == [0, 2, 4, 5]
    assert post(server, json.dumps({"id": 9, "data": [2]})).status == 200  # still serving


def test_with_the_setting_a_full_queue_answers_503_with_retry_after(serve):
    server = serve("vectorised_sum", env={"VECTORISED_SLOW_S": "0.4"},
                   batch="max_batch_size=2,max_latency_ms=0,max_queue=2")
    answers = _concurrently(server, [{"id": i, "data": [1]} for i in range(16)])
    refused = [a for a in answers if a.status == 503]
    assert refused and all(a.headers["retry-after"] == "1" for a in refused)
    assert refused[0].error["code"] == "Overloaded" and "max_queue" in refused[0].error["message"]
    served = [a for a in answers if a.status == 200]
    assert served and all(body_json(a)["id"] is not None for a in served)
    assert len(served) + len(refused) == 16
    assert post(server, json.dumps({"id": 1, "data": [1]})).status == 200  # serving again once it drained


def test_mldeploy_serve_batch_flag_serves_batches(tmp_path):
    proc = subprocess.Popen(
        [MLDEPLOY, "serve", "--entry-script", str(script("vectorised_sum")), "--port", "0",
         "--batch", "max_batch_size=4,max_latency_ms=40"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "http://127.0.0.1:" in line:
                url = "http://127.0.0.1:" + line.split("http://127.0.0.1:", 1)[1].split()[0].split("/")[0]
        assert url, "mldeploy serve did not say where it listens"
        probe = ScoringClient(url, timeout=30)
        try:
            probe.wait_ready(timeout=60)
        finally:
            probe.close()

        def score(i: int) -> dict:
            client = ScoringClient(url, timeout=30)
            try:
                return client.score({"id": i, "data": [i]})
            finally:
                client.close()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(score, range(8)))
        assert [a["id"] for a in answers] == list(range(8))
        assert 1 < max(a["batch"] for a in answers) <= 4
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.parametrize(("spec", "named"), [
    ("max_batch_size=0", "'max_batch_size=0': max_batch_size must be a whole number >= 1, got 0"),
    ("max_batch_size=lots", "'max_batch_size=lots': max_batch_size must be a whole number >= 1, got 'lots'"),
    ("max_latency_ms=-1", "'max_latency_ms=-1': max_latency_ms must be a number of milliseconds"),
    ("max_queue=1.5", "'max_queue=1.5': max_queue must be a whole number >= 0"),
    ("max_batch=32", "'max_batch=32': unknown knob 'max_batch'; the knobs are max_batch_size, max_latency_ms"),
    ("32", "'32' is not KNOB=VALUE"),
    ("max_batch_size=8,max_batch_size=9", "max_batch_size is given twice"),
])
def test_bad_values_name_the_bad_part_and_show_a_good_one(spec, named):
    for attempt in (lambda: parse_batch(spec), lambda: ServeSettings(entry_script="s.py", batch=spec),
                    lambda: settings_from_args(None, {"AZUREML_ENTRY_SCRIPT": "s.py", "MLDEPLOY_BATCH": spec})):
        with pytest.raises(InvalidArgumentError) as caught:
            attempt()
        message = str(caught.value)
        assert message.startswith("MLDEPLOY_BATCH") and named in message
        assert "max_batch_size=32,max_latency_ms=5" in message


def test_the_setting_reads_back_what_it_writes():
    assert parse_batch("max_latency_ms=2") == BatchOptions(32, 2.0, 0)
    assert parse_batch("on") == BatchOptions()
    settings = ServeSettings(entry_script="s.py", batch=" max_batch_size = 64 , max_queue=100 ")
    assert settings.to_env()["MLDEPLOY_BATCH"] == " max_batch_size = 64 , max_queue=100 "
    assert settings_from_args(None, settings.to_env()).batch_options == BatchOptions(64, 5.0, 100)
    assert parse_batch(BatchOptions(64, 2.5, 7).spec) == BatchOptions(64, 2.5, 7)
    assert "MLDEPLOY_BATCH" not in ServeSettings(entry_script="s.py").to_env()


def test_mldeploy_serve_refuses_a_bad_batch_value_before_it_starts():
    done = subprocess.run([MLDEPLOY, "serve", "--entry-script", str(script("vectorised_sum")), "--port", "0",
                           "--batch", "max_batch_size=many"], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "MLDEPLOY_BATCH: 'max_batch_size=many': max_batch_size must be a whole number" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_setting_on_a_schema_script_is_refused_at_load(load_script, tmp_path):
    path = tmp_path / "schema.py"
    path.write_text(
        "from inference_schema.schema_decorators import input_schema\n"
        "from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType\n"
        "@input_schema('x', StandardPythonParameterType(1))\ndef run(x):\n    return x\n"
    )
    with pytest.raises(EntryScriptError, match="MLDEPLOY_BATCH \\(--batch\\) asks to batch run\\(\\) in .*schema-decorated"):
        load_script(path, batch=BatchOptions())


def test_the_setting_wins_over_the_decorators_knobs(load_script):
    script_ = load_script("batched_sum", batch=BatchOptions(3, 1.0, 5))
    assert script_.batching == BatchOptions(3, 1.0, 5)
    assert load_script("batched_sum").batching == BatchOptions(8, 30.0, 0)
