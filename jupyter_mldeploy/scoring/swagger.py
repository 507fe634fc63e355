"""The ``/swagger.json`` document of an entry script: OpenAPI 2 or 3, shaped like azmlinfsrv's.

Paths ``/``, ``/score`` and ``/swagger.json``; ``definitions`` (v2) or
``components.schemas`` (v3) ``ServiceInput``/``ServiceOutput`` come from the
inference_schema decorators (with examples from their samples), and
``ErrorResponse`` describes our JSON error body. A ``swagger.json``,
``swagger2.json`` or ``swagger3.json`` file next to the script replaces the
generated document, as in azmlinfsrv.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..errors import EntryScriptError, InvalidArgumentError
from .schema import RunSchema

__all__ = ["build_swagger", "normalize_version", "read_user_swagger"]

_ERROR_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string", "example": "SchemaValidation"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
                "traceback": {"type": "string"},
            },
        }
    },
}

_UNDECORATED_INPUT: dict[str, Any] = {
    "description": "Any JSON document; run() is not decorated with inference_schema, so it parses the body itself.",
    "type": "object",
    "example": {},
}
_ANY_OUTPUT: dict[str, Any] = {"description": "Whatever run() returns, as JSON."}

_VERSIONS = {"2": "2", "2.0": "2", "3": "3", "3.0": "3", "3.1": "3.1"}


def normalize_version(version: float | str | None) -> str:
    """Return ``"2"``, ``"3"`` or ``"3.1"`` for a requested swagger version, else raise InvalidArgumentError."""
    key = "2" if version is None else str(version).strip()
    if key not in _VERSIONS:
        raise InvalidArgumentError(
            f"Swagger version {version!r} is not available: ask for version=2 (Swagger 2.0) or version=3 (OpenAPI 3)."
        )
    return _VERSIONS[key]


def read_user_swagger(source_dir: Path, version: str) -> dict[str, Any] | None:
    """Return a user-written swagger file from ``source_dir`` for ``version``, as azmlinfsrv does."""
    names = ["swagger.json", "swagger2.json"] if version == "2" else [f"swagger{version}.json"]
    for name in names:
        path = source_dir / name
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise EntryScriptError(
                    f"{path} is not a readable JSON document ({err}); fix or delete it to get the generated one."
                ) from err
    return None


def _error_responses(ref: Any) -> dict[str, Any]:
    return {
        "400": {"description": "Bad input: invalid JSON, not UTF-8, empty body, or a missing parameter.", **ref},
        "415": {"description": "Unsupported Content-Type: send application/json.", **ref},
        "422": {"description": "The JSON does not fit the input schema (wrong type or shape).", **ref},
        "default": {"description": "The service failed to execute due to an error.", **ref},
    }


def build_swagger(
    schema: RunSchema | None,
    version: str,
    *,
    service_name: str = "mldeploy",
    service_version: str = "1.0",
    host: str | None = None,
    auth: bool = False,
) -> dict[str, Any]:
    """Build the OpenAPI document for an entry script (``schema`` None: undecorated ``run()``).

    Examples
    --------
    >>> doc = build_swagger(None, "2", service_name="demo", host="127.0.0.1:5001")
    >>> doc["swagger"], sorted(doc["paths"]), doc["host"]
    ('2.0', ['/', '/score', '/swagger.json'], '127.0.0.1:5001')
    """
    if schema is not None:
        needed = {"2": "2.0", "3": "3.0", "3.1": "3.1"}[version]
        if needed not in schema.supported_versions:
            raise InvalidArgumentError(
                f"Swagger version {version} cannot describe this script's schema (it supports "
                f"{', '.join(schema.supported_versions)}); ask for version=3."
            )
        service_input = copy.deepcopy(schema.input_schema)
        service_output = copy.deepcopy(schema.output_schema) if schema.output_schema else dict(_ANY_OUTPUT)
    else:
        service_input, service_output = dict(_UNDECORATED_INPUT), dict(_ANY_OUTPUT)
    info = {
        "title": service_name,
        "description": f"API specification for the jupyter-mldeploy service {service_name}",
        "version": service_version,
    }
    if version == "2":
        return _swagger2(info, service_input, service_output, host, auth, body_required=schema is not None)
    return _openapi3(info, service_input, service_output, host, auth, "3.1.0" if version == "3.1" else "3.0.3",
                     body_required=schema is not None)


def _swagger2(
    info: dict[str, Any], service_input: Any, service_output: Any, host: str | None, auth: bool, body_required: bool
) -> dict[str, Any]:
    err = {"schema": {"$ref": "#/definitions/ErrorResponse"}}
    score: dict[str, Any] = {
        "operationId": "RunMLService",
        "description": "Run web service's model and get the prediction output",
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "parameters": [
            {
                "name": "serviceInputPayload",
                "in": "body",
                "required": body_required,
                "description": "The input payload for executing the real-time machine learning service.",
                "schema": {"$ref": "#/definitions/ServiceInput"},
            }
        ],
        "responses": {
            "200": {
                "description": "The service processed the input correctly and provided a result prediction.",
                "schema": {"$ref": "#/definitions/ServiceOutput"},
            },
            **_error_responses(err),
        },
    }
    doc: dict[str, Any] = {
        "swagger": "2.0",
        "info": info,
        "schemes": ["http"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": {
            "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": "Simple health check endpoint to ensure the service is up at any given point.",
                    "produces": ["text/plain"],
                    "responses": {
                        "200": {"description": "The service is up: the content 'Healthy'.", "schema": {"type": "string"}}
                    },
                }
            },
            "/score": {"post": score},
            "/swagger.json": {
                "get": {
                    "operationId": "GetSwaggerSpec",
                    "description": "Get the Swagger specification.",
                    "parameters": [
                        {"name": "version", "in": "query", "required": False, "type": "integer", "enum": [2, 3]}
                    ],
                    "responses": {
                        "200": {"description": "The Swagger specification.", "schema": {"type": "object"}},
                        "default": {"description": "The service failed to execute due to an error.", **err},
                    },
                }
            },
        },
        "definitions": {"ServiceInput": service_input, "ServiceOutput": service_output, "ErrorResponse": _ERROR_RESPONSE},
    }
    if host:
        doc["host"] = host
    if auth:
        doc["securityDefinitions"] = {
            "Bearer": {"type": "apiKey", "name": "Authorization", "in": "header", "description": "For example: Bearer abc123"}
        }
        score["security"] = [{"Bearer": []}]
    return doc


def _openapi3(
    info: dict[str, Any],
    service_input: Any,
    service_output: Any,
    host: str | None,
    auth: bool,
    openapi: str,
    body_required: bool,
) -> dict[str, Any]:
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    score: dict[str, Any] = {
        "operationId": "RunMLService",
        "description": "Run web service's model and get the prediction output",
        "requestBody": {
            "description": "The input payload for executing the real-time machine learning service.",
            "required": body_required,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ServiceInput"}}},
        },
        "responses": {
            "200": {
                "description": "The service processed the input correctly and provided a result prediction.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ServiceOutput"}}},
            },
            **_error_responses(err),
        },
    }
    doc: dict[str, Any] = {
        "openapi": openapi,
        "info": info,
        "paths": {
            "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": "Simple health check endpoint to ensure the service is up at any given point.",
                    "responses": {
                        "200": {
                            "description": "The service is up: the content 'Healthy'.",
                            "content": {"text/plain": {"schema": {"type": "string", "example": "Healthy"}}},
                        }
                    },
                }
            },
            "/score": {"post": score},
            "/swagger.json": {
                "get": {
                    "operationId": "GetSwaggerSpec",
                    "description": "Get the Swagger specification.",
                    "parameters": [
                        {
                            "name": "version",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "enum": [2, 3]},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The Swagger specification.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "default": {"description": "The service failed to execute due to an error.", **err},
                    },
                }
            },
        },
        "components": {
            "schemas": {"ServiceInput": service_input, "ServiceOutput": service_output, "ErrorResponse": _ERROR_RESPONSE}
        },
    }
    if host:
        doc["servers"] = [{"url": f"http://{host}"}]
    if auth:
        doc["components"]["securitySchemes"] = {
            "Bearer": {"type": "apiKey", "name": "Authorization", "in": "header", "description": "For example: Bearer abc123"}
        }
        score["security"] = [{"Bearer": []}]
    return doc
