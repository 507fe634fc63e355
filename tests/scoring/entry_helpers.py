"""Helpers for scoring tests: sample script paths, requests, response bodies, Azure model layouts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).parent / "scripts"


def script_path(name: str) -> Path:
    """Return the path of a sample script in tests/scoring/scripts (``name`` with or without .py)."""
    path = SCRIPTS / (name if name.endswith(".py") else f"{name}.py")
    assert path.is_file(), f"no sample script {path}"
    return path


def write_azure_models(root: Path, layout: Mapping[str, Mapping[int, Mapping[str, str]]]) -> Path:
    """Write ``{name: {version: {relative file: text}}}`` as ``root/NAME/VERSION/FILE`` and return ``root``."""
    for name, versions in layout.items():
        for version, files in versions.items():
            for rel, text in files.items():
                path = root / name / str(version) / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    return root


#: The models ``scripts/multi_model.py`` loads: linear (versions 1 and 2, one file each)
#: and offset (version 3, a folder with two files).
MULTI_MODEL_LAYOUT: dict[str, dict[int, dict[str, str]]] = {
    "linear": {
        1: {"model.json": json.dumps({"coef": [0.0, 0.0], "intercept": -100.0})},
        2: {"model.json": json.dumps({"coef": [1.0, 2.0], "intercept": 0.5})},
    },
    "offset": {3: {"offset.json": json.dumps({"offset": 10.0}), "README": "folder model"}},
}


def make_request(
    method: str = "POST",
    body: bytes | str = b"",
    content_type: str | None = "application/json",
    query: str = "",
    headers: Sequence[tuple[str, str]] = (),
    request_id: str = "req-test-1",
) -> Any:
    """Build a ScoringRequest as the HTTP layer would (header names lower-cased)."""
    from jupyter_mldeploy.scoring.contract import ScoringRequest

    all_headers = [("content-type", content_type)] if content_type else []
    all_headers += [(k.lower(), v) for k, v in headers]
    data = body.encode() if isinstance(body, str) else body
    return ScoringRequest(method, "/score", query, all_headers, data, request_id)


def response_bytes(response: Any) -> bytes:
    """The whole body of a ScoringResponse (joins streamed chunks)."""
    body = response.body
    return body if isinstance(body, bytes) else b"".join(body)


def response_json(response: Any) -> Any:
    """The body of a ScoringResponse parsed as JSON."""
    return json.loads(response_bytes(response))
