"""OpenTelemetry tracing: spans per request with run() as a child, traceparent honoured, zero imports when off.

In process with the SDK's in-memory exporter (the real scoring app over ASGI), and end to end
with a really listening ``mldeploy serve --otel-endpoint`` exporting OTLP/HTTP protobuf to a
receiver in the test (tests/otlp_receiver.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from otlp_receiver import OtlpReceiver
from test_server_support import post, script, serve, wait_until

from jupyter_mldeploy._net import free_port
from jupyter_mldeploy.errors import ServerStartError
from jupyter_mldeploy.scoring import tracing
from jupyter_mldeploy.scoring.app import create_app
from jupyter_mldeploy.scoring.entry_script import load_entry_script
from jupyter_mldeploy.scoring.settings import ServeSettings
from jupyter_mldeploy.scoring.signals import with_signals

__all__ = ["serve"]

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


async def _asgi_requests(app, requests):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return [await client.request(method, path, content=body, headers=headers)
                for method, path, body, headers in requests]


@pytest.fixture
def traced_app():
    entry = load_entry_script(script("plain_json"))
    entry.init()
    settings = ServeSettings(entry_script=str(script("plain_json")), otel=True, service_name="ridge-svc",
                             models=("ridge:3",))
    app = create_app(entry, settings)
    exporter = InMemorySpanExporter()
    served, close = with_signals(app, settings, exporter)
    yield served, exporter
    close()
    app.runner.close()


def test_a_request_is_a_server_span_with_run_as_its_child(traced_app) -> None:
    served, exporter = traced_app
    body = json.dumps({"data": [[1, 2, 3]]}).encode()
    (answer,) = asyncio.run(_asgi_requests(served, [("POST", "/score", body, {"content-type": "application/json",
                                                                     "x-request-id": "trace-1"})]))
    assert answer.status_code == 200
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"POST /score", "run"}
    server, run = spans["POST /score"], spans["run"]
    assert server.kind == SpanKind.SERVER
    assert dict(server.attributes) == {
        "http.request.method": "POST", "http.route": "/score", "url.path": "/score", "mldeploy.model": "ridge",
        "http.response.status_code": 200, "mldeploy.request_id": "trace-1",
    }
    assert server.resource.attributes["service.name"] == "ridge-svc"
    assert server.parent is None  # no traceparent: a new trace
    assert run.parent is not None and run.parent.span_id == server.context.span_id
    assert run.context.trace_id == server.context.trace_id
    assert run.attributes["mldeploy.request_id"] == "trace-1"
    assert run.attributes["mldeploy.run.status"] == 200
    assert server.start_time <= run.start_time <= run.end_time <= server.end_time


def test_traceparent_makes_the_server_span_the_callers_child_and_errors_are_marked(traced_app) -> None:
    served, exporter = traced_app
    infer = json.dumps({"inputs": [{"name": "data", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]})
    answers = asyncio.run(_asgi_requests(served, [
        ("POST", "/v2/models/ridge/versions/3/infer", infer.encode(), {"traceparent": TRACEPARENT,
                                                                        "content-type": "application/json"}),
        ("POST", "/score", b"{oops", {"traceparent": TRACEPARENT, "content-type": "application/json"}),
        ("GET", "/ready", b"", {}),  # probes are not traced
    ]))
    assert [a.status_code for a in answers] == [200, 400, 200]
    finished = exporter.get_finished_spans()
    servers = [s for s in finished if s.kind == SpanKind.SERVER]
    assert [s.name for s in servers] == ["POST /v2/models/{name}/versions/{version}/infer", "POST /score"]
    for span in servers:
        assert format(span.context.trace_id, "032x") == CALLER_TRACE
        assert format(span.parent.span_id, "016x") == CALLER_SPAN
        assert span.parent.is_remote
    assert servers[0].attributes["mldeploy.model"] == "ridge"
    assert servers[0].attributes["http.response.status_code"] == 200
    assert servers[1].attributes["http.response.status_code"] == 400
    runs = [s for s in finished if s.name == "run"]
    assert len(runs) == 2 and {r.parent.span_id for r in runs} == {s.context.span_id for s in servers}


def test_a_500_marks_the_span_as_an_error() -> None:
    entry = load_entry_script(script("http_run_raises"))
    entry.init()
    settings = ServeSettings(entry_script=str(script("http_run_raises")), otel=True)
    app = create_app(entry, settings)
    exporter = InMemorySpanExporter()
    served, close = with_signals(app, settings, exporter)
    try:
        (answer,) = asyncio.run(_asgi_requests(served, [("POST", "/score", b'{"fail": true}',
                                                   {"content-type": "application/json"})]))
    finally:
        close()
        app.runner.close()
    assert answer.status_code >= 500
    server = next(s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER)
    assert server.status.status_code == StatusCode.ERROR


def test_tracing_off_imports_nothing_of_opentelemetry_and_on_does(serve) -> None:
    body = json.dumps({"x": 1})
    off = serve("signals_probe")
    assert json.loads(post(off, body).body)["otel_imported"] is False
    with OtlpReceiver() as receiver:
        on = serve("signals_probe", otel_endpoint=receiver.url)
        assert json.loads(post(on, body).body)["otel_imported"] is True


def test_a_missing_extra_is_a_clear_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "_find", lambda name: None)
    with pytest.raises(ServerStartError, match=r"pip install 'jupyter-mldeploy\[otel\]'"):
        tracing.check_available()


def test_mldeploy_serve_exports_spans_over_otlp_http_to_a_real_receiver(tmp_path) -> None:
    port = free_port()
    with OtlpReceiver() as receiver:
        env = dict(os.environ, OTEL_BSP_SCHEDULE_DELAY="100", MLDEPLOY_SERVICE_NAME="otlp-svc")
        mldeploy = os.path.join(os.path.dirname(sys.executable), "mldeploy")
        proc = subprocess.Popen(
            [mldeploy, "serve", "--entry-script", str(script("plain_json")), "--port", str(port),
             "--otel-endpoint", receiver.url, "--model-name", "ridge:1"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                try:
                    return httpx.get(f"{url}/ready", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(ready, 60, "mldeploy serve ready")
            answer = httpx.post(f"{url}/score", content=json.dumps({"data": [[1, 2, 3]]}),
                                headers={"content-type": "application/json", "traceparent": TRACEPARENT,
                                         "x-request-id": "otlp-1"}, timeout=10)
            assert answer.status_code == 200
            spans = receiver.wait_for(lambda got: {"POST /score", "run"} <= {s["name"] for s in got})
        finally:
            proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=30)[0].decode()
        assert proc.returncode == 0, out
    server = next(s for s in spans if s["name"] == "POST /score")
    run = next(s for s in spans if s["name"] == "run")
    assert server["kind"] == 2  # SPAN_KIND_SERVER in OTLP
    assert server["trace_id"] == CALLER_TRACE and server["parent_span_id"] == CALLER_SPAN
    assert server["attributes"]["mldeploy.request_id"] == "otlp-1"
    assert server["attributes"]["http.response.status_code"] == 200
    assert server["attributes"]["http.route"] == "/score"
    assert server["attributes"]["mldeploy.model"] == "ridge"
    assert server["resource"]["service.name"] == "otlp-svc"
    assert run["parent_span_id"] == server["span_id"] and run["trace_id"] == CALLER_TRACE
    assert server["start"] <= run["start"] <= run["end"] <= server["end"]

