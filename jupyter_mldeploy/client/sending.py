"""Where a hand-made request goes and what it carries (the test panel, the load test, the CLI).

:func:`resolve_target` turns a ``Webservice``, a ``ScoringServer`` or a URL into a
loopback base URL and key; :func:`swagger_example` finds the example body of a service's
``swagger.json``; :func:`encode_body` and :func:`check_headers` make what is sent and
say clearly why something cannot be; :func:`status_label` names an answer's status.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidArgumentError

__all__ = [
    "CLIENT_ERROR", "CONNECTION_ERROR", "check_headers", "encode_body", "resolve_target", "status_label",
    "swagger_example",
]

#: The status recorded for a request that got no HTTP answer (refused, reset, timed out).
CONNECTION_ERROR = 0
#: The status recorded for a request the client itself failed to send (an unexpected error).
CLIENT_ERROR = -1

Body = Any


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_target(target: Any, auth_key: str | None = None) -> tuple[str, str | None]:
    """Return ``(base_url, auth_key)`` for a ``Webservice`` or a loopback URL string.

    A ``Webservice`` gives its scoring URI (which must be on loopback: a local service, a
    port-forward or a local cluster's NodePort) and, when auth is on, its primary key.

    Raises
    ------
    InvalidArgumentError
        The URL is not http on a loopback address, or the service has no port yet.

    Examples
    --------
    >>> resolve_target("http://127.0.0.1:5001/score")
    ('http://127.0.0.1:5001', None)
    """
    if isinstance(target, str):
        parts = urlsplit(target if "://" in target else f"http://{target}")
        host = parts.hostname or ""
        if parts.scheme != "http" or not host:
            raise InvalidArgumentError(
                f"cannot use {target!r} as a service URL; pass e.g. 'http://127.0.0.1:5001' or a Webservice"
            )
        if not _is_loopback(host):
            raise InvalidArgumentError(
                f"refusing to send test traffic to {host!r}: this is a local tool and only targets "
                "loopback addresses (127.0.0.1, localhost, ::1); deploy the service locally and pass its URL"
            )
        try:
            port = parts.port
        except ValueError as err:
            raise InvalidArgumentError(
                f"{target!r} has a bad port ({err}); pass e.g. 'http://127.0.0.1:5001'"
            ) from err
        if port is None:
            raise InvalidArgumentError(f"{target!r} has no port; pass e.g. 'http://127.0.0.1:5001'")
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        prefix = parts.path.rstrip("/").removesuffix("/score")
        return f"http://{netloc}{prefix}", auth_key
    name = getattr(target, "name", None)
    if name is None or not hasattr(target, "auth_enabled"):
        raise InvalidArgumentError(
            f"cannot load-test a {type(target).__name__}; pass a Webservice or a URL such as 'http://127.0.0.1:5001'"
        )
    uri = getattr(target, "scoring_uri", None)
    if not uri:
        state = getattr(target, "state", "?")
        if state == "Deleted":
            raise InvalidArgumentError(
                f"service {name!r} was deleted; deploy it again to send it requests"
            )
        raise InvalidArgumentError(
            f"service {name!r} has no port yet (state {state}); "
            "wait with service.wait_for_deployment() and try again"
        )
    key = auth_key
    if key is None and target.auth_enabled:
        key = target.get_keys()[0]
    return resolve_target(str(uri), key)  # a cluster's service: its port-forward or a local NodePort


def swagger_example(doc: Mapping[str, Any]) -> Any | None:
    """The example input of ``POST /score`` in a swagger 2 or OpenAPI 3 document, or ``None``.

    An empty example (``{}``, what undecorated scripts advertise) counts as none.

    Examples
    --------
    >>> swagger_example({"paths": {"/score": {"post": {"parameters": [{"in": "body",
    ...     "schema": {"$ref": "#/definitions/ServiceInput"}}]}}},
    ...     "definitions": {"ServiceInput": {"example": {"data": [[1, 2]]}}}})
    {'data': [[1, 2]]}
    """

    def resolve(node: Any) -> Any:
        seen = 0
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 10:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                return None
            target: Any = doc
            for part in ref[2:].split("/"):
                target = target.get(part) if isinstance(target, Mapping) else None
            node, seen = target, seen + 1
        return node

    def from_schema(schema: Any) -> Any | None:
        schema = resolve(schema)
        if isinstance(schema, Mapping):
            if "example" in schema:
                return schema["example"]
            examples = schema.get("examples")
            if isinstance(examples, list) and examples:
                return examples[0]
        return None

    post = (doc.get("paths") or {}).get("/score", {}).get("post") or {}
    candidates: list[Any] = []
    for param in post.get("parameters") or []:
        param = resolve(param)
        if isinstance(param, Mapping) and param.get("in") == "body":
            candidates += [param.get("example"), from_schema(param.get("schema"))]
    body = resolve(post.get("requestBody")) or {}
    media = (body.get("content") or {}).get("application/json") or {}
    if "example" in media:
        candidates.append(media["example"])
    for example in (media.get("examples") or {}).values():
        candidates.append(
            resolve(example).get("value") if isinstance(resolve(example), Mapping) else None
        )
    candidates.append(from_schema(media.get("schema")))
    for candidate in candidates:
        if candidate not in (None, {}, [], ""):
            return candidate
    return None


def encode_body(body: Body, content_type: str | None = None) -> tuple[bytes, str]:
    """Return ``(bytes, content_type)`` for a body: bytes as they are, str as UTF-8, else JSON.

    Raises
    ------
    InvalidArgumentError
        The body is not bytes, str or JSON-able.

    Examples
    --------
    >>> encode_body({"data": [1]})
    (b'{"data": [1]}', 'application/json')
    """
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), content_type or "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), content_type or "application/json"
    try:
        return json.dumps(body, allow_nan=False).encode(), content_type or "application/json"
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(
            f"the body cannot be sent as JSON ({err}); pass a JSON-able object (dict, list, numbers, "
            "strings), a JSON string, or bytes"
        ) from err


def status_label(status: int) -> str:
    """How a status of ``errors_by_status`` reads: ``'500'``, ``'connection error'``, ``'client error'``.

    Examples
    --------
    >>> status_label(503), status_label(CONNECTION_ERROR), status_label(CLIENT_ERROR)
    ('503', 'connection error', 'client error')
    """
    if status == CONNECTION_ERROR:
        return "connection error"
    if status == CLIENT_ERROR:
        return "client error"
    return str(status)


#: RFC 9110 token characters: what a header name may be made of.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Return ``headers`` as a ``{name: value}`` dict of strings, checked to be sendable over HTTP/1.1.

    A name must be a non-empty HTTP token (letters, digits, ``-`` and a few symbols); a value
    must be Latin-1 text without CR, LF or NUL (what ``http.client`` can put on the wire).

    Raises
    ------
    InvalidArgumentError
        A header cannot be sent; the message names it and says what to change.

    Examples
    --------
    >>> check_headers({"X-Trace": 42})
    {'X-Trace': '42'}
    >>> check_headers({"X-User": "\u65e5\u672c"})
    Traceback (most recent call last):
    ...
    jupyter_mldeploy.errors.InvalidArgumentError: header 'X-User' has characters that cannot be sent in an HTTP header ('\u65e5' is not Latin-1); percent-encode or base64 the value (e.g. urllib.parse.quote(value)). Nothing was sent.
    """
    checked: dict[str, str] = {}
    for raw_name, raw_value in (headers or {}).items():
        name, value = str(raw_name), str(raw_value)
        bad_name = next((c for c in name if c not in _TOKEN), None)
        if not name or bad_name is not None:
            what = "is empty" if not name else f"has the character {bad_name!r}"
            raise InvalidArgumentError(
                f"header name {name!r} {what}; a header name is letters, digits and '-' "
                "(e.g. 'X-Trace'). Nothing was sent."
            )
        control = next((c for c in value if c in "\r\n\x00"), None)
        if control is not None:
            raise InvalidArgumentError(
                f"header {name!r} has a {control!r} in its value; a header value is one line of "
                "text: remove the line break. Nothing was sent."
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError as err:
            raise InvalidArgumentError(
                f"header {name!r} has characters that cannot be sent in an HTTP header "
                f"({value[err.start]!r} is not Latin-1); percent-encode or base64 the value "
                "(e.g. urllib.parse.quote(value)). Nothing was sent."
            ) from err
        checked[name] = value
    return checked
