"""OpenTelemetry traces of scoring requests (off by default; ``--otel`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``).

With tracing on, every ``/score`` and OIP ``infer`` request (and the other routes, except
health probes and ``/metrics``) gets a SERVER span named ``METHOD ROUTE`` (``POST /score``,
``POST /v2/models/{name}/infer``) with the method, the route, the status, the request id
(``mldeploy.request_id``) and the model name (``mldeploy.model``) as attributes; the
script's ``run()`` is a child span ``run``. A W3C ``traceparent`` (and ``tracestate``) on
the request makes the server span a child of the caller's. Spans go to an OTLP/HTTP
receiver (``otel_endpoint``, else the SDK's ``OTEL_EXPORTER_OTLP_*`` variables, else
``http://localhost:4318``) through the SDK's batch processor, flushed when a worker stops.

The official ``opentelemetry-api``/``-sdk``/``-exporter-otlp-proto-http`` packages are
the optional extra ``jupyter-mldeploy[otel]``, imported only here and only when tracing
is on: with it off, nothing of OpenTelemetry is imported and a request pays one
attribute check (``ScoreRoute.tracing is None``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import ServerStartError
from .asgi import Message, Receive, Scope, Send
from .contract import ScoringRequest, ScoringResponse
from .settings import ServeSettings

__all__ = ["Tracing", "TracingMiddleware", "check_available", "route_of"]

_PACKAGES = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
_UNTRACED = frozenset({"/", "/ready", "/metrics", "/v2/health/live", "/v2/health/ready"})
_CONTEXT_HEADERS = (b"traceparent", b"tracestate")


def check_available() -> None:
    """Raise :class:`ServerStartError` naming the extra when OpenTelemetry is not installed (nothing imported)."""
    missing = [name for name in _PACKAGES if _find(name) is None]
    if missing:
        raise ServerStartError(
            "tracing is on (--otel, MLDEPLOY_OTEL or OTEL_EXPORTER_OTLP_ENDPOINT) but OpenTelemetry is not "
            f"installed here ({', '.join(missing)} missing): pip install 'jupyter-mldeploy[otel]' "
            "(for a deployment, add opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http to its "
            "environment's pip packages), or turn tracing off"
        )


def _find(name: str) -> Any:
    try:
        return importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None


def route_of(path: str) -> tuple[str, str | None]:
    """The span's route template and model name of a request path.

    Examples
    --------
    >>> route_of("/v2/models/ridge/versions/2/infer")
    ('/v2/models/{name}/versions/{version}/infer', 'ridge')
    >>> route_of("/score")
    ('/score', None)
    """
    if path.startswith("/v2/models/"):
        parts = path.rstrip("/").split("/")[3:]
        if not parts:
            return "/v2/models", None
        template = ["{name}"]
        rest = parts[1:]
        if len(rest) >= 2 and rest[0] == "versions":
            template += ["versions", "{version}"]
            rest = rest[2:]
        return "/v2/models/" + "/".join(template + rest), parts[0]
    return path, None


class Tracing:
    """One worker's tracer provider, exporter and propagator (built only when tracing is on).

    Parameters
    ----------
    settings
        The server's settings (service name, models, ``otel_endpoint``).
    exporter
        A span exporter to use instead of OTLP/HTTP (tests: the SDK's ``InMemorySpanExporter``,
        exported synchronously).
    """

    def __init__(self, settings: ServeSettings, exporter: Any = None) -> None:
        check_available()
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        from .._version import __version__

        resource = Resource.create({"service.name": settings.service_name, "service.version": __version__,
                                    "telemetry.sdk.name": "opentelemetry"})
        self.provider = TracerProvider(resource=resource)
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = settings.otel_endpoint
            if endpoint and not endpoint.rstrip("/").endswith("/v1/traces"):
                endpoint = endpoint.rstrip("/") + "/v1/traces"
            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint or None)))
        else:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("jupyter_mldeploy.scoring", __version__)
        self._trace = trace
        self._propagator = TraceContextTextMapPropagator()
        self._server_kind = trace.SpanKind.SERVER
        self._error = trace.Status(trace.StatusCode.ERROR)
        self._models = ",".join(m.partition(":")[0] for m in settings.models) or None

    def extract(self, headers: list[tuple[bytes, bytes]]) -> Any:
        """The caller's context from ``traceparent``/``tracestate`` (``None`` without them)."""
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers if k in _CONTEXT_HEADERS}
        return self._propagator.extract(carrier) if carrier else None

    async def run_span(self, call: Callable[[Any, ScoringRequest], Awaitable[ScoringResponse]], entry: Any,
                       request: ScoringRequest) -> ScoringResponse:
        """``await call(entry, request)`` inside a ``run`` span, child of the request's span."""
        with self.tracer.start_as_current_span("run", attributes={"mldeploy.request_id": request.request_id}) as span:
            response = await call(entry, request)
            span.set_attribute("mldeploy.run.status", response.status)
            if response.run_ms is not None:
                span.set_attribute("mldeploy.run.ms", float(response.run_ms))
            if response.status >= 500:
                span.set_status(self._error)
            return response

    def shutdown(self) -> None:
        """Export what is pending and stop the exporter (when a worker stops)."""
        self.provider.shutdown()


class TracingMiddleware:
    """The ASGI app around the scoring app that opens one SERVER span per request (see the module docstring)."""

    def __init__(self, app: Any, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in _UNTRACED:
            await self.app(scope, receive, send)
            return
        tracing = self.tracing
        trace = tracing._trace
        method = scope["method"]
        route, model = route_of(path)
        attributes: dict[str, Any] = {"http.request.method": method, "http.route": route, "url.path": path}
        if model or tracing._models:
            attributes["mldeploy.model"] = model or tracing._models
        span = tracing.tracer.start_span(f"{method} {route}", context=tracing.extract(scope["headers"]),
                                         kind=tracing._server_kind, attributes=attributes)
        seen: dict[str, Any] = {"status": 0, "rid": ""}

        async def traced_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for name, value in message.get("headers") or ():
                    if name == b"x-request-id":
                        seen["rid"] = value.decode("latin-1")
                        break
            await send(message)

        with trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
            try:
                await self.app(scope, receive, traced_send)
            finally:
                span.set_attribute("http.response.status_code", seen["status"])
                if seen["rid"]:
                    span.set_attribute("mldeploy.request_id", seen["rid"])
                if seen["status"] >= 500:
                    span.set_status(tracing._error)
