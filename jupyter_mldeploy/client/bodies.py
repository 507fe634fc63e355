"""Request and answer bodies as people see them: typed-in JSON checked, answers summarised.

One place for what the test-request faces (the notebook panel, the JupyterLab sidebar's
REST API) show of a body: :func:`json_body` checks text typed as JSON before anything is
sent (the message names the line and column); :func:`summarise_body` turns an answer's
bytes into pretty JSON, text, or, for binary bodies, a hex summary of the first bytes;
:func:`hex_dump` writes that summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgumentError

__all__ = ["MAX_SHOWN", "BodySummary", "hex_dump", "is_text_type", "json_body", "summarise_body"]

#: Longest body text shown (characters); longer bodies are cut, with their size said.
MAX_SHOWN = 20_000
#: Bytes of a binary body shown as hex.
HEX_BYTES = 64


def hex_dump(data: bytes, limit: int = HEX_BYTES) -> str:
    """The first ``limit`` bytes of ``data`` as hex-dump lines (offset, 16 hex bytes, ASCII).

    Examples
    --------
    >>> print(hex_dump(b"PNG\\x00\\x01"))
    00000000  50 4e 47 00 01                                   |PNG..|
    """
    lines = []
    chunk = data[:limit]
    for offset in range(0, len(chunk), 16):
        row = chunk[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in row)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{offset:08x}  {hexes:<47}  |{text}|")
    return "\n".join(lines)


def is_text_type(content_type: str) -> bool:
    """Whether a (lower-case, parameter-free) content type is text people can read.

    Examples
    --------
    >>> is_text_type("application/json"), is_text_type("image/png")
    (True, False)
    """
    return content_type.startswith("text/") or any(
        token in content_type for token in ("json", "xml", "javascript", "x-www-form-urlencoded")
    )


def json_body(text: str) -> bytes:
    """``text`` as the UTF-8 bytes of a JSON body, after checking it parses.

    Raises
    ------
    InvalidArgumentError
        It is not JSON; the message names the line and column and says nothing was sent.

    Examples
    --------
    >>> json_body('{"data": [1]}')
    b'{"data": [1]}'
    """
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidArgumentError(
            f"the body is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}. "
            "Fix it (or pick text/plain to send it as it is); nothing was sent."
        ) from err
    return text.encode("utf-8")


@dataclass(frozen=True)
class BodySummary:
    """What to show of a body: ``text`` (pretty JSON or decoded text, cut at ``MAX_SHOWN``) or, when
    it is binary, ``hex`` (a :func:`hex_dump` of its first bytes); ``size`` in bytes."""

    size: int
    text: str | None = None
    truncated: bool = False
    hex: str | None = None

    @property
    def binary(self) -> bool:
        """Whether the body is shown as hex (not text)."""
        return self.hex is not None

    def to_dict(self) -> dict[str, Any]:
        """``{"size", "text", "truncated", "binary", "hex"}``."""
        return {"size": self.size, "text": self.text, "truncated": self.truncated,
                "binary": self.binary, "hex": self.hex}


def summarise_body(body: bytes, content_type: str, max_chars: int = MAX_SHOWN) -> BodySummary:
    """Summarise an answer's body: pretty JSON, text, or (binary) a hex dump of its first bytes.

    ``content_type`` is the answer's header (parameters such as ``; charset=`` are ignored).

    Examples
    --------
    >>> summarise_body(b'{"a":1}', "application/json").text
    '{\\n  "a": 1\\n}'
    >>> summarise_body(b"\\x89PNG", "image/png").binary
    True
    """
    kind = content_type.split(";")[0].strip().lower()
    size = len(body)
    if not body:
        return BodySummary(0, "")
    text: str | None = None
    if "json" in kind:
        try:
            text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except ValueError:
            text = None
    if text is None and (is_text_type(kind) or not kind):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if text is None:
        return BodySummary(size, hex=hex_dump(body))
    if len(text) > max_chars:
        return BodySummary(size, text[:max_chars], truncated=True)
    return BodySummary(size, text)
