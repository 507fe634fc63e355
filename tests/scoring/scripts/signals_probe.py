"""Echoes its input and says whether OpenTelemetry is imported in the worker (tracing must import it only when on)."""

import json
import sys


def init():
    pass


def run(raw_data):
    data = json.loads(raw_data)
    return {"echo": data, "otel_imported": any(name.startswith("opentelemetry") for name in sys.modules)}
