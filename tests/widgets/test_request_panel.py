"""TestRequestPanel against real services (process target; one Docker test): what the panel shows."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_script import RAW_SCRIPT

from jupyter_mldeploy import InferenceConfig
from jupyter_mldeploy.client.history import HISTORY_SIZE
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.widgets import TestRequestPanel
from jupyter_mldeploy.widgets._base import human_seconds, visible_text
from jupyter_mldeploy.widgets.request_panel import hex_dump

#: k = 3 from the k model; a schema (so swagger has an example); 500 for negative numbers;
#: sleeps x seconds for a single number 0 < x < 1 (to keep a load test busy).
SCALE = textwrap.dedent(
    """
    import os, time
    from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
    from inference_schema.schema_decorators import input_schema

    def init():
        global k
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())

    @input_schema("data", StandardPythonParameterType([1.0, 2.0]))
    def run(data):
        if any(x < 0 for x in data):
            raise ValueError(f"negative input {min(data)}")
        if len(data) == 1 and 0 < data[0] < 1:
            time.sleep(data[0])
        return {"scaled": [x * k for x in data]}
    """
)

RAW = RAW_SCRIPT


@pytest.fixture(autouse=True)
def _no_leaks(no_leaked_services: None) -> Iterator[None]:
    """Every test here deploys: delete what it leaves (see tests/conftest.py); histories live in MLDEPLOY_HOME."""
    yield


@pytest.fixture
def make_service(tmp_path: Path, k_model: Any) -> Callable[..., Any]:
    def make(name: str, script: str, config: Any = None, timeout: float = 120) -> Any:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "score.py").write_text(script)
        service = deploy(
            name,
            [k_model],
            InferenceConfig("score.py", source_directory=str(folder)),
            config or ProcessWebservice.deploy_configuration(),
        )
        service.wait_for_deployment(timeout_sec=timeout)
        return service

    return make


@pytest.fixture
def panels() -> Iterator[list[TestRequestPanel]]:
    made: list[TestRequestPanel] = []
    yield made
    for panel in made:
        panel.close()


def _panel(panels: list[TestRequestPanel], service: Any, **kwargs: Any) -> TestRequestPanel:
    panel = TestRequestPanel(service, **kwargs)
    panels.append(panel)
    return panel


def _send(panel: TestRequestPanel) -> str:
    panel.send_button.click()
    assert panel.wait(60)
    return visible_text(panel)


def _until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_prefilled_from_swagger_and_send_shows_status_latency_headers_body(
    make_service, panels
) -> None:
    service = make_service("scale", SCALE)
    panel = _panel(panels, service)
    assert "mldeploy-test-request-panel" in panel._dom_classes
    assert [panel.tabs.get_title(i) for i in range(3)] == ["Request", "History", "Load test"]
    # Send at once: the swagger example, fetched in the background, lands in the editor first
    text = _send(panel)
    assert json.loads(panel.editor.value) == {"data": [1.0, 2.0]}  # the schema's sample
    answer = panel.last_response
    assert answer is not None and answer.status == 200
    assert answer.json() == {"scaled": [3.0, 6.0]}
    request_part = text.split("== History ==")[0]
    assert "200" in request_part and human_seconds(answer.latency_ms / 1000) in request_part
    assert "on the server" in request_part  # x-ms-run-fn-exec-ms shown
    assert '"scaled": [\n    3.0,\n    6.0\n  ]' in request_part  # pretty JSON, the right numbers
    assert "#1a7f37" in panel.response_status.value  # green badge
    assert panel.headers_box.selected_index is None  # headers collapsed, but there
    assert answer.request_id in panel.response_headers.value and "x-ms-run-fn-exec-ms" in text
    assert "1 request sent to this service" in text

    # the plain API sees the same answer
    assert service.run({"data": [1.0, 2.0]}) == answer.json()

    # re-running the cell: the last request sent wins over the swagger example
    panel.editor.value = '{"data": [5]}'
    _send(panel)
    again = _panel(panels, service)
    assert again.editor.value == '{"data": [5]}'
    assert again.wait(10) and again.editor.value == '{"data": [5]}'
    again.example_button.click()  # Example still loads the swagger example
    assert again.wait(10)
    assert json.loads(again.editor.value) == {"data": [1.0, 2.0]}
    assert not again.example_button.disabled


def test_bad_json_names_line_and_column_and_sends_nothing(make_service, panels) -> None:
    service = make_service("scale", SCALE)
    panel = _panel(panels, service)
    before = service.get_logs().count("POST /score")
    panel.editor.value = '{\n  "data": [1, 2,\n}'
    panel.send_button.click()  # must not raise
    assert panel.wait(10)
    text = visible_text(panel)
    assert "not valid JSON" in text and "line 3, column 1" in text and "nothing was sent" in text
    assert panel.last_response is None and panel.history_list.options == ()
    assert service.get_logs().count("POST /score") == before

    panel.headers_text.value = "X-Ok: 1\nnot a header"
    panel.editor.value = '{"data": [1]}'
    panel.send_button.click()
    assert "header line 2" in visible_text(panel) and panel.last_response is None


def test_error_answers_show_status_and_error_body(make_service, panels) -> None:
    service = make_service("scale", SCALE)
    panel = _panel(panels, service)
    panel.editor.value = '{"data": "not a list"}'
    text = _send(panel)
    assert panel.last_response.status == 422
    assert "422" in text and "SchemaValidation" in text and "#cf222e" in panel.response_status.value

    panel.editor.value = '{"data": [2, -4]}'
    text = _send(panel)
    assert panel.last_response.status == 500
    assert "500" in text and "negative input -4" in text
    labels = [label for label, _ in panel.history_list.options]
    assert " 500 " in labels[0] and " 422 " in labels[1]  # newest first

    # a service that is gone: the panel says so (no exception escapes the callback)
    service.delete()
    panel.send_button.click()
    panel.wait(30)
    text = visible_text(panel)
    assert "Error: service 'scale' was deleted; deploy it again" in " ".join(text.split()), text


def test_rawhttp_bytes_answer_shows_a_hex_summary_and_get_works(make_service, panels) -> None:
    service = make_service("raw", RAW)
    panel = _panel(panels, service, sample=b"\xde\xad\xbe\xef")
    assert (
        panel.content_type.value == "application/octet-stream"
        and panel.editor.value == "de ad be ef"
    )
    assert panel.encoding.layout.display is None  # the hex/base64 choice shows for bytes
    text = _send(panel)
    body = panel.last_response.body
    assert body == b"\xde\xad\xbe\xef" + bytes(range(256)) * 4
    assert "Binary body" in text and "application/octet-stream" in text and "1,028 bytes" in text
    assert "00000000  de ad be ef 00 01 02 03 04 05 06 07 08 09 0a 0b" in text
    assert hex_dump(body).splitlines()[-1] in text  # 64 bytes: four lines
    assert hex_dump(body[64:80]) not in text

    panel.encoding.value = "base64"
    panel.editor.value = "AAEC"  # 00 01 02
    _send(panel)
    assert panel.last_response.body[:3] == b"\x00\x01\x02"
    panel.editor.value = "not base64!"
    panel.send_button.click()
    assert "not valid base64" in visible_text(panel)

    panel.method.value = "GET"
    text = _send(panel)
    assert panel.last_response.json() == {"method": "GET", "args": {}}
    assert '"method": "GET"' in text


def test_history_replay_resends_and_new_panels_start_from_the_last_request(
    make_service, panels
) -> None:
    service = make_service("raw", RAW)  # no swagger example: a new panel starts from history
    first = _panel(panels, service)
    assert first.editor.value == '{"data": []}'
    first.content_type.value = "text/plain"
    first.editor.value = "one"
    _send(first)
    first.editor.value = "two"
    first.headers_text.value = "X-Trace: 42"
    _send(first)
    labels = [label for label, _ in first.history_list.options]
    assert len(labels) == 2 and labels[0].endswith("two") and labels[1].endswith("one")

    first.history_list.value = 1  # "one"
    first.tabs.selected_index = 1
    first.replay_button.click()
    assert first.wait(30)
    assert first.editor.value == "one" and first.headers_text.value == ""
    assert first.tabs.selected_index == 0
    assert first.last_response.body.startswith(b"one\x00\x01")
    assert len(first.history_list.options) == 3

    second = _panel(panels, service)
    assert (second.editor.value, second.content_type.value) == ("one", "text/plain")
    assert len(second.history_list.options) == 3 and HISTORY_SIZE == 50

    second.history_list.value = None
    second.replay_button.click()
    assert "pick a request in the History list first" in visible_text(second)


def test_load_test_tab_shows_percentiles_errors_and_histogram(make_service, panels) -> None:
    service = make_service("scale", SCALE)
    panel = _panel(panels, service)
    assert panel.wait(10) and json.loads(panel.editor.value) == {"data": [1.0, 2.0]}
    panel.lt_requests.value, panel.lt_concurrency.value = 40, 4
    panel.run_button.click()
    assert panel.wait(60)
    result = panel.last_load_test
    assert (result.sent, result.ok, result.concurrency) == (40, 40, 4)
    text = visible_text(panel).split("== Load test ==")[1]
    words = " ".join(text.split())
    assert "sent 40 of 40 · ok 40 · errors 0 · throughput" in words
    assert "latency of p50 p95 p99 min max" in words
    values = f"{result.p50 * 1000:.2f} ms {result.p95 * 1000:.2f} ms {result.p99 * 1000:.2f} ms"
    assert f"all answers {values}" in words, words
    assert "2xx answers" not in words  # no errors: one row
    assert "Errors by status : none" in text and "Progress 100%" in text
    assert (
        panel.lt_image.value[:8] == b"\x89PNG\r\n\x1a\n" and panel.lt_image.layout.display is None
    )

    panel.editor.value = '{"data": [-1]}'
    panel.run_button.click()
    assert panel.wait(60)
    assert panel.last_load_test.errors_by_status == {500: 40}
    text = visible_text(panel).split("== Load test ==")[1]
    assert "500" in text and "40 x" in text and "negative input -1" in text

    panel.lt_requests.value, panel.lt_concurrency.value = 3, 10
    panel.run_button.click()
    assert panel.wait(30)
    assert "use concurrency <= requests" in visible_text(panel)
    assert not panel.run_button.disabled


def test_auth_service_gets_its_key_for_send_and_load_test(make_service, panels) -> None:
    service = make_service(
        "locked", SCALE, ProcessWebservice.deploy_configuration(auth_enabled=True)
    )
    assert service.auth_enabled
    panel = _panel(panels, service, sample='{"data": [4]}')
    _send(panel)
    assert panel.last_response.status == 200 and panel.last_response.json() == {"scaled": [12.0]}
    panel.lt_requests.value, panel.lt_concurrency.value = 10, 2
    panel.run_button.click()
    assert panel.wait(60)
    assert (panel.last_load_test.ok, panel.last_load_test.errors_by_status) == (10, {})
    # without the key the server refuses, and the panel shows it
    panel.headers_text.value = "Authorization: Bearer wrong-key-123"
    text = _send(panel)
    assert panel.last_response.status == 401 and "Unauthorized" in text


def test_stop_ends_a_running_load_test(make_service, panels) -> None:
    service = make_service("scale", SCALE)
    panel = _panel(panels, service, sample={"data": [0.05]})  # 50 ms per request
    panel.lt_requests.value, panel.lt_concurrency.value = 2000, 2
    panel.run_button.click()
    assert panel.run_button.disabled and not panel.stop_button.disabled
    _until(lambda: panel.lt_progress.value > 0)
    panel.run_button.click()  # a second run while one runs: refused in the panel
    assert "running already" in visible_text(panel)
    panel.stop_button.click()
    assert panel.wait(30)
    result = panel.last_load_test
    assert result.stopped == "cancelled" and 0 < result.sent < 2000
    assert f"Stopped (cancelled) after {result.sent} requests" in " ".join(
        visible_text(panel).split()
    )
    assert not panel.run_button.disabled and panel.stop_button.disabled


@pytest.mark.docker
def test_send_to_a_docker_service(
    make_service, panels, docker_client, base_image, monkeypatch
) -> None:
    from jupyter_mldeploy.deploy.docker import LocalWebservice

    monkeypatch.setenv("MLDEPLOY_BASE_IMAGE", base_image)
    wanted = {"label": ["mldeploy.managed=true", "mldeploy.stage=env"]}
    before = {i.id for i in docker_client.images.list(all=True, filters=wanted)}
    service = None
    try:
        service = make_service(
            "dockscale", SCALE, LocalWebservice.deploy_configuration(), timeout=600
        )
        assert type(service).__name__ == "LocalWebservice"
        panel = _panel(panels, service, sample={"data": [2.5]})
        text = _send(panel)
        assert panel.last_response.status == 200
        assert panel.last_response.json() == {"scaled": [7.5]} and "7.5" in text
    finally:
        if service is not None:
            service.delete(delete_image=True)
        for image in docker_client.images.list(all=True, filters=wanted):
            if image.id not in before:
                docker_client.images.remove(image.id, force=True)


#: @rawhttp: 415 unless the request has exactly one Content-Type, text/csv; else every third
#: request answers 503 at once and the others wait 20 ms in run() and answer 200.
CSV_FLAKY = textwrap.dedent(
    """
    import time
    from azureml.contrib.services.aml_request import rawhttp
    from azureml.contrib.services.aml_response import AMLResponse

    count = 0

    def init():
        pass

    @rawhttp
    def run(request):
        global count
        got = request.headers.get("Content-Type")
        if got != "text/csv":
            return AMLResponse(f"wanted one Content-Type text/csv, got {got!r}", 415)
        count += 1
        if count % 3 == 0:
            return AMLResponse("busy", 503)
        time.sleep(0.02)
        return AMLResponse("ok", 200)
    """
)


@pytest.fixture
def csv_server(tmp_path: Path) -> Iterator[Any]:
    from jupyter_mldeploy.client.server import ScoringServer

    path = tmp_path / "csv_flaky.py"
    path.write_text(CSV_FLAKY)
    server = ScoringServer(path, port=0).start()
    try:
        server.wait_ready(timeout=60)
        yield server
    finally:
        server.stop()


def test_typed_content_type_wins_for_send_and_load_test_and_2xx_latencies_apart(
    csv_server, panels
) -> None:
    panel = _panel(panels, csv_server.url, sample="a,b\n1,2\n")
    panel.content_type.value = "text/plain"  # the dropdown says one thing...
    panel.headers_text.value = "Content-Type: text/csv"  # ...the typed header wins, in both
    _send(panel)
    assert panel.last_response.status == 200
    panel.lt_requests.value, panel.lt_concurrency.value = 30, 1
    panel.run_button.click()
    assert panel.wait(60)
    result = panel.last_load_test
    assert 415 not in result.errors_by_status, result.error_samples
    assert result.errors_by_status == {503: 10} and result.ok == 20  # requests 3, 6, ... of 30
    words = " ".join(visible_text(panel).split("== Load test ==")[1].split())
    assert "sent 30 of 30 · ok 20 · errors 10" in words
    assert "latency of p50 p95 p99 min max" in words
    all_row = f"all answers {result.p50 * 1000:.2f} ms {result.p95 * 1000:.2f} ms"
    ok_row = f"2xx answers {result.ok_p50 * 1000:.2f} ms {result.ok_p95 * 1000:.2f} ms"
    assert all_row in words and ok_row in words, words
    assert min(result.ok_latencies) >= 0.02  # every 2xx answer waited in run()
    assert "503" in words and "10 x" in words and "busy" in words


def test_headers_that_cannot_be_sent_are_refused_in_the_panel(csv_server, panels) -> None:
    panel = _panel(panels, csv_server.url, sample="a,b")
    panel.content_type.value = "text/plain"
    panel.headers_text.value = "Content-Type: text/csv\nX-User: \u65e5\u672c"
    panel.send_button.click()
    assert panel.wait(10)
    text = " ".join(visible_text(panel).split())
    assert "header 'X-User' has characters that cannot be sent in an HTTP header" in text
    assert "Nothing was sent" in text and panel.history_list.options == ()
    assert "sending" not in panel.response_status.value and not panel.send_button.disabled
    panel.run_button.click()
    assert panel.wait(10)
    assert panel.last_load_test is None and not panel.run_button.disabled
    assert "header 'X-User'" in visible_text(panel.status)


def test_an_unexpected_send_error_resets_the_status_and_goes_to_history(
    csv_server, panels, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mldeploy.client.client import ScoringClient

    def broken(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the client broke on purpose")

    panel = _panel(panels, csv_server.url, sample="a,b")
    panel.content_type.value = "text/plain"
    panel.headers_text.value = "Content-Type: text/csv"
    monkeypatch.setattr(ScoringClient, "request", broken)
    panel.send_button.click()
    assert panel.wait(10)
    assert (
        "no answer" in panel.response_status.value and "sending" not in panel.response_status.value
    )
    assert "#cf222e" in panel.response_status.value
    text = visible_text(panel)
    assert "RuntimeError: the client broke on purpose" in text  # with its traceback
    assert panel.errors.layout.display is None and "Traceback" in text
    labels = [label for label, _ in panel.history_list.options]
    assert len(labels) == 1 and "no answer" in labels[0] and labels[0].endswith("a,b")
    assert not panel.send_button.disabled and panel.send_button.description == "Send"

    monkeypatch.undo()  # the next Send works again
    _send(panel)
    assert panel.last_response.status == 200 and len(panel.history_list.options) == 2


def test_a_silent_service_never_blocks_the_panel_and_a_late_example_keeps_edits(panels) -> None:
    import http.server
    import socket
    import threading

    # a port that accepts connections and never answers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        panel = _panel(panels, f"http://127.0.0.1:{silent.getsockname()[1]}")
        assert panel._example_thread is not None and panel._example_thread.is_alive()
        assert panel.editor.value == '{"data": []}'  # usable at once
        assert panel.wait(15)  # the fetch gives up after EXAMPLE_TIMEOUT
        assert "No swagger example" in visible_text(panel.status)
        assert panel.editor.value == '{"data": []}' and not panel.example_button.disabled
    finally:
        silent.close()

    # a swagger.json that comes late: it fills an untouched editor, never an edited one
    release = threading.Event()
    doc = json.dumps(
        {"paths": {"/score": {"post": {"parameters": [{"in": "body", "example": {"data": [7]}}]}}}}
    ).encode()

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            release.wait(10)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(doc)))
            self.end_headers()
            self.wfile.write(doc)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        untouched, edited = _panel(panels, url), _panel(panels, url)
        edited.editor.value = '{"data": ["mine"]}'
        release.set()
        assert untouched.wait(15) and edited.wait(15)
        assert json.loads(untouched.editor.value) == {"data": [7]}
        assert edited.editor.value == '{"data": ["mine"]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
