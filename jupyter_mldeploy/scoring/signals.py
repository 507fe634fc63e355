"""Put the production signals a worker's settings ask for around its scoring app: tracing, capture.

:func:`with_signals` returns the ASGI app uvicorn serves and a function that flushes and
closes what was added. With tracing and capture off it returns the scoring app itself:
no middleware, no import of OpenTelemetry, nothing on the request path.

Examples
--------
>>> from jupyter_mldeploy.scoring.settings import ServeSettings
>>> app = object()
>>> served, close = with_signals(app, ServeSettings(entry_script="score.py"))
>>> served is app
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .settings import ServeSettings

__all__ = ["with_signals"]


def with_signals(app: Any, settings: ServeSettings, exporter: Any = None) -> tuple[Any, Callable[[], None]]:
    """``(asgi_app, close)``: ``app`` wrapped in capture (inner) and tracing (outer) as ``settings`` ask.

    ``exporter`` replaces the OTLP exporter (tests pass the SDK's in-memory one).
    """
    served = app
    closers: list[Callable[[], None]] = []
    if settings.capture:
        from .capture import CaptureMiddleware

        capture = CaptureMiddleware(served, settings)
        served = capture
        closers.append(capture.close)
    if settings.tracing:
        from .tracing import Tracing, TracingMiddleware

        tracing = Tracing(settings, exporter)
        app.tracing = tracing  # the run() child span (ScoreRoute._run_entry)
        served = TracingMiddleware(served, tracing)
        closers.append(tracing.shutdown)

    def close() -> None:
        for closer in closers:
            closer()

    return served, close
