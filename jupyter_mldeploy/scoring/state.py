"""What a worker is serving: the current entry script, or why there is none.

Shared by the app (which reads it per request), the worker (which fills it
after ``init()``) and the reloader (which swaps in a new script).
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["ScriptState"]


class ScriptState:
    """What a worker is serving: the current script, or why there is none.

    ``entry`` is swapped atomically by a reload; a request keeps the object it started with.
    """

    def __init__(self) -> None:
        self.entry: Any = None  # EntryScript once init() succeeded
        self.init_error: dict[str, str] | None = None
        self.reload_error: dict[str, str] | None = None
        self.generation = 0
        self.loaded_at = 0.0

    def serve(self, entry: Any) -> None:
        """Start serving ``entry`` (its ``init()`` already succeeded)."""
        self.entry = entry
        self.init_error = None
        self.generation += 1
        self.loaded_at = time.time()

    def fail(self, message: str, traceback_text: str) -> None:
        """Record that the script could not be loaded or initialised (503 until a reload fixes it)."""
        self.init_error = {"message": message, "traceback": traceback_text}
