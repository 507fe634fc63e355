"""What the browser sends, checked: the JSON bodies of POST requests and the numbers in query strings.

Each parser returns a small frozen dataclass or raises
:class:`~jupyter_mldeploy.errors.InvalidArgumentError` (answered 400) naming the field and
what it takes. Values only the core can judge (a service name, a target, a port's range)
are passed on for the core to check, so each rule lives once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..client.bodies import json_body
from ..errors import InvalidArgumentError

__all__ = ["DeployRequest", "ScoreRequest", "json_object", "whole_number"]


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises
    ------
    InvalidArgumentError
        The body is not JSON, or not an object (the message says where it broke).
    """
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as err:
        where = f" at line {err.lineno}, column {err.colno}" if isinstance(err, json.JSONDecodeError) else ""
        raise InvalidArgumentError(
            f"the request body is not JSON ({err.__class__.__name__}{where}): send a JSON object, "
            'e.g. {"name": "ridge-svc", "models": ["ridge"], "entry_script": "score.py"}.'
        ) from err
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"the request body must be a JSON object, got {type(data).__name__}.")
    return data


def whole_number(raw: str | None, what: str, default: int, low: int, high: int) -> int:
    """A query argument as a whole number from ``low`` to ``high`` (``default`` when absent).

    Raises
    ------
    InvalidArgumentError
        It is not a whole number in range.
    """
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdecimal()) or not low <= int(raw) <= high:
        raise InvalidArgumentError(f"{what} must be a whole number from {low} to {high}, got {raw!r}.")
    return int(raw)


def _fields(data: Mapping[str, Any], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InvalidArgumentError(
            f"{what}: unknown field(s) {', '.join(map(repr, unknown))}; the fields are {', '.join(known)}."
        )


def _text(data: Mapping[str, Any], key: str, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or (value == "" and not required):
        if required:
            raise InvalidArgumentError(f"{key!r} is required: give it as a string.")
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{key!r} must be a string, got {type(value).__name__} {value!r}.")
    return value


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{key!r} must be true or false, got {value!r}.")
    return value


@dataclass(frozen=True)
class DeployRequest:
    """``POST deployments``: the parameters of ``%deploy_local`` (paths relative to the Jupyter root)."""

    FIELDS = ("name", "models", "entry_script", "source_dir", "env_file", "target", "port", "overwrite",
              "auth_enabled")

    name: str
    models: tuple[str, ...]
    entry_script: str
    source_dir: str | None = None
    env_file: str | None = None
    target: str | None = None
    port: int | None = None
    overwrite: bool = False
    auth_enabled: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeployRequest:
        """Check the body's fields; raise InvalidArgumentError naming the first wrong one."""
        _fields(data, cls.FIELDS, "POST deployments")
        models = data.get("models")
        if isinstance(models, str):
            models = [models]
        if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
            raise InvalidArgumentError(
                f"'models' must be a list of registered models as NAME or NAME:VERSION, e.g. [\"ridge:2\"]; got {models!r}."
            )
        port = data.get("port")
        if isinstance(port, str):  # as typed in a form: blank is a free port
            port = None if not port.strip() else int(port) if port.strip().isascii() and port.strip().isdecimal() else port
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
            raise InvalidArgumentError(
                f"'port' must be a whole number from 1 to 65535, or blank or null for a free port; got {port!r}."
            )
        return cls(
            name=str(_text(data, "name", required=True)),
            models=tuple(models),
            entry_script=str(_text(data, "entry_script", required=True)),
            source_dir=_text(data, "source_dir"),
            env_file=_text(data, "env_file"),
            target=_text(data, "target"),
            port=port,
            overwrite=_flag(data, "overwrite"),
            auth_enabled=_flag(data, "auth_enabled"),
        )


@dataclass(frozen=True)
class ScoreRequest:
    """``POST services/NAME/score``: the body text, its content type, extra headers and the method."""

    FIELDS = ("body", "content_type", "headers", "method")

    body: str = ""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScoreRequest:
        """Check the body's fields; raise InvalidArgumentError naming the first wrong one."""
        _fields(data, cls.FIELDS, "POST services/NAME/score")
        method = (_text(data, "method") or "POST").upper()
        if method not in ("POST", "GET"):
            raise InvalidArgumentError(f"'method' must be POST or GET, got {method!r}.")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict):
            raise InvalidArgumentError(f"'headers' must be an object of header names to values, got {headers!r}.")
        return cls(
            body=_text(data, "body") or "",
            content_type=_text(data, "content_type") or "application/json",
            headers={str(k): str(v) for k, v in headers.items()},
            method=method,
        )

    def encoded(self) -> bytes | None:
        """The bytes to send: none for GET, checked JSON for a JSON content type, else the text as UTF-8.

        Raises
        ------
        InvalidArgumentError
            The content type is JSON and the text is not (line and column named).
        """
        if self.method == "GET":
            return None
        if "json" in self.content_type.lower():
            return json_body(self.body)
        return self.body.encode("utf-8")

    def send_headers(self) -> dict[str, str]:
        """The extra headers, with ``Content-Type`` added when a body is sent and none was given."""
        if self.method == "GET" or any(k.lower() == "content-type" for k in self.headers):
            return dict(self.headers)
        return {"Content-Type": self.content_type, **self.headers}
