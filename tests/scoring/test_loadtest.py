"""The load-test API and ``mldeploy loadtest`` against real scoring servers on 127.0.0.1."""

from __future__ import annotations

import json
import re
import statistics
import struct
import textwrap
import threading
from pathlib import Path

import pytest
from test_server_support import serve

from jupyter_mldeploy._net import free_port
from jupyter_mldeploy.cli import main as cli_main
from jupyter_mldeploy.errors import InvalidArgumentError
from jupyter_mldeploy.client.client import ScoringClient
from jupyter_mldeploy.client.loadtest import (
    CLIENT_ERROR,
    CONNECTION_ERROR,
    LoadTestResult,
    check_headers,
    load_test,
    percentile,
    resolve_target,
    status_label,
    swagger_example,
)

__all__ = ["serve"]

#: run() answers 400 for multiples of 5, raises (500) for other multiples of 7, else doubles.
PICKY = textwrap.dedent(
    """
    import json, time
    from azureml.contrib.services.aml_response import AMLResponse

    def init():
        pass

    def run(raw_data):
        data = json.loads(raw_data)
        i = data["i"]
        time.sleep(data.get("sleep", 0))
        if i % 5 == 0:
            return AMLResponse(json.dumps({"error": f"{i} is a multiple of 5"}), 400)
        if i % 7 == 0:
            raise ValueError(f"{i} is a multiple of 7")
        return {"double": 2 * i}
    """
)


#: @rawhttp: 200 only when the request carries exactly one Content-Type, text/csv; else 415.
CSV_ONLY = textwrap.dedent(
    """
    from azureml.contrib.services.aml_request import rawhttp
    from azureml.contrib.services.aml_response import AMLResponse

    def init():
        pass

    @rawhttp
    def run(request):
        got = request.headers.get("Content-Type")
        if got != "text/csv":
            return AMLResponse(f"wanted one Content-Type text/csv, got {got!r}", 415)
        return AMLResponse("ok", 200)
    """
)


@pytest.fixture
def picky(serve, tmp_path: Path):
    path = tmp_path / "picky.py"
    path.write_text(PICKY)
    return serve(path)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_errors_by_status_are_exact_and_percentiles_match_statistics(picky) -> None:
    n = 140
    seen = []
    result = load_test(
        picky.url,
        lambda i: {"i": i},
        requests=n,
        concurrency=6,
        on_progress=lambda done, total: seen.append((done, total)),
    )
    fives = sum(1 for i in range(n) if i % 5 == 0)
    sevens = sum(1 for i in range(n) if i % 5 and i % 7 == 0)
    assert (fives, sevens) == (28, 16)
    assert result.sent == n and result.stopped is None
    assert result.errors_by_status == {400: fives, 500: sevens}
    assert result.ok == n - fives - sevens and result.errors == fives + sevens
    assert "multiple of 5" in result.error_samples[400]
    assert "multiple of 7" in result.error_samples[500]
    assert len(result.latencies) == n and all(x > 0 for x in result.latencies)
    assert seen[-1] == (n, n)

    cuts = statistics.quantiles(result.latencies, n=100, method="inclusive")
    assert result.p50 == pytest.approx(cuts[49], rel=1e-12)
    assert result.p95 == pytest.approx(cuts[94], rel=1e-12)
    assert result.p99 == pytest.approx(cuts[98], rel=1e-12)
    assert result.p50 == pytest.approx(statistics.median(result.latencies), rel=1e-12)
    assert result.min == min(result.latencies) and result.max == max(result.latencies)
    assert result.mean == pytest.approx(statistics.fmean(result.latencies))
    assert result.throughput == pytest.approx(n / result.wall_s)

    edges, counts = result.histogram(bins=10)
    assert len(edges) == 11 and sum(counts) == n
    assert edges[0] == result.min and edges[-1] == result.max

    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["errors_by_status"] == {"400": fives, "500": sevens}
    assert data["latency_ms"]["p95"] == pytest.approx(result.p95 * 1000, abs=1e-3)
    text = str(result)
    assert f"{n} of {n} sent, {n - fives - sevens} ok, {fives + sevens} errors" in text
    assert f"400 x {fives}, 500 x {sevens}" in text
    assert "p50" in text and "p99" in text and "req/s" in text


def test_one_body_for_all_and_auth_keys(serve) -> None:
    server = serve("plain_json", auth_keys=["s3cret-key-1"])
    result = load_test(
        server.url, {"data": [[1, 2, 3]]}, requests=20, concurrency=4, auth_key="s3cret-key-1"
    )
    assert (result.ok, result.errors_by_status) == (20, {})
    no_key = load_test(server.url + "/score", '{"data": [[1, 2, 3]]}', requests=8, concurrency=2)
    assert no_key.errors_by_status == {401: 8} and no_key.ok == 0
    assert "Bearer" in no_key.error_samples[401]


def test_connection_errors_and_timeouts_count_and_never_crash(picky) -> None:
    port = free_port()  # nothing listens here
    result = load_test(f"http://127.0.0.1:{port}", {"i": 1}, requests=6, concurrency=2, timeout=2)
    assert result.errors_by_status == {CONNECTION_ERROR: 6} and result.ok == 0
    assert result.latencies == [] and "cannot reach" in result.error_samples[CONNECTION_ERROR]
    assert "connection error x 6" in str(result)
    assert "p50 -" in str(result)
    assert result.to_dict()["latency_ms"]["p50"] is None
    assert _png_size(result.plot_png(300, 200)) == (300, 200)  # "no answers" picture

    slow = load_test(picky.url, {"i": 1, "sleep": 1.0}, requests=2, concurrency=2, timeout=0.2)
    assert slow.errors_by_status == {CONNECTION_ERROR: 2}


def test_cancel_and_deadline_stop_early(picky) -> None:
    body = {"i": 1, "sleep": 0.02}
    stopped = load_test(
        picky.url,
        body,
        requests=2000,
        concurrency=2,
        on_progress=lambda done, total: done < 6,
        progress_interval=0.02,
    )
    assert 6 <= stopped.sent < 2000 and stopped.stopped == "cancelled"
    assert stopped.ok == stopped.sent and "(stopped: cancelled)" in str(stopped)

    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    by_event = load_test(picky.url, body, requests=2000, concurrency=2, cancel=cancel)
    assert by_event.sent < 2000 and by_event.stopped == "cancelled"

    timed = load_test(picky.url, body, requests=2000, concurrency=2, deadline_s=0.3)
    assert timed.sent < 2000 and timed.stopped == "deadline"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requests": 0}, "requests must be a whole number from 1"),
        ({"requests": 2.5}, "requests must be a whole number"),
        ({"concurrency": 0}, "concurrency must be a whole number of at least 1"),
        ({"concurrency": 300, "requests": 1000}, "above the limit of 256"),
        ({"concurrency": 5, "requests": 3}, "use concurrency <= requests"),
        ({"timeout": 0}, "must be positive seconds"),
        ({"body": {"x": {1, 2}}}, "cannot be sent as JSON"),
        ({"body": {"x": float("nan")}}, "cannot be sent as JSON"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict, message: str) -> None:
    args = {"body": {"data": []}, "requests": 10, "concurrency": 2, **kwargs}
    body = args.pop("body")
    with pytest.raises(InvalidArgumentError, match=message):
        load_test("http://127.0.0.1:9", body, **args)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:80", "http://example.com:5001", "http://192.168.1.2:5001/score"]
)
def test_refuses_non_loopback_targets(url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="only targets loopback addresses"):
        load_test(url, {"data": []}, requests=1, concurrency=1)


def test_target_and_example_helpers() -> None:
    assert resolve_target("http://localhost:5001/score", "k") == ("http://localhost:5001", "k")
    assert resolve_target("http://[::1]:5001") == ("http://[::1]:5001", None)
    with pytest.raises(InvalidArgumentError, match="has no port"):
        resolve_target("http://127.0.0.1")
    with pytest.raises(InvalidArgumentError, match="pass a Webservice or a URL"):
        resolve_target(42)
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([7.0], 99) == 7.0
    v3 = {
        "paths": {
            "/score": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ServiceInput"}
                            }
                        }
                    }
                }
            }
        },
        "components": {"schemas": {"ServiceInput": {"example": {"a": 1}}}},
    }
    assert swagger_example(v3) == {"a": 1}
    assert swagger_example({"paths": {"/score": {"post": {}}}}) is None


def test_plot_png_is_a_png_of_the_requested_size(picky) -> None:
    result = load_test(picky.url, {"i": 1}, requests=30, concurrency=3)
    png = result.plot_png(480, 240)
    assert _png_size(png) == (480, 240)
    assert len(png) > 2000  # bars, lines and labels, not a blank picture
    assert _png_size(result.plot_png()) == (640, 320)
    with pytest.raises(InvalidArgumentError, match="out of range"):
        result.plot_png(10, 10)
    same = LoadTestResult("http://127.0.0.1:1", 3, 1, 3, 0.01, latencies=[0.002, 0.002, 0.002])
    edges, counts = same.histogram(bins=4)
    assert sorted(counts) == [0, 0, 0, 3]
    assert edges[0] < 0.002 < edges[-1]


def test_cli_prints_the_table_and_json(
    picky, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    png = tmp_path / "h.png"
    assert (
        cli_main(["loadtest", picky.url, '{"i": 5}', "-n", "12", "-c", "3", "--png", str(png)]) == 0
    )
    out = capsys.readouterr().out
    assert "12 of 12 sent, 0 ok, 12 errors" in out and "400 x 12" in out
    assert '400: {"error": "5 is a multiple of 5"}' in out  # one sample body per status
    assert _png_size(png.read_bytes()) == (640, 320)

    assert cli_main(["loadtest", picky.url, '{"i": 1}', "-n", "9", "-c", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["sent"], data["ok"], data["errors_by_status"]) == (9, 9, {})

    bare = picky.url.removeprefix("http://")  # HOST:PORT works too
    assert cli_main(["loadtest", bare, '{"i": 1}', "-n", "3", "-c", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] == 3

    assert cli_main(["loadtest", "http://10.1.2.3:80", "{}", "-n", "1", "-c", "1"]) == 1
    assert "only targets loopback" in capsys.readouterr().err
    # no body given and an undecorated script: its swagger has no example
    assert cli_main(["loadtest", picky.url, "-n", "1", "-c", "1"]) == 1
    assert "has no input example" in capsys.readouterr().err


SCHEMA_SCALE = textwrap.dedent(
    """
    import os
    from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
    from inference_schema.schema_decorators import input_schema

    def init():
        global k
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())

    @input_schema("data", StandardPythonParameterType([1.0, 2.0]))
    def run(data):
        return {"scaled": [x * k for x in data]}
    """
)


def test_webservice_target_with_auth_and_the_cli_by_name(
    k_model, no_leaked_services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyter_mldeploy import InferenceConfig
    from jupyter_mldeploy.deploy import deploy
    from jupyter_mldeploy.deploy.process import ProcessWebservice

    (tmp_path / "score.py").write_text(SCHEMA_SCALE)
    service = deploy(
        "locked",
        [k_model],
        InferenceConfig("score.py", source_directory=str(tmp_path)),
        ProcessWebservice.deploy_configuration(auth_enabled=True),
    )
    service.wait_for_deployment(timeout_sec=120)
    result = load_test(
        service, {"data": [2.0]}, requests=16, concurrency=4
    )  # the service's own key
    assert (result.ok, result.errors_by_status) == (16, {})
    assert result.url == f"http://127.0.0.1:{service.port}"
    refused = load_test(service.scoring_uri, {"data": [2.0]}, requests=4, concurrency=2)
    assert refused.errors_by_status == {401: 4}

    # no body given: the CLI sends the swagger example ({"data": [1.0, 2.0]})
    assert cli_main(["loadtest", "locked", "-n", "10", "-c", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["sent"], data["ok"]) == (10, 10)
    assert cli_main(["loadtest", "nope", "{}", "-n", "1", "-c", "1"]) == 1
    assert "no service named 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("headers", "content_type", "message"),
    [
        ({"X-User": "\u65e5\u672c"}, None, "header 'X-User' has characters that cannot be sent"),
        ({"X-Trace": "1\r\nX-Evil: 2"}, None, "header 'X-Trace' has a '\\r' in its value"),
        ({"X Trace": "1"}, None, "header name 'X Trace' has the character ' '"),
        ({"": "1"}, None, "header name '' is empty"),
        (None, "text/plain\n", "header 'Content-Type' has a '\\n' in its value"),
    ],
)
def test_headers_that_cannot_be_sent_are_refused_up_front(
    picky, headers: dict | None, content_type: str | None, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(message)) as caught:
        load_test(
            picky.url,
            {"i": 1},
            requests=20,
            concurrency=4,
            headers=headers,
            content_type=content_type,
        )
    assert "Nothing was sent" in str(caught.value)
    assert "POST /score" not in picky.logs()
    with pytest.raises(InvalidArgumentError, match="cannot be sent in an HTTP header"):
        load_test(picky.url, {"i": 1}, requests=2, concurrency=1, auth_key="cl\u00e9-\u65e5")
    assert check_headers({"X-Latin": "caf\u00e9", "X-N": 3}) == {"X-Latin": "caf\u00e9", "X-N": "3"}


def test_a_client_side_error_is_counted_not_lost(picky, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ScoringClient.request

    def flaky(self, method, path="/score", body=None, headers=None, **kwargs):
        if json.loads(body)["i"] % 4 == 1:
            raise RuntimeError("the client broke on purpose")
        return real(self, method, path, body, headers, **kwargs)

    monkeypatch.setattr(ScoringClient, "request", flaky)
    n = 24  # i % 4 == 1: 6 client errors; of the rest 0, 10, 15, 20 answer 400, 7 and 14 answer 500
    result = load_test(picky.url, lambda i: {"i": i, "sleep": 0.002}, requests=n, concurrency=4)
    assert result.sent == n and result.stopped is None
    assert result.errors_by_status == {CLIENT_ERROR: 6, 400: 4, 500: 2}
    assert result.ok == n - 12 and len(result.latencies) == n - 6
    assert result.error_samples[CLIENT_ERROR] == "RuntimeError: the client broke on purpose"
    assert "client error x 6" in str(result) and status_label(CLIENT_ERROR) == "client error"


def test_percentiles_of_2xx_answers_are_kept_apart_from_fast_errors(picky) -> None:
    # multiples of 5 answer 400 at once; every other request sleeps 20 ms in run()
    n = 60
    result = load_test(
        picky.url,
        lambda i: {"i": i, "sleep": 0 if i % 5 == 0 else 0.02},
        requests=n,
        concurrency=4,
    )
    assert result.errors_by_status == {400: 12, 500: 7}  # 7, 14, 21, 28, 42, 49, 56
    assert len(result.ok_latencies) == result.ok == 41 and len(result.latencies) == n
    assert min(result.ok_latencies) >= 0.02  # every 2xx answer waited for run()'s sleep
    cuts = statistics.quantiles(result.ok_latencies, n=100, method="inclusive")
    assert result.ok_p50 == pytest.approx(cuts[49], rel=1e-12)
    assert result.ok_p95 == pytest.approx(cuts[94], rel=1e-12)
    assert result.ok_p99 == pytest.approx(cuts[98], rel=1e-12)
    assert result.ok_percentile(0) == min(result.ok_latencies)
    assert result.p50 == pytest.approx(statistics.median(result.latencies), rel=1e-12)
    text = str(result)
    assert "ms (all answers)" in text
    assert f"2xx only     p50 {result.ok_p50 * 1000:.2f}  p95 {result.ok_p95 * 1000:.2f}" in text
    data = result.to_dict()
    assert data["ok_latency_ms"]["p99"] == pytest.approx(result.ok_p99 * 1000, abs=1e-3)

    clean = LoadTestResult("http://127.0.0.1:1", 3, 1, 3, 0.01, latencies=[0.001, 0.003, 0.002])
    assert clean.ok_p50 == clean.p50 == 0.002  # no errors: the 2xx answers are all answers
    assert "2xx only" not in str(clean)


def test_a_content_type_in_the_headers_wins_once(serve, tmp_path: Path) -> None:
    path = tmp_path / "csv_only.py"
    path.write_text(CSV_ONLY)
    server = serve(path)
    typed = load_test(
        server.url,
        "a,b\n1,2\n",
        requests=6,
        concurrency=2,
        headers={"content-type": "text/csv"},
        content_type="text/plain",
    )
    assert (typed.ok, typed.errors_by_status) == (6, {})
    by_argument = load_test(server.url, "a,b", requests=2, concurrency=1, content_type="text/csv")
    assert by_argument.ok == 2
    default = load_test(server.url, "a,b", requests=2, concurrency=1)
    assert default.errors_by_status == {415: 2}
    assert "got 'application/json'" in default.error_samples[415]
