"""The "ML Deploy" sidebar in a real JupyterLab (token auth on) and headless Chromium, over a real registry.

The Lab server's MLDEPLOY_HOME holds a registered model and a running process-target
service before the page opens; the test then does what a user does: opens the sidebar,
reads the model and the service, sends a test request, deploys a second service from the
form and watches it become Healthy, deletes it, and switches to the dark theme.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_script import SCHEMA_SCALE_SCRIPT

from ._lab import LabServer, wait_for

pytestmark = pytest.mark.browser

SIDEBAR_TAB = '.lm-TabBar-tab[data-id="jp-mldeploy-sidebar"]'
SIDEBAR = "#jp-mldeploy-sidebar"

SCALE = SCHEMA_SCALE_SCRIPT


@pytest.fixture
def deployed(lab: LabServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Model ``k`` (tag stage=demo) and service ``scale`` (process target, Healthy) in the Lab's registry."""
    monkeypatch.setenv("MLDEPLOY_HOME", str(lab.home))
    from jupyter_mldeploy import InferenceConfig, Model
    from jupyter_mldeploy.deploy import deploy
    from jupyter_mldeploy.deploy.process import ProcessWebservice

    app = lab.root / "sidebar_app"
    app.mkdir(exist_ok=True)
    (app / "score.py").write_text(SCALE)
    (app / "k.txt").write_text("3")
    model = Model.register(str(app / "k.txt"), "k", tags={"stage": "demo"}, description="k = 3")
    service = deploy("scale", [model], InferenceConfig("score.py", source_directory=str(app)),
                     ProcessWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=180)
    yield service
    service.delete()
    model.delete()  # the other browser tests share this registry


def _open_lab(page: Any, lab: LabServer) -> None:
    workspace = f"sidebar-{secrets.token_hex(3)}"
    page.goto(f"{lab.url}/lab/workspaces/{workspace}?reset&token={lab.token}", timeout=60_000)
    page.wait_for_selector(SIDEBAR_TAB, timeout=60_000)


def _widen_sidebar(page: Any, width: int = 380) -> None:
    """Drag the handle right of the left sidebar until the sidebar is ``width`` pixels wide (as a user would)."""
    sidebar = page.locator(SIDEBAR)
    box = sidebar.bounding_box()
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    grip = handle.bounding_box()
    assert box is not None and grip is not None
    y = grip["y"] + grip["height"] / 2
    page.mouse.move(grip["x"] + grip["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(grip["x"] + grip["width"] / 2 + (width - box["width"]), y, steps=5)
    page.mouse.up()
    wait_for(lambda: abs(sidebar.bounding_box()["width"] - width) < 30, 10, f"the sidebar to be {width} px wide")


def _service(page: Any, name: str) -> Any:
    return page.locator(f'{SIDEBAR} .jp-MLDeploy-serviceItem[data-service="{name}"]')


def test_sidebar_shows_models_and_services_tests_deploys_and_deletes(
    page: Any, lab: LabServer, deployed: Any, shot: Callable[..., Path]
) -> None:
    _open_lab(page, lab)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/mldeploy/api/services" in r.url else None)

    page.click(SIDEBAR_TAB)
    sidebar = page.locator(SIDEBAR)
    sidebar.wait_for(state="visible")
    _widen_sidebar(page)

    # the registered model: name, versions, size, tags; opened, its files
    model = sidebar.locator('.jp-MLDeploy-modelItem[data-model="k"]')
    model.wait_for()
    assert "v1" in model.locator(".jp-MLDeploy-versions").inner_text()
    assert model.locator(".jp-MLDeploy-size").inner_text() == "1 B"
    assert "stage=demo" in model.locator(".jp-MLDeploy-tags").inner_text()
    model.locator(".jp-MLDeploy-row").click()
    files = model.locator(".jp-MLDeploy-files")
    files.wait_for()
    assert files.locator(".jp-MLDeploy-path").all_inner_texts() == ["k.txt"]

    # the filter keeps only matching names
    sidebar.get_by_placeholder(re.compile("name", re.IGNORECASE)).first.fill("zzz")
    wait_for(lambda: model.count() == 0, 15, "the filter to hide model k")
    sidebar.get_by_placeholder(re.compile("name", re.IGNORECASE)).first.fill("")
    wait_for(lambda: model.count() == 1, 15, "model k to come back")

    # the running service: state badge, target, scoring URI, models
    scale = _service(page, "scale")
    scale.wait_for()
    wait_for(lambda: scale.get_attribute("data-state") == "Healthy", 30, "scale to show Healthy")
    assert scale.locator(".jp-MLDeploy-badge").first.inner_text() == "Healthy"
    assert "process" in scale.locator(".jp-MLDeploy-target").inner_text()
    assert scale.locator(".jp-MLDeploy-uri").inner_text() == deployed.scoring_uri
    assert "k:1" in scale.locator(".jp-MLDeploy-serviceModels").inner_text()

    # a test request, prefilled from the service's swagger example
    scale.locator(".jp-MLDeploy-row").click()
    editor = scale.get_by_label("Request body")
    editor.wait_for()
    wait_for(lambda: editor.input_value().strip().startswith("{"), 15, "the swagger example in the editor")
    assert json.loads(editor.input_value()) == {"data": [1.0, 2.0]}
    scale.get_by_role("button", name="Send").click()
    answer = scale.locator(".jp-MLDeploy-answer")
    answer.wait_for()
    assert answer.get_attribute("data-status") == "200"
    assert json.loads(answer.locator(".jp-MLDeploy-body").inner_text()) == {"scaled": [3.0, 6.0]}
    assert re.search(r"\d+(\.\d+)? ms", answer.locator(".jp-MLDeploy-answerLine").inner_text())
    shot(sidebar, "sidebar.png")

    # the log tail
    scale.get_by_role("tab", name="Log").click()
    log = scale.locator(".jp-MLDeploy-logs .jp-MLDeploy-log")
    wait_for(lambda: "init loaded k = 3.0" in log.inner_text(), 20, "init()'s line in the log tail")
    scale.locator(".jp-MLDeploy-row").click()  # fold it again

    # deploy a second service from the form and watch it become Healthy
    form = sidebar.locator(".jp-MLDeploy-form")
    form.get_by_label("Model").select_option("k:1")
    form.get_by_label("Service name").fill("second")
    form.get_by_label("Entry script").fill("sidebar_app/score.py")
    form.get_by_label("Source folder").fill("sidebar_app")
    form.get_by_label("Target").select_option("process")
    form.get_by_role("button", name="Deploy").click()
    progress = sidebar.locator('.jp-MLDeploy-progress[data-service="second"]')
    progress.wait_for()
    second = _service(page, "second")
    wait_for(lambda: second.count() == 1 and second.get_attribute("data-state") == "Healthy", 180,
             "service second to become Healthy in the list")
    wait_for(lambda: progress.locator('.jp-MLDeploy-phases li[data-ok="true"]').count() >= 5, 30,
             "every phase of the deployment to be ticked")
    phases = progress.locator(".jp-MLDeploy-phases li").all_inner_texts()
    assert [p.split()[1] for p in phases][:5] == ["resolve", "environment", "start", "init", "ready"]
    shot(progress, "sidebar-deploy.png")

    # delete it (with confirmation) and see it go
    second.locator(".jp-MLDeploy-row").click()
    second.get_by_role("button", name="Delete").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "Delete second?" in dialog.inner_text()
    dialog.get_by_role("button", name="Delete").click()
    wait_for(lambda: second.count() == 0, 60, "service second to leave the list")
    from jupyter_mldeploy.deploy.service import Webservice

    assert [s.name for s in Webservice.list()] == ["scale"]

    # refreshed while visible, paused while hidden
    polled = len(requests)
    wait_for(lambda: page.wait_for_timeout(250) or len(requests) > polled + 1, 15, "the sidebar to poll the services while visible")
    page.click(SIDEBAR_TAB)  # hide it
    sidebar.wait_for(state="hidden")
    page.wait_for_timeout(500)
    hidden_at = len(requests)
    page.wait_for_timeout(5000)
    assert len(requests) == hidden_at, "the hidden sidebar kept polling"
    page.click(SIDEBAR_TAB)
    sidebar.wait_for(state="visible")

    # the dark theme: JupyterLab's variables, so the sidebar follows
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    wait_for(lambda: page.evaluate("() => document.body.dataset.jpThemeLight") == "false", 30, "the dark theme")
    page.wait_for_timeout(500)
    background = page.evaluate(
        f"() => getComputedStyle(document.querySelector('{SIDEBAR} .jp-MLDeploy-root')).color"
    )
    channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
    assert sum(channels) / 3 > 128, f"the sidebar's text is dark on the dark theme: {background}"
    shot(sidebar, "sidebar-dark.png")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")


def _notebook(lab: LabServer, name: str) -> None:
    """A notebook ``name`` in the Lab root: one code cell (``1 + 1``), the venv's kernel."""
    doc = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "first", "metadata": {},
                   "outputs": [], "source": "1 + 1"}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    (lab.root / name).write_text(json.dumps(doc))


def test_file_browser_palette_and_insert_cell(page: Any, lab: LabServer, deployed: Any) -> None:
    from ._lab import open_notebook, wait_all_ran

    _notebook(lab, "calls_service.ipynb")
    open_notebook(page, lab, "calls_service.ipynb")

    # the command palette lists the sidebar's commands
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette")
    palette.locator("input").fill("ML Deploy")
    labels = palette.locator(".lm-CommandPalette-itemLabel")
    wait_for(lambda: labels.count() >= 3, 15, "the ML Deploy commands in the palette")
    assert {"ML Deploy: Show the models and services", "ML Deploy: Refresh models and services",
            "ML Deploy: Deploy a model…"} <= set(labels.all_inner_texts())
    labels.filter(has_text="Show the models and services").click()
    sidebar = page.locator(SIDEBAR)
    sidebar.wait_for(state="visible")

    # "Insert cell" puts a cell calling the service into the notebook; run, it answers
    scale = _service(page, "scale")
    scale.wait_for()
    scale.locator(".jp-MLDeploy-row").click()
    scale.get_by_role("button", name="Insert cell").click()
    scale.locator(".jp-MLDeploy-success").filter(has_text="Inserted a code cell").wait_for()
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")
    wait_for(lambda: cells.count() == 2, 15, "the inserted cell")
    code = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel.getSource()"
    )
    assert "Webservice('scale')" in code and '{"data": [1.0, 2.0]}' in code
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    wait_all_ran(page, 60)
    outputs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea").all_inner_texts()
    shown = "\n".join(outputs)
    assert "Healthy " + deployed.scoring_uri in shown
    assert "{'scaled': [3.0, 6.0]}" in shown

    # a .py file's context menu: "Deploy this entry script" opens the form with it
    page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:go-to-path', {path: 'sidebar_app'})")
    item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text="score.py"))
    item.wait_for()
    item.click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Deploy this entry script").click()
    sidebar.wait_for(state="visible")
    entry = sidebar.locator(".jp-MLDeploy-form").get_by_label("Entry script")
    wait_for(lambda: entry.input_value() == "sidebar_app/score.py", 15, "the form to hold the picked script")


def test_a_missing_server_extension_says_how_to_install_it(
    browser: Any, lab: LabServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """JupyterLab with the labextension but without the server extension: the sidebar says what to run."""
    bare = LabServer(root=tmp_path / "root", home=tmp_path / "home", state=tmp_path / "state",
                     extra_args=['--ServerApp.jpserver_extensions={"jupyter_mldeploy": False}'])
    bare.root.mkdir()
    bare.start()
    try:
        from .conftest import lab_page

        with lab_page(browser, bare, request) as page:
            _open_lab(page, bare)
            page.click(SIDEBAR_TAB)
            alert = page.locator(f"{SIDEBAR} .jp-MLDeploy-error").first
            alert.wait_for()
            text = alert.inner_text()
            assert "server extension is not loaded" in text and "pip install jupyter-mldeploy" in text
    finally:
        bare.stop()
