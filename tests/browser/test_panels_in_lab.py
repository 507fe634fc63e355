"""The panels rendered in JupyterLab in headless Chromium: what a user sees, and one real click each.

Every test opens a notebook in a real Lab server (token auth on), runs all its cells
through Lab's own command, and asserts on the rendered DOM.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ._lab import (
    LabServer,
    cell_errors,
    open_notebook,
    run_all_cells,
    wait_for,
    widget_placeholders,
)
from .conftest import lab_page

pytestmark = pytest.mark.browser


def _assert_clean(page: Any) -> None:
    """No traceback in any output, no widget error placeholder, no widget JS error."""
    assert cell_errors(page) == []
    assert widget_placeholders(page) == []
    assert page.console.widget_errors() == []


def test_harness_button_round_trips_and_a_broken_widget_is_caught(
    page: Any, lab: LabServer, shot: Callable[..., Path]
) -> None:
    open_notebook(page, lab, "harness.ipynb")
    prompts = run_all_cells(page)
    assert prompts == ["[1]:", "[2]:"]
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
    shot(box, "harness.png", publish=False)
    # the checks every panel test relies on do see a widget that fails to render
    broken = wait_for(
        lambda: widget_placeholders(page), 15, "the broken widget's error placeholder"
    )
    assert len(broken) == 1 and "javascript error" in broken[0]
    assert any("no-such-module" in e for e in page.console.widget_errors())
    assert cell_errors(page) == []


# --- the three panels, one notebook run shared by the tests below -----------------------------

PANEL_CLASSES = (
    "mldeploy-registry-browser",
    "mldeploy-deployment-panel",
    "mldeploy-test-request-panel",
)


@pytest.fixture(scope="module")
def panels(browser: Any, lab: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``panels.ipynb`` opened and run once: deploys a process service and shows the three panels."""
    with lab_page(browser, lab, request) as page:
        open_notebook(page, lab, "panels.ipynb")
        run_all_cells(page, timeout=150)
        for cls in PANEL_CLASSES:
            page.locator(f".{cls}").first.wait_for(state="visible", timeout=20_000)
        yield page


def test_every_panel_renders_without_widget_errors(panels: Any) -> None:
    for cls in PANEL_CLASSES:
        assert panels.locator(f".{cls}").count() == 1, cls
        assert panels.locator(f".{cls}").is_visible()
    _assert_clean(panels)


def test_registry_browser_shows_a_clicked_models_files(
    panels: Any, shot: Callable[..., Path]
) -> None:
    browser = panels.locator(".mldeploy-registry-browser")
    text = browser.inner_text()
    assert "2 models, 2 versions" in text
    assert "browser-k:1" in text and "k.txt" in text  # the first model opens selected
    assert "weights.bin" not in text
    models = browser.locator("select").first
    labels = models.locator("option").all_inner_texts()
    assert [label.split()[0] for label in labels] == ["browser-k", "zz-extra"]
    models.select_option(index=1)  # the user clicks zz-extra
    wait_for(
        lambda: "weights.bin" in browser.inner_text(),
        15,
        "zz-extra's files in the registry browser",
    )
    text = browser.inner_text()
    for expected in ("zz-extra:1", "vocab.txt", "2.0 KiB", "stage", "dev", "total: 2 files"):
        assert expected in text
    assert "k.txt" not in text
    _assert_clean(panels)
    shot(browser, "registry-browser.png")


def test_deployment_panel_shows_healthy_phases_log_and_swagger_link(
    panels: Any, shot: Callable[..., Path]
) -> None:
    panel = panels.locator(".mldeploy-deployment-panel:not(.mldeploy-registry-browser *)")
    assert panel.locator(".mldeploy-badge").first.inner_text() == "Healthy"
    text = panel.inner_text()
    assert "browser-svc" in text and "browser-k:1" in text
    for phase in ("resolve", "environment", "start", "init", "ready"):
        assert phase in text, phase
    wait_for(
        lambda: "init loaded k = 3.0" in panel.inner_text(),
        15,
        "init()'s print in the live log tail",
    )
    link = panel.get_by_role("link", name="swagger.json")
    href = link.get_attribute("href")
    assert href and href.startswith("http://127.0.0.1:") and href.endswith("/swagger.json")
    reply = panels.request.get(href)
    assert reply.status == 200 and "paths" in reply.json()
    _assert_clean(panels)
    shot(panel, "deployment-panel.png")


def test_test_request_panel_sends_and_load_tests_in_the_browser(
    panels: Any, shot: Callable[..., Path]
) -> None:
    panel = panels.locator(".mldeploy-test-request-panel")
    editor = panel.locator("textarea").first
    assert '"data"' in editor.input_value()  # prefilled with the sample
    panel.get_by_role("button", name="Send").click()
    wait_for(
        lambda: "200" in panel.inner_text() and "9.0" in panel.inner_text(),
        20,
        "the 200 status and the predictions in the test-request panel",
    )
    text = panel.inner_text()
    assert "ms" in text and "application/json" in text
    assert [float(x) for x in _predictions(text)] == [3.0, 6.0, 9.0]
    _assert_clean(panels)
    shot(panel, "test-request-panel.png")

    panel.get_by_role("tab", name="Load test").click()
    requests = panel.locator(".widget-inline-hbox", has_text="Requests").locator("input")
    requests.fill("120")
    requests.press("Enter")
    concurrency = panel.locator(".widget-inline-hbox", has_text="Concurrency").locator("input")
    concurrency.fill("4")
    concurrency.press("Enter")
    panel.get_by_role("button", name="Run").click()
    wait_for(
        lambda: "120 of 120" in panel.inner_text() and panel.locator("img").count() > 0,
        40,
        "the load test's 120 answers, percentiles and histogram",
    )
    text = panel.inner_text()
    for expected in ("p50", "p95", "p99", "Errors by status"):
        assert expected in text
    histogram = panel.locator("img").first
    histogram.wait_for(state="visible")
    assert histogram.evaluate("img => img.naturalWidth") > 200
    _assert_clean(panels)
    shot(panel, "load-test.png")


def test_registry_browser_deploy_form_deploys_from_the_browser(panels: Any) -> None:
    browser = panels.locator(".mldeploy-registry-browser")
    browser.locator("select").first.select_option(index=0)  # browser-k
    wait_for(lambda: "browser-k:1" in browser.inner_text(), 15, "browser-k's details")
    browser.get_by_role("button", name="Deploy…").click()
    form = browser.locator(".mldeploy-deploy-form")
    form.wait_for(state="visible")
    assert form.locator("input").first.input_value() == "browser-k-svc"  # prefilled
    form.locator("input").first.fill("from-the-form")
    process = form.get_by_role("button", name="process", exact=True)
    if process.is_enabled():  # Docker is usable: the form preselects it
        process.click()
    wait_for(
        lambda: "mod-active" in (process.get_attribute("class") or ""),
        10,
        "the process target to be selected",
    )
    # (a button's accessible name starts with its icon's glyph: match its text instead)
    form.locator("button", has_text=re.compile(r"^\s*Deploy\s*$")).click()
    badge = browser.locator(".mldeploy-deployment-panel .mldeploy-badge", has_text="Healthy")
    badge.wait_for(state="visible", timeout=90_000)
    text = browser.locator(".mldeploy-deployment-panel").inner_text()
    assert "from-the-form" in text and "browser-k:1" in text
    _assert_clean(panels)


def _predictions(text: str) -> list[str]:
    """The numbers of the pretty-printed ``{"predictions": [...]}`` body in ``text``."""
    body = text[text.index('"predictions"') :]
    return re.findall(r"-?\d+\.\d+", body[: body.index("]")])
