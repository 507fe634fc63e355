"""The tutorial notebook (notebooks/01-deploy-from-a-notebook.ipynb) run whole in JupyterLab.

Lab runs every cell through its own "run all" command in headless Chromium; the test
checks that every panel the notebook's code uses rendered, with no cell traceback and
no widget error, and pictures the notebook around a live deployment panel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ._lab import (
    LabError,
    LabServer,
    cell_errors,
    open_notebook,
    scroll_to_top,
    start_run_all,
    wait_all_ran,
    wait_for,
    widget_placeholders,
)

pytestmark = pytest.mark.browser


TUTORIAL = "01-deploy-from-a-notebook.ipynb"

#: What in a notebook's code makes which panel appear.
PANEL_SOURCES = {
    "mldeploy-registry-browser": ("RegistryBrowser",),
    "mldeploy-deployment-panel": ("DeploymentPanel", "%deploy_local"),
    "mldeploy-test-request-panel": ("TestRequestPanel",),
    "mldeploy-package-panel": ("PackagePanel", "Model.package("),
}


def _expected_panels(notebook: Path) -> set[str]:
    import nbformat

    code = "\n".join(
        cell.source
        for cell in nbformat.read(notebook, as_version=4).cells
        if cell.cell_type == "code"
    )
    return {cls for cls, needles in PANEL_SOURCES.items() if any(n in code for n in needles)}


@pytest.mark.slow
def test_tutorial_runs_whole_in_lab_and_shows_every_panel(
    page: Any, lab: LabServer, shot: Callable[..., Path]
) -> None:
    notebook = lab.root / TUTORIAL
    assert notebook.is_file(), (
        f"{TUTORIAL} is missing from notebooks/: the tutorial must be committed"
    )
    expected = _expected_panels(notebook)
    assert "mldeploy-deployment-panel" in expected
    open_notebook(page, lab, TUTORIAL)
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # room for the notebook
    start_run_all(page)

    # the first service's panel shows Healthy while the notebook runs on (or a cell fails)
    healthy = page.locator(".mldeploy-deployment-panel .mldeploy-badge", has_text="Healthy")

    def healthy_or_stopped() -> str | None:
        if healthy.count():
            return "healthy"
        errors = cell_errors(page)
        if errors:
            raise AssertionError(f"a tutorial cell failed in Lab:\n{errors[0][-3000:]}")
        return "stopped" if _all_ran(page) else None

    assert wait_for(healthy_or_stopped, 150, "a deployment panel showing Healthy") == "healthy"
    # a picture of the notebook around the live panel, taken while the notebook runs on
    try:
        scroll_to_top(page.locator(".jp-Cell", has=healthy).first)
    except LabError:  # the notebook deleted the service meanwhile: its panel says so
        scroll_to_top(
            page.locator(".jp-Cell", has=page.locator(".mldeploy-deployment-panel")).first
        )
    page.mouse.move(0, 0)  # no hover highlight in the picture
    shot(page, "lab-tutorial.png")
    wait_all_ran(page, timeout=120)
    assert cell_errors(page) == []

    shown = {cls for cls in PANEL_SOURCES if page.locator(f".{cls}").count()}
    assert expected <= shown, f"panels missing from the rendered tutorial: {expected - shown}"
    assert widget_placeholders(page) == []
    assert page.console.widget_errors() == []


def _all_ran(page: Any) -> bool:
    try:
        wait_all_ran(page, timeout=0)
    except AssertionError:
        return False
    return True
