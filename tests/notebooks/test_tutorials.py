"""The tutorial notebooks: stored clean, and executed by nbval (a real kernel, real services) in the suite.

nbval runs in a subprocess on a copy of ``notebooks/`` with this test's
``MLDEPLOY_HOME`` (the kernel inherits it), the project's pytest settings
(``filterwarnings = error``) and the ``_nbval_capture`` plugin, which writes the
executed notebook so that the test can check what a user would see: real answers,
the panels, and nothing left running.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
TUTORIAL = NOTEBOOKS / "01-deploy-from-a-notebook.ipynb"
CHECK = "# NBVAL_CHECK_OUTPUT"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: the whole nbval run (about 40 s on an idle 2-core machine, 2 to 3 times that under load)
NBVAL_TIMEOUT_S = 420

#: Every magic the tutorial must use (the magic's text as it appears in a cell).
MAGICS = (
    "%%score_script",
    "%deploy_local",
    "%mldeploy models",
    "%mldeploy register",
    "%mldeploy services",
    "%mldeploy logs",
    "%mldeploy test",
    "%mldeploy delete",
    "%mldeploy package",
)

#: panel -> a line of the cell whose output is that panel
PANEL_CELLS = {
    "RegistryBrowser": "RegistryBrowser()",
    "Model (compact RegistryBrowser)": 'Model.get("diabetes-ridge", version=1)',
    "DeploymentPanel (%deploy_local)": "service = %deploy_local tut-diabetes",
    "DeploymentPanel (Webservice display)": "py_service  # a Webservice shows itself",
    "TestRequestPanel": "panel = TestRequestPanel(service)",
    "PackagePanel (ModelPackage display)": "package.wait_for_creation(",
}

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_leaked_services")]


def _code_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _cell(nb: Any, needle: str) -> Any:
    """The one code cell whose source contains ``needle``."""
    found = [c for c in _code_cells(nb) if needle in c.source]
    assert len(found) == 1, f"expected one cell with {needle!r}, found {len(found)}"
    return found[0]


def _text(cell: Any) -> str:
    """What the cell showed as text: streams, text/plain of results and displays, errors."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        elif "data" in out:
            parts.append(str(out["data"].get("text/plain", "")))
        elif out.get("output_type") == "error":
            parts.append("\n".join(out.get("traceback", [])))
    return "".join(parts)


# --- the committed notebook --------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_are_valid_and_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb.metadata, "widget state is stored: clear the notebook's outputs"
    for cell in _code_cells(nb):
        if cell.source.startswith(CHECK):
            # nbval compares only cells with an execution count and stored outputs
            assert cell.execution_count is not None, cell.source
            assert cell.outputs, f"checked cell without expected output:\n{cell.source}"
            assert {o.output_type for o in cell.outputs} == {"stream"}, cell.source
        else:
            assert cell.outputs == [] and cell.execution_count is None, (
                f"stored with outputs (clear them):\n{cell.source}"
            )


def test_tutorial_uses_every_magic_and_panel() -> None:
    nb = nbformat.read(TUTORIAL, as_version=4)
    assert sum(c.source.startswith(CHECK) for c in _code_cells(nb)) >= 5
    source = "\n".join(c.source for c in _code_cells(nb))
    for magic in MAGICS:
        assert magic in source, f"the tutorial does not use {magic}"
    assert "service.run(" in source and "service.get_logs(" in source and ".delete()" in source
    assert "Model.register(" in source and "Model.package(" in source and "Model.deploy(" in source
    for needle in PANEL_CELLS.values():
        _cell(nb, needle)  # exactly one cell shows each panel


# --- the notebook executed by nbval ------------------------------------------------------------


def _free(port: int) -> bool:
    """Whether a server could listen on ``port`` again (TIME_WAIT leftovers of closed connections are fine)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Any:
    """Run ``command`` in its own process group; on timeout kill the group (pytest and its kernel)."""
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            pytest.fail(
                f"nbval did not finish within {timeout:.0f} s:\n{stdout[-6000:]}{stderr[-2000:]}"
            )
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def _nbval(
    notebook: Path, home: Path, capture: Path | None = None, stop_first: bool = True,
    cell_timeout: int = 120, timeout: float = NBVAL_TIMEOUT_S,
) -> tuple[Any, float]:
    """Run nbval (lax) on ``notebook`` in a subprocess with our pytest settings; ``(result, seconds)``."""
    env = {
        **os.environ,
        "MLDEPLOY_HOME": str(home),  # the kernel is a subprocess of this one
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    if capture is not None:
        env["NBVAL_CAPTURE"] = str(capture)
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(notebook),
        "--nbval-lax",
        "--nbval-current-env",
        f"--nbval-cell-timeout={cell_timeout}",
        "-c",
        str(ROOT / "pyproject.toml"),  # our filterwarnings = error
        "--rootdir",
        str(notebook.parent),
        "-p",
        "no:cacheprovider",
        "-p",
        "_nbval_capture",
        "-q",
        *(["-x"] if stop_first else []),
    ]
    started = time.monotonic()
    run = _run(command, cwd=notebook.parent, env=env, timeout=timeout)
    return run, time.monotonic() - started


def test_nbval_compares_checked_cells_stored_like_the_tutorial(
    tmp_path: Path, mldeploy_home: Path
) -> None:
    """Checked cells stored as the tutorial stores them (count + stdout) are compared, not skipped."""
    cells = []
    for count, printed in enumerate(["2", "3"], start=1):  # 1 + 1 is 2: the second must fail
        cell = nbformat.v4.new_code_cell(f"{CHECK}\nprint(1 + 1)")
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{printed}\n")]
        cells.append(cell)
    kernelspec = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(
        nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernelspec}),
        tmp_path / "check.ipynb",
    )
    run, _ = _nbval(tmp_path / "check.ipynb", mldeploy_home, stop_first=False)
    assert run.returncode == 1, run.stdout[-3000:]
    assert "1 failed, 1 passed" in run.stdout and "Cell outputs differ" in run.stdout, run.stdout


def run_notebook(tutorial: Path, tmp_path: Path, home: Path, label: str, *, no_stderr: bool = True,
                 **nbval: Any) -> Any:
    """Execute a copy of ``tutorial`` alone under nbval; assert every cell passed (and, with ``no_stderr``,
    wrote nothing to stderr); return the executed notebook. ``nbval`` goes to :func:`_nbval` (timeouts)."""
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(tutorial, work)  # alone: files of an earlier run in notebooks/ stay out
    executed = tmp_path / "executed.ipynb"
    run, seconds = _nbval(work / tutorial.name, home, capture=executed, **nbval)
    report = run.stdout[-8000:] + run.stderr[-3000:]
    assert run.returncode == 0, f"nbval failed:\n{report}"
    assert re.search(r"\b\d+ passed\b", run.stdout) and "failed" not in run.stdout, report
    print(f"{label} under nbval: {seconds:.1f} s")
    nb = nbformat.from_dict(json.loads(executed.read_text(encoding="utf-8")))
    for cell in _code_cells(nb):
        if no_stderr:
            stderr = "".join(o["text"] for o in cell.outputs if o.get("output_type") == "stream" and o["name"] == "stderr")
            assert not stderr.strip(), f"stderr in cell:\n{cell.source}\n---\n{stderr}"
        assert all(o.get("output_type") != "error" for o in cell.outputs), cell.source
    return nb


@pytest.mark.timeout(NBVAL_TIMEOUT_S + 60)
def test_tutorial_runs_under_nbval(tmp_path: Path, mldeploy_home: Path) -> None:
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(TUTORIAL, work)  # alone: files of an earlier run in notebooks/ stay out
    executed = tmp_path / "executed.ipynb"
    run, seconds = _nbval(work / TUTORIAL.name, mldeploy_home, capture=executed)
    report = run.stdout[-8000:] + run.stderr[-3000:]
    assert run.returncode == 0, f"nbval failed:\n{report}"
    assert re.search(r"\b\d+ passed\b", run.stdout) and "failed" not in run.stdout, report
    print(f"tutorial under nbval: {seconds:.1f} s")

    nb = json.loads(executed.read_text(encoding="utf-8"))
    nb = nbformat.from_dict(nb)

    # every cell ran and showed nothing on stderr (warnings, tracebacks)
    for cell in _code_cells(nb):
        streams = [o for o in cell.outputs if o.get("output_type") == "stream"]
        stderr = "".join(o["text"] for o in streams if o["name"] == "stderr")
        assert not stderr.strip(), f"stderr in cell:\n{cell.source}\n---\n{stderr}"
        assert all(o.get("output_type") != "error" for o in cell.outputs), cell.source

    # the entry script was tried before deploying, and the service answered with numbers
    tried = _text(_cell(nb, "%%score_script src/score.py --model"))
    assert "--- result (HTTP 200) ---" in tried and "OK: run() takes schema input" in tried
    deployed = _cell(nb, "%deploy_local tut-diabetes")  # shows the deployment panel (or its text)
    assert any(WIDGET_VIEW in o.get("data", {}) for o in deployed.outputs) or "Healthy" in _text(
        deployed
    )
    answered = _text(_cell(nb, "print(np.round(answer, 1))"))
    assert len(re.findall(r"-?\d+\.\d*", answered)) == 3, answered
    tested = _text(_cell(nb, "%mldeploy test tut-diabetes"))
    assert re.search(r"\d+\.\d+", tested.split("/score", 1)[1]), tested
    sent = _text(_cell(nb, "panel.send_button.click()"))
    assert re.match(r"200 in \d+\.\d ms: \[\d+\.\d+\]", sent), sent  # the panel's Send, from code
    loaded = _text(_cell(nb, "panel.run_button.click()"))
    assert re.search(r"p50 \d+\.\d ms, p95 \d+\.\d ms", loaded), loaded
    assert "Reloading service 'tut-diabetes'" in _text(_cell(nb, "%%score_script src/score.py\n"))
    assert "access POST /score" in _text(_cell(nb, "%mldeploy logs tut-diabetes"))
    logged = re.search(r"(\d+) scoring requests logged", _text(_cell(nb, "service.get_logs()")))
    assert logged and int(logged.group(1)) >= 3, "run(), %mldeploy test, the 422 and the panel's"
    # the saved package builds offline: the Dockerfile, and the wheels of what score.py imports
    assert (work / "diabetes-image" / "Dockerfile").is_file()
    wheels = {w.name.split("-")[0].lower() for w in (work / "diabetes-image").rglob("*.whl")}
    assert {"scikit_learn", "joblib", "numpy"} <= wheels, sorted(wheels)

    # the panels were displayed as widgets
    for panel, needle in PANEL_CELLS.items():
        cell = _cell(nb, needle)
        assert any(WIDGET_VIEW in o.get("data", {}) for o in cell.outputs), f"{panel}: no widget"

    # nothing left running: no service records, every port the services used is free again
    from jupyter_mldeploy import Webservice

    assert Webservice.list() == []
    shown = _text(_cell(nb, "print(service.scoring_uri)")) + _text(_cell(nb, "%mldeploy services"))
    ports = {int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)/score", shown)}
    assert len(ports) == 2, f"expected the two services' ports in:\n{shown}"
    deadline = time.monotonic() + 10
    while not all(_free(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_free(p) for p in ports), f"ports still taken after the tutorial: {ports}"


def test_every_notebook_is_executed_by_a_test() -> None:
    """A notebook that no nbval test runs would be skipped silently: each one must be some test's TUTORIAL."""
    executed = set()
    for module in Path(__file__).parent.glob("test_*.py"):
        executed |= set(re.findall(r'^TUTORIAL = NOTEBOOKS / "([^"]+\.ipynb)"', module.read_text(), re.MULTILINE))
    missing = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb") if p.name not in executed)
    assert not missing, f"notebooks no test executes: {missing}; add a tests/notebooks/test_*.py running it (nbval)"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_every_notebook_is_listed_in_readme_and_scripts_lab(path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"^- `{re.escape(path.name)}`: \S", readme, re.MULTILINE), f"README's tutorial list lacks {path.name}"
    assert f"#   {path.name}" in (ROOT / "scripts" / "lab").read_text(), f"scripts/lab's list lacks {path.name}"
