"""A pytest plugin for the nbval subprocess: write the executed notebook (nbval's own outputs) to a file.

nbval keeps each cell's fresh outputs on its test item (``test_outputs``) and throws
them away; loaded with ``-p _nbval_capture`` this plugin puts them back into the
notebook and writes it to ``$NBVAL_CAPTURE`` at the end of the session, so the test
can assert what the user would see without executing the notebook a second time.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

_NOTEBOOKS: dict[str, Any] = {}


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    outputs = getattr(item, "test_outputs", None)
    cell = getattr(item, "cell", None)
    if cell is None:
        return
    cell.outputs = list(outputs or [])
    _NOTEBOOKS[str(item.parent.fspath)] = item.parent.nb  # type: ignore[union-attr]


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("NBVAL_CAPTURE")
    if not target or not _NOTEBOOKS:
        return
    import json

    (notebook,) = _NOTEBOOKS.values()  # one notebook per run
    with open(target, "w", encoding="utf-8") as out:
        json.dump(notebook, out, indent=1)
