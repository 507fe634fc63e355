"""Fixtures for the JupyterLab tests: Chromium's path, one Lab server, a fresh page per test.

- ``chromium_path``: ``$MLDEPLOY_CHROMIUM`` or ``chromium`` on PATH; skipped when missing
  (``tests/conftest.py`` turns that skip into a failure under ``CI=true``).
- ``lab``: a real JupyterLab server (token auth on, 127.0.0.1, isolated Jupyter dirs, its
  own ``MLDEPLOY_HOME``) serving a temporary folder holding the test notebooks and a copy
  of ``notebooks/``. One server for the session: it starts in a few seconds.
- ``page``: a Playwright page in headless Chromium (1280x900) whose console is recorded;
  after each test its kernels are shut down and the services its notebooks deployed deleted.
- ``shot``: saves an element screenshot, checks it is a real picture, and copies it to
  ``$MLDEPLOY_SCREENSHOTS_DIR`` when that is set (``scripts/screenshots`` sets it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import _notebooks
from ._lab import (
    CHROMIUM_ARGS,
    VIEWPORT,
    Console,
    LabServer,
    check_png,
    find_chromium,
    watch_console,
)

REPO = Path(__file__).resolve().parents[2]

_DELETE_SERVICES = (
    "from jupyter_mldeploy import Webservice\n"
    "for s in Webservice.list():\n"
    "    s.delete(delete_image=True)\n"
)


@pytest.fixture(scope="package")
def chromium_path() -> str:
    """Path of the Chromium binary the tests drive (Debian's; Playwright's download is unreachable)."""
    path = find_chromium()
    if not path:
        pytest.skip("no Chromium: set MLDEPLOY_CHROMIUM or run scripts/ensure-browser.sh")
    return path


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[LabServer]:
    """One JupyterLab server for the session, serving the test notebooks and a copy of notebooks/."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    if (REPO / "notebooks").is_dir():
        shutil.copytree(REPO / "notebooks", root, dirs_exist_ok=True)
    _notebooks.write_all(root)
    server = LabServer(root=root, home=base / "mldeploy-home", state=base / "state")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        delete_services(server)


def delete_services(server: LabServer) -> None:
    """Delete every service (and image) deployed with the Lab's MLDEPLOY_HOME."""
    subprocess.run(
        [sys.executable, "-c", _DELETE_SERVICES],
        env={**os.environ, "MLDEPLOY_HOME": str(server.home)},
        check=False,
        timeout=120,
        capture_output=True,
    )


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Any]:
    """Headless Chromium driven by Playwright (one per session; each test gets its own context)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def lab_page(browser: Any, lab: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page (console recorded); on exit: kernels shut down, services deleted.

    When a test using it failed, the Lab log, the console errors and a full-page picture are reported.
    """
    failed_before = request.session.testsfailed
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.console = watch_console(page)
    try:
        yield page
    finally:
        if request.session.testsfailed > failed_before:
            _attach(request, page, lab)
        context.close()
        for kernel in lab.api("/api/kernels") or []:
            lab.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        delete_services(lab)


@pytest.fixture
def page(browser: Any, lab: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page for one test (see :func:`lab_page`)."""
    with lab_page(browser, lab, request) as fresh:
        yield fresh


def _attach(request: pytest.FixtureRequest, page: Any, lab: LabServer) -> None:
    """On failure: print the Lab log and the console errors, and save a full-page picture."""
    console: Console = page.console
    picture = lab.state / f"failure-{request.node.name}.png"
    try:
        page.screenshot(path=str(picture), full_page=True)
    except Exception as err:  # noqa: BLE001 - best effort while reporting another failure
        picture = Path(f"(no screenshot: {err})")
    sys.stderr.write(
        f"\n--- JupyterLab log (tail) ---\n{lab.log()}\n--- browser console errors ---\n"
        + "\n".join(console.page_errors + console.errors)
        + f"\n--- page screenshot: {picture}\n"
    )


def _publish(path: Path, target: str | None) -> Path:
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / path.name)
    return path


@pytest.fixture
def shot(tmp_path: Path) -> Callable[..., Path]:
    """``shot(locator_or_page, "name.png")``: element (or window) screenshot, checked; copied to $MLDEPLOY_SCREENSHOTS_DIR.

    ``publish=False`` keeps a picture out of the docs (it is still taken and checked).
    """
    target = os.environ.get("MLDEPLOY_SCREENSHOTS_DIR")

    def take(locator: Any, name: str, publish: bool = True) -> Path:
        path = tmp_path / name
        if not hasattr(locator, "page"):  # a Page: what the browser window shows
            locator.screenshot(path=str(path), animations="disabled")
            check_png(path)
            return _publish(path, target if publish else None)
        page = locator.page
        box = locator.bounding_box()
        tall = box is not None and box["height"] + 260 > VIEWPORT["height"]
        if tall:  # Lab's status bar would cover a panel taller than the notebook area
            page.set_viewport_size({"width": VIEWPORT["width"], "height": int(box["height"]) + 400})
        try:
            # wholly inside the notebook area (a half-visible element would be cut at the toolbar)
            locator.evaluate("el => el.scrollIntoView({block: 'center'})")
            locator.screenshot(path=str(path), animations="disabled")
        finally:
            if tall:
                page.set_viewport_size(VIEWPORT)
        check_png(path)
        return _publish(path, target if publish else None)

    return take
