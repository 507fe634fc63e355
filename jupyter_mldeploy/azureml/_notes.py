"""Say once that a cloud-only Azure ML v1 parameter was accepted and has no effect here.

v1 code passes settings that only mean something in Azure (``auth``, ``tags`` on a
workspace, ``enable_app_insights``, ``location``, ...). The compatibility layer accepts
them so the code runs unchanged and, for each one actually given (not ``None``), writes
one line to stderr the first time in this process: which call, which parameter, and why
it changes nothing. :func:`ignored` is that one writer.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ignored", "note_once"]

_said: set[str] = set()
_lock = threading.Lock()


def note_once(key: str, text: str) -> bool:
    """Write ``note: TEXT`` to stderr unless ``key`` was noted before in this process; True when written."""
    with _lock:
        if key in _said:
            return False
        _said.add(key)
    print(f"note: {text}", file=sys.stderr)
    return True


def ignored(where: str, given: Mapping[str, Any], names: Iterable[str], why: str = "it only means something in Azure") -> list[str]:
    """Note each parameter of ``names`` that ``given`` sets (not None/False-y default) as ignored; return them.

    Examples
    --------
    >>> ignored("Workspace", {"auth": None, "tags": {"a": "b"}}, ["auth", "tags"])  # doctest: +SKIP
    ['tags']
    """
    hit = [n for n in names if given.get(n) is not None]
    for name in hit:
        note_once(f"{where}:{name}", f"{where}(): {name}= is accepted and ignored ({why}).")
    return hit
