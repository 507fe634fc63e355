"""The cell list a tutorial builder fills: ``md(text)`` and ``code(source, expect=None)`` (see ``_build.py``).

A code cell with ``expect`` gets ``# NBVAL_CHECK_OUTPUT`` first, so nbval compares its output.
"""

from __future__ import annotations

Cell = tuple[str, str, "str | None"]


class Cells(list):  # type: ignore[type-arg]
    """Cells in notebook order, as ``_build.build`` takes them."""

    def md(self, text: str) -> None:
        self.append(("markdown", text.strip("\n"), None))

    def code(self, source: str, expect: str | None = None) -> None:
        source = source.strip("\n")
        if expect is not None:
            source = "# NBVAL_CHECK_OUTPUT\n" + source
        self.append(("code", source, expect))
