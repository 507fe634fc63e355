"""A tiny OTLP/HTTP trace receiver on 127.0.0.1 for tests: it decodes the exporter's protobuf POSTs.

``with OtlpReceiver() as receiver:`` listens on a free loopback port (``host=`` another of this
machine's addresses, e.g. the Docker bridge's, for containers to reach); point a server's
``--otel-endpoint`` (or ``OTEL_EXPORTER_OTLP_ENDPOINT``) at ``receiver.url``, then
``receiver.wait_for(lambda spans: ...)`` gives the spans received so far as plain dicts
(name, kind, trace/span/parent ids in hex, attributes, status code, resource attributes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class OtlpReceiver:
    """Receives ``POST /v1/traces`` (``application/x-protobuf``) and keeps the decoded spans."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.spans: list[dict[str, Any]] = []
        self.posts = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path != "/v1/traces" or "protobuf" not in (self.headers.get("content-type") or ""):
                    self.send_response(404)
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver._take(request)
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _take(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            self.posts += 1
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append({
                            "name": span.name, "kind": span.kind, "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(), "parent_span_id": span.parent_span_id.hex(),
                            "attributes": {a.key: _value(a.value) for a in span.attributes},
                            "status": span.status.code, "resource": resource,
                            "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
                        })

    def wait_for(self, condition: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0) -> list[dict[str, Any]]:
        """The spans once ``condition(spans)`` holds (polled, bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = list(self.spans)
            if condition(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"the OTLP receiver did not get the spans within {timeout}s; got {spans}")
            time.sleep(0.05)

    def __enter__(self) -> OtlpReceiver:  # noqa: PYI034 - Self needs Python 3.11
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def request_spans(
    spans: list[dict[str, Any]], request_id: str, caller: tuple[str, str], service_name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``POST /score`` span and its ``run`` child, checked: the request id, the caller's
    ``traceparent`` (``caller`` = (trace id, span id)) honoured, and the service's name."""
    server = next(s for s in spans if s["name"] == "POST /score")
    run = next(s for s in spans if s["name"] == "run")
    assert server["attributes"]["mldeploy.request_id"] == request_id
    assert (server["trace_id"], server["parent_span_id"]) == caller  # traceparent honoured
    assert run["parent_span_id"] == server["span_id"]
    assert server["resource"]["service.name"] == service_name
    return server, run
