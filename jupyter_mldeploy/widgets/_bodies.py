"""Bodies in the test-request panel: typed-in text to bytes (JSON, text, base64 or hex), headers, answers shown.

A request is checked here before anything is sent (bad headers, undecodable bytes say
so); an answer is shown pretty-printed when it is text and as a hex summary when not.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from ..client.bodies import MAX_SHOWN, hex_dump, summarise_body
from ..client.history import HistoryEntry
from ..client.loadtest import check_headers
from ..errors import InvalidArgumentError
from ._base import esc, human_bytes

__all__ = ["MAX_SHOWN", "hex_dump"]


@dataclass(frozen=True)
class _Prepared:
    """A request built from the editor, ready to send."""

    method: str
    body: bytes | None
    headers: dict[str, str]
    entry: HistoryEntry

def _parse_headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or " " in name.strip():
            raise InvalidArgumentError(
                f"header line {number} ({line.strip()[:60]!r}) is not 'Name: value'; write one header per "
                "line like 'X-Trace: 42'. Nothing was sent."
            )
        headers[name.strip()] = value.strip()
    return check_headers(headers)  # e.g. a non-Latin-1 value: refused here, naming the header

def _decode_bytes(text: str, encoding: str) -> bytes:
    if encoding == "hex":
        try:
            return bytes.fromhex("".join(text.split()))
        except ValueError as err:
            raise InvalidArgumentError(
                f"the body is not valid hex ({err}); write bytes as hex pairs like '89 50 4e 47' or "
                "pick base64. Nothing was sent."
            ) from err
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise InvalidArgumentError(
            f"the body is not valid base64 ({err}); paste base64 text or pick hex. Nothing was sent."
        ) from err

def _body_html(body: bytes, content_type: str) -> str:
    """The response body as HTML: pretty JSON, text, or a hex summary for binary bodies."""
    summary = summarise_body(body, content_type, MAX_SHOWN)
    if summary.size == 0:
        return "<i>(empty body)</i>"
    if summary.hex is not None:
        size = summary.size
        return (
            f"<b>Binary body</b>: {esc(content_type or 'no content type')}, {human_bytes(size)} "
            f"({size:,} bytes); first {min(size, 64)} bytes:<pre>{esc(summary.hex)}</pre>"
        )
    note = ""
    if summary.truncated:
        note = f"<br><i>(showing the first {MAX_SHOWN:,} characters of {human_bytes(summary.size)})</i>"
    return f"<pre>{esc(summary.text or '')}</pre>{note}"
