"""Point at the user's code when an entry script fails: its traceback, and where it failed.

Loading a script (:mod:`.entry_script`) and running a request through it
(:mod:`.handling`) both report failures this way: the traceback starts at the
first frame of the user's code (our own and importlib's frames are cut off),
and the one-line message names the deepest frame outside this package.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from types import TracebackType

__all__ = ["describe_error", "format_user_traceback", "user_location"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def _is_internal(filename: str) -> bool:
    return filename.startswith((_PACKAGE_DIR, "<frozen"))


def _user_tb(tb: TracebackType | None) -> TracebackType | None:
    """Skip our own and importlib's frames at the top of a traceback."""
    while tb is not None and _is_internal(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


def format_user_traceback(err: BaseException) -> str:
    """Format ``err``'s traceback starting at the first frame of the user's code."""
    tb = _user_tb(err.__traceback__)
    return "".join(traceback.format_exception(type(err), err, tb))


def user_location(err: BaseException) -> str:
    """`` (at file:line)`` for the deepest frame of the traceback outside our package."""
    last = None
    tb = err.__traceback__
    while tb is not None:
        if not _is_internal(tb.tb_frame.f_code.co_filename):
            last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    return f" (at {last.tb_frame.f_code.co_filename}:{last.tb_lineno})"


def describe_error(err: BaseException) -> str:
    """``Type: message`` (just ``Type`` when the message is empty)."""
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
