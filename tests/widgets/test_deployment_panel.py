"""DeploymentPanel and PackagePanel against real services, and the display hooks of Webservice/ModelPackage.

Services are real scoring servers (process target on 127.0.0.1 ephemeral ports, and the
Docker target for the tests marked ``docker``); the panels are driven with ``.click()``
and asserted on what they show (``visible_text``) and on their widgets' values.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import InferenceConfig, Model
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.deploy.service import Webservice
from jupyter_mldeploy.errors import ServiceNotFoundError
from jupyter_mldeploy.widgets import DeploymentPanel, PackagePanel
from jupyter_mldeploy.widgets._base import visible_text
from jupyter_mldeploy.widgets._display import WIDGET_VIEW
from jupyter_mldeploy.deploy.progress import line_fraction
from jupyter_mldeploy.scoring.logs import last_traceback

SCRIPT = textwrap.dedent(
    """
    import json, os, time, uuid

    def init():
        global k
        time.sleep(float(os.environ.get("INIT_SLEEP", "0")))
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())
        print("INIT-MARK", uuid.uuid4().hex, flush=True)

    def run(raw_data):
        return [x * k for x in json.loads(raw_data)["data"]]
    """
)
FAILING = "import json\n\ndef init():\n    print('loading weights', flush=True)\n    raise ValueError('no weights here')\n\ndef run(raw_data):\n    return 1\n"


@pytest.fixture(autouse=True)
def _no_leaked_services(no_leaked_services: None) -> None:
    """Every test here deploys: delete what it leaves (see tests/conftest.py)."""


@pytest.fixture
def panels() -> Iterator[list[Any]]:
    """Panels a test makes; closed (tickers stopped) before its services are deleted."""
    made: list[Any] = []
    yield made
    for panel in made:
        panel.close()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something true, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def flat(text: str) -> str:
    """``text`` with every run of whitespace as one space (HTML tags become spaces)."""
    return " ".join(text.split())


def _deploy(
    name: str, model: Model, folder: Path, script: str = SCRIPT, **config: Any
) -> Webservice:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text(script)
    return deploy(
        name,
        [model],
        InferenceConfig("score.py", source_directory=str(folder)),
        ProcessWebservice.deploy_configuration(**config),
    )


def _panel(panels: list[Any], service: Webservice, **kwargs: Any) -> DeploymentPanel:
    panel = DeploymentPanel(service, refresh_s=kwargs.pop("refresh_s", 0.1), **kwargs)
    panels.append(panel)
    return panel


# --- pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "line", "fraction"),
    [
        ("build", "Step 3/12 : COPY src/ /var/azureml-app/src/", 0.25),
        ("build", "Step 12/12 : LABEL x=y", 1.0),
        ("build", " ---> Running in 0b6c0fb14bab", None),
        ("environment", "Resolved 7 packages in 12ms", 0.4),
        ("environment", "Installed 7 packages in 30ms", 0.95),
        ("init", "Step 1/2 : not a build", None),
    ],
)
def test_output_lines_say_how_far_a_phase_is(phase: str, line: str, fraction: float | None) -> None:
    assert line_fraction(phase, line) == fraction


def test_traceback_is_taken_out_of_the_server_log() -> None:
    log = (
        "2026-01-01T00:00:00.001Z script rid=init loading\n"
        "2026-01-01T00:00:00.002Z server ERROR worker 1:   Traceback (most recent call last):\n"
        '2026-01-01T00:00:00.003Z server ERROR worker 1:     File "/app/score.py", line 5, in init\n'
        "2026-01-01T00:00:00.004Z server ERROR worker 1:       raise ValueError('x')\n"
        "2026-01-01T00:00:00.005Z server ERROR worker 1:   ValueError: x\n"
        "2026-01-01T00:00:00.006Z server ERROR worker 1:   \n"
        "2026-01-01T00:00:00.007Z server INFO something else\n"
    )
    assert last_traceback(log) == (
        'Traceback (most recent call last):\n  File "/app/score.py", line 5, in init\n'
        "    raise ValueError('x')\nValueError: x"
    )
    assert last_traceback("no trace here\n") == ""


# --- DeploymentPanel on the process target ------------------------------------------------------


def test_panel_follows_a_deployment_to_healthy(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    service = _deploy(
        "follow", k_model, tmp_path / "app", environment_variables={"INIT_SLEEP": "0.5"}
    )
    panel = _panel(panels, service, log_lines=4)
    assert panel.progress_bar.layout.display != "none"  # a deployment of ours: the bar is shown
    service.wait_for_deployment(timeout_sec=120)
    wait_for(lambda: panel.state == "Healthy", "the Healthy badge")
    wait_for(lambda: "INIT-MARK" in panel.log_view.value, "init()'s print in the log box")

    text = visible_text(panel)
    assert "follow" in text and "ProcessWebservice · process" in text and "Healthy" in text
    assert service.scoring_uri in text and "models:  k:1" in text and "auth:  off" in text
    assert f'<a href="{service.swagger_uri}" target="_blank"' in panel.links.value
    for phase in ("resolve", "environment", "start", "init", "ready"):
        assert re.search(rf"✓\s+{phase}\s+[\d.]+ (ms|s)\b", text), phase
    # init slept 0.5 s: its row says so
    assert re.search(r"init\s+(\d{3}\.\d ms|0\.[5-9]\d s|\d\.\d\d s)", text)
    assert "▶" not in text and "✗" not in text
    # the bar went forward phase by phase to 1.0, never back
    assert panel.progress_bar.value == 1.0 and panel.progress_bar.description == "Done"
    assert repr(panel) == "DeploymentPanel(service='follow', state='Healthy')"
    fractions = panel.progress_view.fractions
    assert fractions == sorted(fractions) and len(fractions) >= 4 and fractions[-1] == 1.0
    # the log box holds the last log_lines lines only
    log_text = visible_text(panel.log_view).strip()
    assert 1 <= len(log_text.splitlines()) <= 4
    assert service.get_logs(4).splitlines()[-1].strip() in log_text


def test_reload_click_reruns_init_and_the_panel_follows_it(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    service = _deploy("reloader", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    panel = _panel(panels, service)
    wait_for(lambda: panel.log_view.value.count("INIT-MARK") == 1, "the first init line")
    first_progress = service.progress

    panel.reload_button.click()  # returns at once: the reload runs in the background
    assert "Reloading reloader" in visible_text(panel)
    assert service.progress is not first_progress
    assert panel.progress_view.progress is service.progress
    wait_for(
        lambda: panel.log_view.value.count("INIT-MARK") == 2, "a second init() line after Reload"
    )
    wait_for(lambda: panel.state == "Healthy" and panel.progress_bar.value == 1.0, "Healthy again")
    text = visible_text(panel)
    # the reload's own phases: the new code is swapped into the running server (no start), nothing resolved
    assert re.search(r"✓\s+init\s+.*code swap", text) and re.search(r"✓\s+ready\s+", text)
    assert not re.search(r"✓\s+start\s+", text)
    assert (
        "resolve" not in text
    )
    assert service.run({"data": [1]}) == [3.0]


def test_delete_asks_first_then_frees_the_port_and_stops_the_refresh(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    service = _deploy("doomed", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    port = service.port
    panel = _panel(panels, service)
    wait_for(lambda: panel.state == "Healthy", "Healthy")

    panel.delete_button.click()
    assert panel.confirm_delete.layout.display != "none"
    assert "Delete service 'doomed'?" in visible_text(panel)
    panel.cancel_delete.click()
    assert panel.confirm_delete.layout.display == "none"
    assert service.state == "Healthy"  # nothing deleted yet

    panel.delete_button.click()
    panel.confirm_delete.click()  # returns at once; the delete runs in a thread
    assert panel.worker is not None
    panel.worker.join(60)
    assert not panel.worker.is_alive()
    assert "Deleted" in panel.state_badge.value and panel.state == "Deleted"
    assert "Deleted doomed." in visible_text(panel)
    assert not panel.ticker.running
    assert panel.reload_button.disabled and panel.delete_button.disabled
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))
    with pytest.raises(ServiceNotFoundError):
        Webservice("doomed")


def test_close_stops_the_refresh_and_the_live_updates(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    service = _deploy(
        "closing", k_model, tmp_path / "app", environment_variables={"INIT_SLEEP": "1.5"}
    )
    panel = _panel(panels, service)
    wait_for(lambda: "start" in panel.phases.value, "the start phase")
    panel.close()
    assert not panel.ticker.running
    phases_then = panel.phases.value
    service.wait_for_deployment(timeout_sec=120)
    assert "ready" not in phases_then and panel.phases.value == phases_then  # no update after close
    assert service.state == "Healthy"  # closing the panel leaves the service alone


def test_init_failure_shows_the_exception_and_its_file_and_line(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    service = _deploy("broken", k_model, tmp_path / "app", script=FAILING)
    panel = _panel(panels, service)
    wait_for(
        lambda: panel.state == "Failed" and panel.failure.layout.display != "none", "the failure"
    )
    text = visible_text(panel)
    assert "Failed:" in text and "ValueError: no weights here" in text
    score = tmp_path / "app" / "score.py"
    assert f'File "{score}", line 5, in init' in text  # the traceback, from the server log
    assert "raise ValueError('no weights here')" in text
    assert re.search(r"✗\s+init\s+", text) and "Fix the entry script, then press Reload" in text
    assert panel.progress_bar.description == "Failed" and panel.progress_bar.bar_style == "danger"
    assert "loading weights" in visible_text(panel.log_view)
    # a failed server logs every probe it answers 503: the panel probes it rarely (the
    # traceback stays in the log tail), 15 refreshes here add at most one line
    before = service.get_logs(500).count("GET /ready 503")
    time.sleep(1.5)
    assert service.get_logs(500).count("GET /ready 503") - before <= 1

    # found again (another kernel): the saved phases and the traceback from the log
    again = _panel(panels, Webservice("broken"))
    wait_for(
        lambda: again.failure.layout.display != "none", "the failure of the service found again"
    )
    text = visible_text(again)
    assert f'File "{score}", line 5, in init' in text and "no weights here" in text
    assert re.search(r"✗\s+init\s+[\d.]+ (ms|s)", text)
    assert again.progress_bar.layout.display == "none"  # no operation of its own to follow

    # fix the script and press Reload: the failure goes away
    (tmp_path / "app" / "score.py").write_text(SCRIPT)
    panel.reload_button.click()
    wait_for(lambda: panel.state == "Healthy", "Healthy after the fix", timeout=120)
    wait_for(lambda: panel.failure.layout.display == "none", "the failure box hidden")


def test_a_failure_without_traceback_shows_what_to_do(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        service = _deploy("taken", k_model, tmp_path / "app", port=port)
        panel = _panel(panels, service)
        wait_for(lambda: panel.failure.layout.display != "none", "the failure")
    text = flat(visible_text(panel))
    assert f"Failed: port {port} on 127.0.0.1 is taken" in text
    assert "deploy_configuration(port=...)" in text  # the message says what to do next
    failure = flat(visible_text(panel.failure))  # the failure box: no init() traceback to show here
    assert "Traceback" not in failure and "Fix the entry script" not in failure
    assert re.search(r"✗ start ", text)


def test_errors_in_callbacks_show_in_the_panel(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    service = _deploy("gone", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    panel = _panel(panels, service)
    wait_for(lambda: panel.state == "Healthy", "Healthy")
    service.delete()
    panel.reload_button.click()  # must not raise
    assert "Error: service 'gone' was deleted; deploy it again to reload it." in flat(
        visible_text(panel)
    )
    wait_for(lambda: not panel.ticker.running, "the refresh to stop on a deleted service")
    assert panel.state == "Deleted"


def test_a_service_deleted_elsewhere_stops_the_panel(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    service = _deploy("elsewhere", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    panel = _panel(panels, service)
    wait_for(lambda: panel.state == "Healthy", "Healthy")
    Webservice("elsewhere").delete()  # another object: the CLI, another kernel
    wait_for(lambda: panel.state == "Deleted", "Deleted")
    wait_for(lambda: not panel.ticker.running, "the refresh to stop")
    assert panel.reload_button.disabled


def test_pause_stops_the_log_refresh(tmp_path: Path, k_model: Model, panels: list[Any]) -> None:
    service = _deploy("paused", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    panel = _panel(panels, service)
    wait_for(lambda: "INIT-MARK" in panel.log_view.value, "the log")
    panel.pause.value = True
    assert panel.pause.description == "Resume log"
    with panel._lock:  # a refresh holds it throughout: one that began before the pause is over
        pass
    before = panel.log_view.value
    service.reload()  # writes new log lines
    ticks = panel.progress_view  # the phases still follow while the log is paused
    wait_for(lambda: ticks.progress is service.progress, "the panel to follow the reload")
    assert panel.log_view.value == before
    panel.pause.value = False
    wait_for(lambda: panel.log_view.value.count("INIT-MARK") == 2, "the log refreshed after resume")


class _Fault:
    """Makes one property or method of a real service's class fail while ``on`` (monkeypatched, restored after)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, service: Webservice, name: str, err: BaseException) -> None:
        self.on = True
        self.calls = 0
        cls = type(service)
        original = getattr(cls, name)
        fault = self

        def failing(obj: Any, *args: Any, **kwargs: Any) -> Any:
            fault.calls += 1
            if fault.on:
                raise err
            return original.fget(obj) if isinstance(original, property) else original(obj, *args, **kwargs)

        monkeypatch.setattr(cls, name, property(failing) if isinstance(original, property) else failing)


def test_refresh_survives_an_engine_blip_and_says_the_state_is_unknown(
    tmp_path: Path, k_model: Model, panels: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    service = _deploy("blip", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    panel = _panel(panels, service)
    wait_for(lambda: panel.state == "Healthy", "Healthy")
    # what the docker SDK raised when the daemon restarted (before DockerEngine mapped it)
    fault = _Fault(
        monkeypatch, service, "state", requests.exceptions.ConnectionError("Connection aborted: docker.sock")
    )
    wait_for(lambda: panel.state == "Unknown", "the badge to leave the stale Healthy")
    assert "Unknown" in panel.state_badge.value
    wait_for(lambda: panel._failures >= 3, "three failed refreshes in a row")
    text = flat(visible_text(panel))
    assert "Refresh failed (ConnectionError): Connection aborted: docker.sock" in text
    assert "The panel keeps trying" in text
    assert text.count("Traceback (most recent call last)") == 1  # shown once, not every retry
    assert panel.ticker.running
    fault.on = False  # the engine is back
    wait_for(lambda: panel.state == "Healthy", "Healthy again", timeout=60)
    assert "Refresh failed" not in visible_text(panel) and panel.ticker.running


def test_a_failed_delete_leaves_the_panel_usable(
    tmp_path: Path, k_model: Model, panels: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mldeploy.errors import DeploymentError

    service = _deploy("sticky", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    panel = _panel(panels, service)
    wait_for(lambda: panel.state == "Healthy", "Healthy")
    fault = _Fault(
        monkeypatch, service, "delete", DeploymentError("stopping sticky failed: engine busy; try again")
    )
    panel.delete_button.click()
    panel.confirm_delete.click()
    panel.worker.join(60)
    assert fault.calls == 1
    text = flat(visible_text(panel))
    assert "Error: stopping sticky failed: engine busy; try again" in text and "Deleting" not in text
    assert not panel.reload_button.disabled and not panel.delete_button.disabled
    assert panel.confirm_delete.layout.display == "none" and panel.cancel_delete.layout.display == "none"
    assert not panel.confirm_delete.disabled and panel.ticker.running and panel.state == "Healthy"

    fault.on = False  # try again: it works now
    panel.delete_button.click()
    panel.confirm_delete.click()
    panel.worker.join(60)
    assert panel.state == "Deleted" and "Deleted sticky." in visible_text(panel)


def test_reload_waits_for_a_refresh_that_is_drawing(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    import threading

    service = _deploy("drawing", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    panel = _panel(panels, service)
    wait_for(lambda: panel.state == "Healthy", "Healthy")
    first = service.progress
    drawing = threading.Event()
    release = threading.Event()

    def a_long_refresh() -> None:  # holds the refresh lock, as a refresh does while it draws
        with panel._lock:
            drawing.set()
            release.wait(30)

    holder = threading.Thread(target=a_long_refresh)
    holder.start()
    assert drawing.wait(10)
    clicker = threading.Thread(target=panel.reload_button.click)
    clicker.start()
    clicker.join(0.5)
    try:
        assert clicker.is_alive() and service.progress is first  # Reload waits for the refresh
    finally:
        release.set()
        holder.join(10)
        clicker.join(30)
    assert service.progress is not first and "Reloading drawing" in visible_text(panel)
    service.wait_for_deployment(timeout_sec=120)


def test_swagger_of_an_auth_service_is_fetched_with_its_key(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    import urllib.error
    import urllib.request

    service = _deploy("locked", k_model, tmp_path / "app", auth_enabled=True)
    service.wait_for_deployment(timeout_sec=120)
    with pytest.raises(urllib.error.HTTPError) as caught:  # why a plain link does not do
        urllib.request.urlopen(service.swagger_uri, timeout=10)
    assert caught.value.code == 401
    caught.value.close()
    panel = _panel(panels, service)
    wait_for(lambda: panel.state == "Healthy", "Healthy")
    assert "<a href" not in panel.links.value and service.scoring_uri in panel.links.value
    assert panel.swagger_button.layout.display != "none" and "[swagger.json]" in visible_text(panel)
    assert panel.swagger_view.layout.display == "none"

    panel.swagger_button.value = True  # fetches it with the primary key
    shown = visible_text(panel.swagger_view)
    spec = json.loads(shown[: shown.rindex("}") + 1])
    assert spec["swagger"] == "2.0" and "/score" in spec["paths"]
    assert "fetched with its primary key" in shown
    panel.swagger_button.value = False  # folds it away
    assert panel.swagger_view.layout.display == "none"

    service.regen_key("Primary")  # restarts the server with a new key
    panel.swagger_button.value = True  # the current key is read at each press
    assert '"swagger": "2.0"' in panel.swagger_view.value.replace("&quot;", '"')


# --- display hooks ------------------------------------------------------------------------------


def test_one_panel_per_service_whatever_object_displays_it(
    tmp_path: Path, k_model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from IPython.core.interactiveshell import InteractiveShell

    service = _deploy("rerun", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    monkeypatch.setattr(InteractiveShell.instance(), "kernel", object(), raising=False)

    def tickers() -> int:
        return sum(1 for t in threading.enumerate() if t.name == "mldeploy-panel-rerun" and t.is_alive())

    shown = [Webservice("rerun") for _ in range(5)]  # a cell `Webservice("rerun")` run 5 times
    views = {obj._repr_mimebundle_()[WIDGET_VIEW]["model_id"] for obj in shown}
    panel = shown[0].__dict__["_mldeploy_panel"]
    try:
        assert len(views) == 1 and views == {panel.model_id}
        assert tickers() == 1
        assert panel.service is shown[-1]  # it follows the object displayed last
        shown[-1].reload(wait=False)  # an operation of that object shows in the one panel
        wait_for(lambda: panel.progress_view.progress is shown[-1].progress, "the reload followed")
        shown[-1].wait_for_deployment(timeout_sec=120)
    finally:
        panel.close()
    assert not panel.ticker.running
    again = Webservice("rerun")  # the panel was closed: the next display makes a new one
    view = again._repr_mimebundle_()[WIDGET_VIEW]["model_id"]
    fresh = again.__dict__["_mldeploy_panel"]
    try:
        assert fresh is not panel and view == fresh.model_id and tickers() == 1
    finally:
        fresh.close()


# --- display hooks (text) -----------------------------------------------------------------------


def test_service_displays_as_text_in_a_terminal_without_importing_ipywidgets(
    tmp_path: Path, k_model: Model
) -> None:
    service = _deploy("texty", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    code = (
        "import sys, json\n"
        "from jupyter_mldeploy.deploy.service import Webservice\n"
        "s = Webservice('texty')\n"
        "bundle = s._repr_mimebundle_()\n"
        "print(json.dumps({'keys': sorted(bundle), 'text': bundle['text/plain'], 'repr': repr(s),\n"
        "                  'widgets': 'ipywidgets' in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
        timeout=60,
    )
    shown = json.loads(out.stdout)
    assert shown["keys"] == ["text/plain"] and shown["widgets"] is False
    text = shown["text"]
    assert text.splitlines()[0] == "ProcessWebservice 'texty' (process): Healthy"
    assert (
        f"scoring URI: {service.scoring_uri}" in text
        and f"swagger:     {service.swagger_uri}" in text
    )
    assert "models:      k:1" in text and "auth:        off" in text
    assert re.search(r"^\s+init\s+\d+\.\d\ds\s+ok", text, re.MULTILINE)
    assert "\n" not in shown["repr"] and shown["repr"].startswith("ProcessWebservice(name='texty'")


def test_service_displays_as_one_panel_in_a_kernel(
    tmp_path: Path, k_model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    service = _deploy("kerneled", k_model, tmp_path / "app")
    service.wait_for_deployment(timeout_sec=120)
    shell = InteractiveShell.instance()
    monkeypatch.setattr(shell, "kernel", object(), raising=False)  # what a Jupyter kernel has
    first = shell.display_formatter.format(service)[0]
    second = service._repr_mimebundle_()
    panel = service.__dict__["_mldeploy_panel"]
    model_id = panel.model_id
    try:
        assert isinstance(panel, DeploymentPanel)
        assert first[WIDGET_VIEW]["model_id"] == panel.model_id == second[WIDGET_VIEW]["model_id"]
        assert first["text/plain"].startswith("ProcessWebservice 'kerneled' (process)")
        assert service._repr_mimebundle_(include=["text/plain"]).keys() == {"text/plain"}
    finally:
        panel.close()
    third = service._repr_mimebundle_()  # a closed panel is not shown again: a new one is made
    assert third[WIDGET_VIEW]["model_id"] != model_id
    service.__dict__["_mldeploy_panel"].close()


# --- PackagePanel -----------------------------------------------------------------------------


def test_package_panel_shows_the_build_and_saves_the_context(
    tmp_path: Path, k_model: Model, panels: list[Any]
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "score.py").write_text(SCRIPT)
    from jupyter_mldeploy.deploy.package import package as make_package

    # (Model.package([model], config) takes the model list for Azure's workspace argument: reported)
    package = make_package(
        [k_model],
        InferenceConfig("score.py", source_directory=str(app)),
        generate_dockerfile=True,
        image_name="mldeploy-test/panel",
        image_label="1",
    )
    panel = PackagePanel(package, refresh_s=0.1)
    panels.append(panel)
    assert panel.save_button.disabled  # nothing to save until it is made
    package.wait_for_creation(timeout_sec=300)
    wait_for(lambda: not panel.ticker.running, "the refresh to stop once the package is made")
    text = visible_text(panel)
    assert "Package mldeploy-test/panel:1" in text and "Succeeded" in text
    assert re.search(r"✓\s+resolve\s+", text) and re.search(r"✓\s+build\s+", text)
    assert "Dockerfile context" in text and "docker build -t mldeploy-test/panel:1" in text
    assert panel.progress_bar.value == 1.0

    panel.save_button.click()  # no folder typed: one line saying what to do
    assert "type a folder" in visible_text(panel)
    panel.folder.value = str(tmp_path / "ctx")
    panel.save_button.click()
    assert (tmp_path / "ctx" / "Dockerfile").is_file()
    assert f"Saved the Dockerfile and its context to {tmp_path / 'ctx'}" in visible_text(panel)
    panel.save_button.click()  # the folder is not empty now
    assert "is not empty; pick a new folder" in visible_text(panel)

    bundle = package._repr_mimebundle_()  # no kernel here: text
    assert bundle.keys() == {"text/plain"}
    assert bundle["text/plain"].startswith("ModelPackage Dockerfile context")
    assert "Succeeded" in bundle["text/plain"] and "build" in bundle["text/plain"]

    from IPython.core.interactiveshell import InteractiveShell

    with pytest.MonkeyPatch.context() as patch:  # in a kernel: its PackagePanel
        patch.setattr(InteractiveShell.instance(), "kernel", object(), raising=False)
        view = package._repr_mimebundle_()[WIDGET_VIEW]
        shown = package.__dict__["_mldeploy_panel"]
        panels.append(shown)
        assert isinstance(shown, PackagePanel) and view["model_id"] == shown.model_id


# --- the Docker target ----------------------------------------------------------------------------


@contextlib.contextmanager
def _restarting_daemon() -> Iterator[str]:
    """A unix socket that accepts and at once closes every connection, as a restarting Docker daemon does."""
    import tempfile
    import threading

    with tempfile.TemporaryDirectory(prefix="mld-d") as folder:  # short: a socket path has <108 chars
        path = f"{folder}/docker.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        server.listen(16)

        def drop_every_connection() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:  # closed: done
                    return
                conn.close()

        thread = threading.Thread(target=drop_every_connection, daemon=True)
        thread.start()
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
            server.close()
            thread.join(5)


@pytest.mark.docker
def test_docker_build_drives_the_progress_bar(
    docker_home: Path, tmp_path: Path, k_model: Model, panels: list[Any], docker_client: Any, base_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine_helpers import fresh_base_image

    with fresh_base_image(docker_client, base_image) as fresh:  # the shared image gets built: Step N/M lines
        monkeypatch.setenv("MLDEPLOY_BASE_IMAGE", fresh)
        _docker_build_drives_the_progress_bar(tmp_path, k_model, panels)


def _docker_build_drives_the_progress_bar(tmp_path: Path, k_model: Model, panels: list[Any]) -> None:
    from jupyter_mldeploy.deploy.docker import LocalWebservice

    app = tmp_path / "app"
    app.mkdir()
    (app / "score.py").write_text(SCRIPT)
    service = deploy(
        "dockpanel",
        [k_model],
        InferenceConfig("score.py", source_directory=str(app)),
        LocalWebservice.deploy_configuration(),
    )
    panel = _panel(panels, service, refresh_s=0.2)
    seen: list[str] = []
    panel.last_line.observe(lambda change: seen.append(change["new"]), names="value")
    service.wait_for_deployment(timeout_sec=600)
    wait_for(lambda: panel.state == "Healthy", "Healthy")
    steps = [
        e.text
        for e in service.progress.events_since(0)
        if e.kind == "line" and e.text.startswith("Step ")
    ]
    assert steps, "the Docker build printed Step N/M lines"
    build_start, build_end = 2 / 6, 3 / 6
    inside = [f for f in panel.progress_view.fractions if build_start < f < build_end]
    assert len(inside) >= 3  # Step N/M lines moved the bar inside the build phase
    assert panel.progress_bar.value == 1.0
    assert any("build: Step " in line for line in seen)  # the line under the bar showed them
    text = visible_text(panel)
    assert "LocalWebservice · docker" in text and re.search(r"✓\s+build\s+[\d.]+ (ms|s)", text)
    wait_for(lambda: "INIT-MARK" in panel.log_view.value, "init()'s print in the container log")

    # the engine goes away for a while (a daemon restart): the panel says so, keeps refreshing,
    # and comes back by itself (the SDK's ConnectionError used to stop the refresh for good)
    import docker

    from jupyter_mldeploy.images import engine as engine_module
    from jupyter_mldeploy.images.engine import DockerEngine

    with _restarting_daemon() as socket_path, pytest.MonkeyPatch.context() as patch:
        gone = DockerEngine(
            docker.DockerClient(base_url=f"unix://{socket_path}", version="1.41", timeout=5)
        )
        patch.setattr(engine_module, "shared_engine", lambda *args, **kwargs: gone)
        wait_for(lambda: "Refresh failed" in visible_text(panel), "the refresh error")
        # (the refresh that failed first may have probed just before): not a stale Healthy
        wait_for(lambda: panel.state == "Unhealthy", "the badge to say Unhealthy")
        assert "no Docker engine answers" in flat(visible_text(panel))
        assert panel.ticker.running
        patch.undo()  # the engine is back
        with panel._lock:  # a refresh that was using the vanished engine is over
            gone.close()
    wait_for(
        lambda: panel.state == "Healthy" and "Refresh failed" not in visible_text(panel),
        "Healthy again once the engine answers",
    )

    panel.delete_button.click()
    panel.confirm_delete.click()
    panel.worker.join(120)
    assert panel.state == "Deleted" and not panel.ticker.running
