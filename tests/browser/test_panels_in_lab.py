"""The panels rendered in JupyterLab in headless Chromium: what a user sees, and one real click each.

Every test opens a notebook in a real Lab server (token auth on), runs all its cells
through Lab's own command, and asserts on the rendered DOM.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ._lab import LabServer, cell_errors, open_notebook, run_all_cells, wait_for, widget_placeholders

pytestmark = pytest.mark.browser


def _assert_clean(page: Any) -> None:
    """No traceback in any output, no widget error placeholder, no widget JS error."""
    assert cell_errors(page) == []
    assert widget_placeholders(page) == []
    assert page.console.widget_errors() == []


def test_harness_button_round_trips_through_the_kernel(
    page: Any, lab: LabServer, shot: Callable[[Any, str], Path]
) -> None:
    open_notebook(page, lab, "harness.ipynb")
    prompts = run_all_cells(page)
    assert prompts == ["[1]:"]
    box = page.locator(".harness-box")
    box.wait_for(state="visible")
    assert box.inner_text().splitlines()[-1] == "not pressed"
    box.get_by_role("button", name="Press me").click()
    label = box.locator(".widget-label")
    wait_for(
        lambda: label.inner_text() == "pressed 1 time(s) in the kernel",
        15,
        "the label the kernel-side click handler sets",
    )
    _assert_clean(page)
    shot(box, "harness.png")
