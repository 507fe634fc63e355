"""The Open Inference Protocol v2 REST routes (``/v2/...``), beside ``/score``, for every service.

:class:`OipRoute` is mixed into :class:`~jupyter_mldeploy.scoring.app.ScoringApp` like
:class:`~.score_route.ScoreRoute`:

``GET /v2``                                          server metadata (name, version, extensions)
``GET /v2/health/live``, ``/v2/health/ready``        liveness, readiness (open to probes)
``GET /v2/models/NAME[/versions/V]``                 model metadata: inputs and outputs from the schema
``GET /v2/models/NAME[/versions/V]/ready``           model readiness (open to probes)
``POST /v2/models/NAME[/versions/V]/infer``          inference: tensors in, tensors out

The model names and versions are the deployment's (``ServeSettings.models``). ``infer``
runs the entry script exactly as ``/score`` does (:meth:`ScoreRoute._run_entry`), with
the body :func:`~.oip_mapping.script_body` builds; errors answer ``{"error": "..."}``.
Auth (``Authorization: Bearer``) applies to metadata and ``infer`` as it does to ``/score``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from .asgi import JSON, Receive, Scope, Send, send_response
from .contract import ScoringRequest
from .guards import CLIENT_GONE, ClientGone, authorized, read_body
from .metrics import IN_FLIGHT
from .oip_mapping import model_io, outputs_from_answer, script_body
from .oip_tensors import HEADER_LENGTH, OipError, Tensor, decode_request, encode_response
from .score_route import ScoreRoute
from .settings import ServeSettings

__all__ = ["OipRoute", "model_table", "server_version"]

_SKIP_HEADERS = frozenset({"content-type", "content-length", "content-encoding", HEADER_LENGTH.decode()})
_EXTENSIONS = ["binary_tensor_data"]


def model_table(settings: ServeSettings) -> dict[str, list[str]]:
    """The OIP model names of a server and their versions (``NAME:VERSION`` ids; default: the service or script).

    Examples
    --------
    >>> model_table(ServeSettings(entry_script="score.py", models=("ridge:1", "ridge:2", "scaler")))
    {'ridge': ['1', '2'], 'scaler': []}
    >>> model_table(ServeSettings(entry_script="app/score.py"))
    {'score': []}
    """
    table: dict[str, list[str]] = {}
    for model in settings.models:
        name, _, version = model.partition(":")
        versions = table.setdefault(name, [])
        if version and version not in versions:
            versions.append(version)
    if not table:
        default = settings.service_name
        if default == "mldeploy":
            default = settings.script_path.stem
        table[default] = []
    return table


def server_version() -> str:
    try:
        from importlib.metadata import version

        return version("jupyter-mldeploy")
    except Exception:  # noqa: BLE001 - metadata missing (a source checkout on PYTHONPATH)
        return "unknown"


class OipRoute(ScoreRoute):
    """``/v2/...`` (and, inherited, ``/score``), mixed into :class:`~jupyter_mldeploy.scoring.app.ScoringApp`."""

    _oip_models: dict[str, list[str]]
    _oip_version: str
    _model_slots: dict[tuple[str, str], int]
    draining: bool

    async def _oip(self, scope: Scope, receive: Receive, send: Send, rid: str, auth: bytes | None,
                   extra: list[tuple[bytes, bytes]], started: float) -> int:
        path: str = scope["path"]
        method: str = scope["method"]
        parts = path.rstrip("/").split("/")[2:]  # "/v2/models/x/infer" -> ["models", "x", "infer"]
        if not parts:
            if (status := await self._oip_method(send, method, "GET", rid, extra)) is not None:
                return status
            if self._keys and not authorized(self._keys, auth):
                return await _unauthorized(send, rid, extra)
            return await _json(send, 200, {"name": "jupyter-mldeploy", "version": self._oip_version,
                                           "extensions": _EXTENSIONS}, rid, extra)
        if parts[0] == "health" and len(parts) == 2 and parts[1] in ("live", "ready"):
            if (status := await self._oip_method(send, method, "GET", rid, extra)) is not None:
                return status
            if parts[1] == "live":
                return await _json(send, 200, {"live": True}, rid, extra)
            ready = self.state.entry is not None and not self.draining  # a draining replica takes no new work
            return await _json(send, 200 if ready else 503, {"ready": ready}, rid, extra)
        if parts[0] != "models" or len(parts) < 2:
            return await _error(send, 404, f"No route {path}; the OIP routes are /v2, /v2/health/live, "
                                "/v2/health/ready, /v2/models/NAME[/versions/V][/ready|/infer].", rid, extra)
        name, rest = parts[1], parts[2:]
        version = None
        if len(rest) >= 2 and rest[0] == "versions":
            version, rest = rest[1], rest[2:]
        action = rest[0] if len(rest) == 1 else "" if not rest else None
        if action not in ("", "ready", "infer"):
            return await _error(send, 404, f"No route {path}: after /v2/models/NAME[/versions/V] come nothing "
                                "(metadata), /ready or /infer.", rid, extra)
        known = self._oip_models.get(name)
        if known is None:
            served = ", ".join(f"{n}" + (f" (versions {', '.join(v)})" if v else "") for n, v in self._oip_models.items())
            return await _error(send, 404, f"Unknown model {name!r}: this server serves {served}.", rid, extra)
        if version is not None and version not in known:
            have = f"versions {', '.join(known)}" if known else "no versions (leave /versions/V out)"
            return await _error(send, 404, f"Model {name!r} has no version {version!r}: it has {have}.", rid, extra)
        if action == "infer":
            if (status := await self._oip_method(send, method, "POST", rid, extra)) is not None:
                return status
            if self._keys and not authorized(self._keys, auth):
                return await _unauthorized(send, rid, extra)
            self.metrics.add(IN_FLIGHT, 1)
            try:
                status, run_ms = await self._infer(scope, receive, send, rid, extra, name, version, known)
            finally:
                self.metrics.add(IN_FLIGHT, -1)
            self.metrics.observe(status, time.perf_counter() - started, None if run_ms is None else run_ms / 1000.0)
            label = (name, version or (known[0] if len(known) == 1 else ""))
            self.metrics.count_model(self._model_slots.get(label, 0), 1, status)
            return status
        if (status := await self._oip_method(send, method, "GET", rid, extra)) is not None:
            return status
        entry = self.state.entry
        if action == "ready":
            ready = entry is not None and not self.draining
            return await _json(send, 200 if ready else 503, {"name": name, "ready": ready}, rid, extra)
        if self._keys and not authorized(self._keys, auth):
            return await _unauthorized(send, rid, extra)
        if entry is None:
            return await _error(send, 503, "The model is not ready: its entry script's init() has not succeeded "
                                "(see GET /ready).", rid, extra)
        inputs, outputs = model_io(entry.schema)
        meta = {"name": name, "versions": [version] if version else known, "platform": "jupyter-mldeploy",
                "inputs": inputs, "outputs": outputs}
        return await _json(send, 200, meta, rid, extra)

    async def _oip_method(self, send: Send, method: str, allowed: str, rid: str,
                          extra: list[tuple[bytes, bytes]]) -> int | None:
        if method == allowed or (allowed == "GET" and method == "HEAD"):
            return None
        allow = [(b"allow", f"{allowed}, OPTIONS".encode())]
        if method == "OPTIONS":
            await send_response(send, 200, b"", None, rid, extra + allow, None)
            return 200
        return await _error(send, 405, f"{method} is not supported here; use {allowed}.", rid, extra + allow)

    async def _infer(self, scope: Scope, receive: Receive, send: Send, rid: str, extra: list[tuple[bytes, bytes]],
                     name: str, version: str | None, known: list[str]) -> tuple[int, float | None]:
        entry = self.state.entry
        if entry is None:
            return await _error(send, 503, "The model is not ready: its entry script's init() has not succeeded "
                                "(see GET /ready).", rid, extra), None
        header_length: int | None = None
        headers: list[tuple[str, str]] = [("content-type", "application/json")]
        for key, value in scope["headers"]:
            if key == HEADER_LENGTH:
                if not value.strip().isdigit():
                    return await _error(send, 400, "Inference-Header-Content-Length must be a number of bytes.",
                                        rid, extra), None
                header_length = int(value)
            text = key.decode("latin-1")
            if text not in _SKIP_HEADERS:
                headers.append((text, value.decode("latin-1")))
        try:
            body = await read_body(receive, self._limit)
        except ClientGone:
            return CLIENT_GONE, None
        if body is None:
            return await _error(send, 413, f"The request body is larger than the server's limit of "
                                f"{self.settings.max_body_mb:g} MB (--max-body-mb).", rid,
                                extra + [(b"connection", b"close")]), None
        try:
            request, inputs = decode_request(body, header_length)
            wanted = _requested_outputs(request)
            script_input = json.dumps(script_body(entry.schema, inputs)).encode()
        except OipError as err:
            return await _error(send, err.status, str(err), rid, extra), None
        scoring_request = ScoringRequest("POST", scope["path"], "", headers, script_input, rid)
        response = await self._run_entry(entry, scoring_request)
        body_out = response.body
        if not isinstance(body_out, (bytes, bytearray, memoryview)):  # a streamed answer: gather it
            body_out = await self.runner.call(_join, body_out)
        if response.status >= 400:
            status = 400 if response.status in (415, 422) else response.status
            pairs = response.headers.items() if isinstance(response.headers, dict) else response.headers
            retry = next((v for k, v in pairs if k.lower() == "retry-after"), None)
            more = [(b"retry-after", retry.encode())] if retry else []
            return await _error(send, status, _error_message(bytes(body_out)), rid, extra + more), response.run_ms
        try:
            outputs = _answer_tensors(entry.schema, response.content_type, bytes(body_out))
            outputs = _select(outputs, wanted)
        except OipError as err:
            return await _error(send, err.status, str(err), rid, extra), response.run_ms
        head: dict[str, Any] = {"model_name": name, "id": str(request.get("id") or rid)}
        if version or len(known) == 1:
            head["model_version"] = version or known[0]
        params = request.get("parameters") or {}
        binary = bool(params.get("binary_data_output", False)) if isinstance(params, dict) else False
        payload, json_length = encode_response(head, outputs, binary)
        if json_length is None:
            await send_response(send, 200, payload, JSON, rid, extra, response.run_ms)
        else:
            await send_response(send, 200, payload, b"application/octet-stream", rid,
                                extra + [(HEADER_LENGTH, str(json_length).encode())], response.run_ms)
        return 200, response.run_ms


def _join(body: Iterable[bytes]) -> bytes:
    return b"".join(bytes(chunk) for chunk in body)


def _requested_outputs(request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]] | None:
    raw = request.get("outputs")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in raw):
        raise OipError('"outputs" must be a list of objects with a "name"')
    return [(o["name"], o.get("parameters") if isinstance(o.get("parameters"), dict) else {}) for o in raw]


def _select(outputs: list[Tensor], wanted: list[tuple[str, dict[str, Any]]] | None) -> list[Tensor]:
    if wanted is None:
        return outputs
    by_name = {t.name: t for t in outputs}
    chosen = []
    for name, params in wanted:
        tensor = by_name.get(name)
        if tensor is None:
            raise OipError(f"unknown output {name!r}: this answer has the output(s) {', '.join(by_name)}")
        tensor.parameters = dict(params)
        chosen.append(tensor)
    return chosen


def _answer_tensors(schema: Any, content_type: str, body: bytes) -> list[Tensor]:
    if content_type.split(";", 1)[0].strip().lower() in ("application/json", ""):
        try:
            return outputs_from_answer(schema, json.loads(body))
        except ValueError:
            pass
    return [Tensor("output-0", "BYTES", [1], [body])]


def _error_message(body: bytes) -> str:
    try:
        error = json.loads(body)["error"]
        return str(error["message"]) if isinstance(error, dict) else str(error)
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace")[:2000]


async def _json(send: Send, status: int, payload: dict[str, Any], rid: str, extra: list[tuple[bytes, bytes]]) -> int:
    await send_response(send, status, json.dumps(payload).encode(), JSON, rid, extra, None)
    return status


async def _error(send: Send, status: int, message: str, rid: str, extra: list[tuple[bytes, bytes]]) -> int:
    """The OIP error answer: ``{"error": message}``."""
    return await _json(send, status, {"error": message}, rid, extra)


async def _unauthorized(send: Send, rid: str, extra: list[tuple[bytes, bytes]]) -> int:
    return await _error(send, 401, "Missing or wrong key: send the header 'Authorization: Bearer <key>' with one of "
                        "the service's keys.", rid, extra + [(b"www-authenticate", b"Bearer")])
