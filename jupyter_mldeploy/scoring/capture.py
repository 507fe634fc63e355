"""Request/response capture (off by default; ``--capture``, ``deployment_config(collect_model_data=True)``).

:class:`CaptureMiddleware` sits around the scoring app and keeps a sample
(``capture_sample``) of ``/score`` and OIP ``infer`` requests in
``DATA_DIR/capture.jsonl``, one JSON object a line::

    {"request_id": "...", "time": "2026-12-02T06:01:02.345678Z", "latency_ms": 1.84, "status": 200,
     "method": "POST", "route": "/score", "model": null,
     "input": {"data": [[1, 2]]}, "output": [3.5]}

``input`` and ``output`` are the bodies: parsed JSON when they are JSON, else text;
a binary body (not text, or not UTF-8) is ``{"binary": true, "size": N, "sha256": "...",
"content_type": "..."}``, and a body over ``capture_max_kb`` is
``{"truncated": true, "size": N, "sha256": "...", "head": "first KB as text"}``.
Requests refused for a missing key (401) are not kept. The file is 0600 and rotated at
``capture_rotate_mb`` (:class:`~.jsonl.JsonLinesFile`); the request path only keeps
references to the body chunks: decoding, hashing and JSON writing happen on the
writer's thread.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Any

from .asgi import Message, Receive, Scope, Send
from .jsonl import JsonLinesFile
from .logs import precise_timestamp
from .settings import ServeSettings
from .tracing import route_of

__all__ = ["CAPTURE_FILE", "CaptureMiddleware", "body_value", "captured_route"]

CAPTURE_FILE = "capture.jsonl"


def captured_route(path: str) -> bool:
    """Whether requests to ``path`` are captured: ``/score`` and OIP ``.../infer``."""
    return path == "/score" or (path.startswith("/v2/models/") and path.rstrip("/").endswith("/infer"))


def body_value(data: bytes, content_type: str, limit: int) -> Any:
    """How one body is kept (see the module docstring).

    Examples
    --------
    >>> body_value(b'{"data": [1]}', "application/json", 1024)
    {'data': [1]}
    >>> body_value(b"\\x89PNG", "image/png", 1024)["size"]
    4
    >>> body_value(b"x" * 10, "text/plain", 4)["head"]
    'xxxx'
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    textual = kind == "" or kind.startswith("text/") or "json" in kind or kind.endswith("+xml") or \
        kind in ("application/xml", "application/x-www-form-urlencoded")
    text = None
    if textual:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if text is None:
        return {"binary": True, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                "content_type": kind or None}
    if len(data) > limit:
        return {"truncated": True, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                "head": data[:limit].decode("utf-8", "ignore")}
    if kind == "" or "json" in kind:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _content_type(headers: Any) -> str:
    for name, value in headers or ():
        if name == b"content-type":
            return str(value.decode("latin-1"))
    return ""


class CaptureMiddleware:
    """The ASGI app around the scoring app that keeps sampled requests and answers (module docstring)."""

    def __init__(self, app: Any, settings: ServeSettings, out: JsonLinesFile | None = None) -> None:
        self.app = app
        self.rate = float(settings.capture_sample)
        self.limit = int(settings.capture_max_kb * 1024)
        self.out = out or JsonLinesFile(settings.data_path / CAPTURE_FILE,
                                        int(settings.capture_rotate_mb * 1024 * 1024), encode=self._encode)
        self._random = random.Random().random

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not captured_route(scope["path"]) or \
                (self.rate < 1.0 and self._random() >= self.rate):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        wall = time.time()
        request_chunks: list[bytes] = []
        answer_chunks: list[bytes] = []
        answer: dict[str, Any] = {"status": 0, "rid": "", "type": ""}

        async def capturing_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body")
                if chunk:
                    request_chunks.append(chunk)
            return message

        async def capturing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for name, value in message.get("headers") or ():
                    if name == b"x-request-id":
                        answer["rid"] = value.decode("latin-1")
                    elif name == b"content-type":
                        answer["type"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunk = message.get("body")
                if chunk:
                    answer_chunks.append(chunk)
                if not message.get("more_body", False) and answer["status"] != 401:
                    self.out.add((answer["rid"], wall, (time.perf_counter() - started) * 1000.0, answer["status"],
                                  scope["method"], scope["path"], _content_type(scope["headers"]),
                                  request_chunks, answer["type"], answer_chunks))
            await send(message)

        await self.app(scope, capturing_receive, capturing_send)

    def _encode(self, record: tuple[Any, ...]) -> str:
        """One captured exchange as its JSON line (on the writer's thread)."""
        rid, wall, latency, status, method, path, in_type, in_chunks, out_type, out_chunks = record
        line = {
            "request_id": rid, "time": precise_timestamp(wall), "latency_ms": round(latency, 3), "status": status,
            "method": method, "route": path, "model": route_of(path)[1],
            "input": body_value(b"".join(in_chunks), in_type, self.limit),
            "output": body_value(b"".join(out_chunks), out_type, self.limit),
        }
        return json.dumps(line, separators=(",", ":"), ensure_ascii=False, default=str)

    def close(self) -> None:
        """Write what is pending and close the file."""
        self.out.close()
