"""Drive a real JupyterLab server and headless Chromium: start Lab, open a notebook, run it, look.

The helpers here are plain functions and one small class so that the fixtures in
``conftest.py`` and ``scripts/screenshots`` share them. Every wait is bounded: a
helper either sees what it waits for before its deadline or raises ``LabError``
with what it saw last.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Chromium switches that work on this machine (no sandbox as root, no GPU, no phoning home).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

VIEWPORT = {"width": 1280, "height": 900}

#: The Lab extension that renders ipywidgets (from jupyterlab_widgets, in the venv).
WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"

#: Text ipywidgets' Lab manager shows instead of a widget when something went wrong (ipywidgets 8
#: shows an error box, class ``jupyter-widgets-error-widget``, reading "Click to show javascript error.").
WIDGET_ERROR_TEXTS = (
    "Error displaying widget",
    "Error rendering widget",
    "Loading widget...",
    "Click to show javascript error",
)

#: Console messages from the widget machinery (the Lab manager, ipywidgets' base, our views).
_WIDGET_CONSOLE = re.compile(
    r"widget|jupyter-widgets|jupyterlab-manager|ipywidgets|comm|mldeploy", re.IGNORECASE
)


class LabError(AssertionError):
    """JupyterLab or the browser did not reach the state a test waits for (says what it saw)."""


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_chromium() -> str | None:
    """``$MLDEPLOY_CHROMIUM``, else ``chromium`` (or a Chrome) on PATH, else None."""
    explicit = os.environ.get("MLDEPLOY_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else shutil.which(explicit)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


# --- the Lab server --------------------------------------------------------------------------


@dataclass
class LabServer:
    """One JupyterLab server on 127.0.0.1 with token auth, isolated config/data/runtime dirs.

    ``root`` holds the notebooks it serves; ``home`` is the ``MLDEPLOY_HOME`` its kernels use.
    """

    root: Path
    home: Path
    state: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen[bytes] | None = None
    #: More ``jupyter lab`` options (e.g. a server extension turned off).
    extra_args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state / "lab.log"

    def env(self) -> dict[str, str]:
        """The server's environment: the venv first on PATH, every Jupyter dir under ``state``."""
        env = dict(os.environ)
        venv_bin = str(Path(sys.executable).parent)
        env.update(
            PATH=venv_bin + os.pathsep + env.get("PATH", ""),
            MLDEPLOY_HOME=str(self.home),
            JUPYTER_CONFIG_DIR=str(self.state / "config"),
            JUPYTER_DATA_DIR=str(self.state / "data"),
            JUPYTER_RUNTIME_DIR=str(self.state / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(self.state / "config" / "lab" / "user-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.state / "config" / "lab" / "workspaces"),
            IPYTHONDIR=str(self.state / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        # a kernel must not inherit pytest's per-test home or a CI flag meant for pytest
        env.pop("PYTEST_CURRENT_TEST", None)
        return env

    def _write_settings(self) -> None:
        """User settings: no news/update prompt (it covers cells in screenshots), no autosave."""
        settings = self.state / "config" / "lab" / "user-settings" / "@jupyterlab"
        files = {
            "apputils-extension/notification.jupyterlab-settings": {
                "fetchNews": "false",
                "checkForUpdates": False,
            },
            "docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
        }
        for rel, value in files.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))

    def start(self, timeout: float = 60.0) -> None:
        """Start ``python -m jupyterlab``, wait (bounded) for ``/api/status``, check the widget manager loads."""
        for sub in ("config", "data", "runtime", "ipython"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_settings()
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.terminals_enabled=False",
            *self.extra_args,
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI boxes and this machine run as root
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(
                    f"{self.url}/api/status?token={self.token}", timeout=2
                ) as reply:
                    if reply.status == 200:
                        self._check_widget_manager()
                        return
            except (urllib.error.URLError, OSError) as err:
                last = str(err)
            time.sleep(0.2)
        raise LabError(f"JupyterLab did not answer within {timeout:.0f} s ({last}):\n{self.log()}")

    def _check_widget_manager(self) -> None:
        """The page Lab serves must list ipywidgets' Lab manager, or no widget can render."""
        with urllib.request.urlopen(f"{self.url}/lab?token={self.token}", timeout=10) as reply:
            page = reply.read().decode("utf-8", "replace")
        if WIDGET_MANAGER not in page:
            raise LabError(
                f"JupyterLab does not load {WIDGET_MANAGER}: install jupyterlab_widgets into the "
                "venv (`jupyter labextension list` must show it)"
            )

    def api(self, path: str, method: str = "GET") -> Any:
        """Call the server's REST API (token in the header) and return the decoded JSON (or None)."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def log(self, tail: int = 8000) -> str:
        """The end of the server's log (what it printed, kernels' stderr included)."""
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 15.0) -> None:
        """Shut down kernels, then the server (SIGTERM to its group, SIGKILL after ``timeout``)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            for kernel in self.api("/api/kernels") or []:
                self.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, OSError):
            pass  # the server is going away anyway; the group kill below ends its kernels
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def notebook_url(self, name: str, workspace: str) -> str:
        """The URL that opens ``name`` in its own fresh workspace (no tabs restored from earlier tests)."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={self.token}"


# --- the browser side ------------------------------------------------------------------------


@dataclass
class Console:
    """What the page printed: console errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def widget_errors(self) -> list[str]:
        """Uncaught exceptions, and console errors coming from the widget machinery."""
        return self.page_errors + [e for e in self.errors if _WIDGET_CONSOLE.search(e)]


def watch_console(page: Any) -> Console:
    """Record the page's console errors and uncaught exceptions from now on."""
    console = Console()

    def on_console(message: Any) -> None:
        if message.type == "error":
            console.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda err: console.page_errors.append(str(err)))
    return console


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.25) -> Any:
    """Call ``check()`` until it returns something truthy; raise LabError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


_KERNEL_STATUS_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const ctx = w && w.sessionContext;
  if (!ctx || !ctx.session || !ctx.session.kernel) return 'no-kernel';
  return ctx.session.kernel.status;
}"""

_PROMPTS_JS = """() => Array.from(
  document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')
).map(p => p.textContent.trim())"""


def open_notebook(page: Any, lab: LabServer, name: str, timeout: float = 60.0) -> None:
    """Open ``name`` in Lab and wait (bounded) until its kernel is idle and its cells are shown."""
    workspace = re.sub(r"[^a-z0-9]+", "-", f"{name}-{secrets.token_hex(3)}".lower())
    page.goto(lab.notebook_url(name, workspace), timeout=timeout * 1000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout * 1000)
    wait_for(
        lambda: page.evaluate(_KERNEL_STATUS_JS) == "idle",
        timeout,
        f"the kernel of {name} to be idle",
    )


def run_all_cells(page: Any, timeout: float = 120.0) -> list[str]:
    """Run all cells (Lab's ``notebook:run-all-cells``) and wait until every code cell has run.

    Returns the input prompts (``[1]:`` ...). Raises LabError when a cell is still running
    (``[*]``) at the deadline or the kernel died.
    """
    start_run_all(page)
    return wait_all_ran(page, timeout)


def start_run_all(page: Any) -> None:
    """Ask Lab to run all cells of the current notebook (returns at once)."""
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def wait_all_ran(page: Any, timeout: float = 120.0) -> list[str]:
    """Wait until every code cell shows ``[n]:`` and the kernel is idle; returns the prompts."""

    def done() -> list[str] | None:
        prompts = page.evaluate(_PROMPTS_JS)
        status = page.evaluate(_KERNEL_STATUS_JS)
        if status in ("dead", "unknown"):
            raise LabError(f"the kernel is {status}; prompts {prompts}")
        if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts) and status == "idle":
            return prompts
        return None

    return wait_for(done, timeout, "every code cell to run (prompts [n]: and an idle kernel)", 0.5)


def cell_errors(page: Any) -> list[str]:
    """Tracebacks Lab shows in the notebook's outputs (an exception in a cell)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll(
             '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
             + '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]'
           )).map(e => e.textContent)"""
    )


def widget_placeholders(page: Any) -> list[str]:
    """Widget outputs that failed to render (ipywidgets' error box) or are stuck 'Loading widget...'.

    Each is returned as its output's text (the JavaScript error itself is in the console).
    """
    return page.evaluate(
        """(markers) => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
             .filter(out => out.querySelector('.jupyter-widgets-error-widget')
                            || markers.some(m => out.innerText.includes(m)))
             .map(out => out.innerText.trim())""",
        list(WIDGET_ERROR_TEXTS),
    )


def iter_cells_text(page: Any) -> Iterator[str]:
    """The visible text of every output area, in order."""
    yield from page.evaluate(
        "() => Array.from(document.querySelectorAll('.jp-OutputArea')).map(e => e.innerText)"
    )


def scroll_to_top(locator: Any, timeout: float = 10.0) -> None:
    """Scroll the notebook until ``locator``'s top sits just under Lab's toolbar (re-tries while Lab lays out)."""

    from playwright.sync_api import Error as PlaywrightError

    def placed() -> bool:
        try:
            locator.evaluate("el => el.scrollIntoView({block: 'start'})", timeout=2000)
            box = locator.bounding_box(timeout=2000)
        except PlaywrightError:  # not (or no longer) in the page: try again until the deadline
            return False
        return box is not None and 60 <= box["y"] <= 160

    wait_for(placed, timeout, "the element to scroll to the top of the notebook", 0.3)


# --- screenshots ----------------------------------------------------------------------------


def check_png(path: Path, min_size: tuple[int, int] = (200, 60)) -> tuple[int, int, int]:
    """Assert ``path`` is a real picture: plausible size, many colours, not one flat colour.

    Returns ``(width, height, colours)``.
    """
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20)
        count = len(colours) if colours is not None else 1 << 20
        extrema = rgb.getextrema()
    assert width >= min_size[0] and height >= min_size[1], f"{path.name} is only {width}x{height}"
    assert width <= 4000 and height <= 6000, f"{path.name} is implausibly big: {width}x{height}"
    assert count >= 8, f"{path.name} has only {count} colours: a blank picture?"
    spread = max(hi - lo for lo, hi in extrema)
    assert spread > 64, f"{path.name} is nearly uniform (channel spread {spread})"
    return width, height, count


def shrink_png(path: Path, colours: int = 128) -> int:
    """Quantize ``path`` to a ``colours`` palette and write it optimized; returns the new size in bytes."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path.stat().st_size
