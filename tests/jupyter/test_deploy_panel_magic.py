"""``%deploy_local`` in a Jupyter kernel: one DeploymentPanel, shown at once, and the service returned.

The shell is a real IPython ``InteractiveShell`` given a ``kernel`` attribute (what a
Jupyter kernel has; the real notebook path is proven by the tutorial and browser tests).
Every display goes through ``display_formatter.format``, which the tests record.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from ipywidgets import DOMWidget
from scale_script import SCALE_SCRIPT

from jupyter_mldeploy import Model
from jupyter_mldeploy.deploy.service import Webservice
from jupyter_mldeploy.widgets import DeploymentPanel
from jupyter_mldeploy.widgets._base import visible_text
from jupyter_mldeploy.widgets._display import WIDGET_VIEW

FAILING = (
    "def init():\n    raise RuntimeError('weights missing')\n\ndef run(raw_data):\n    return 1\n"
)


class Displays:
    """Records what the shell formats for display: (object, mimetypes)."""

    def __init__(self, shell: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []
        original = shell.display_formatter.format

        def spy(obj: Any, *args: Any, **kwargs: Any) -> Any:
            data, metadata = original(obj, *args, **kwargs)
            self.calls.append((obj, data))
            return data, metadata

        monkeypatch.setattr(shell.display_formatter, "format", spy)

    def panels(self) -> list[Any]:
        """The panels displayed (a service displayed as a widget view: its panel)."""
        return [
            obj if isinstance(obj, DOMWidget) else obj.__dict__["_mldeploy_panel"]
            for obj, data in self.calls
            if WIDGET_VIEW in data
        ]


@pytest.fixture
def kernel_shell(shell: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The magics' shell with a ``kernel`` attribute, as in Jupyter."""
    monkeypatch.setattr(shell, "kernel", object(), raising=False)
    return shell


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _close(panels: list[Any]) -> None:
    for panel in panels:
        panel.close()


def test_deploy_local_shows_one_panel_and_returns_the_service(
    kernel_shell: Any,
    tmp_path: Path,
    k_model: Model,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "score.py").write_text(SCALE_SCRIPT)
    displays = Displays(kernel_shell, monkeypatch)
    result = kernel_shell.run_cell(
        "%deploy_local scale --model k --target process", store_history=True
    )
    result.raise_error()
    service = result.result
    try:
        assert service.name == "scale" and service.state == "Healthy"  # it waited
        panels = displays.panels()
        assert len(panels) == 1 and isinstance(panels[0], DeploymentPanel)
        assert panels[0].service is service
        # the cell's value (the service) shows as its one-line repr under the panel, not a second panel
        shown = [data for obj, data in displays.calls if obj is service]
        assert shown == [{"text/plain": repr(service)}]
        out = capsys.readouterr().out
        assert "[resolve]" not in out  # the panel shows the phases: no text copy of them
        wait_for(
            lambda: "init loaded k = 3.0" in panels[0].log_view.value, "init()'s line in the panel"
        )
        wait_for(lambda: panels[0].state == "Healthy", "the Healthy badge")
        text = visible_text(panels[0])
        assert "Healthy" in text and re.search(r"✓\s+ready\s+", text)

        # the next cell: the service displays as its panel again (the same one, a second view)
        later = kernel_shell.run_cell("scale = _\nscale", store_history=True)
        later.raise_error()
        assert displays.panels()[-1] is panels[0]
        assert len(displays.panels()) == 2
        assert service.run({"data": [2]}) == [6.0]
    finally:
        _close(displays.panels())


def test_deploy_local_assigned_in_a_cell_shows_its_panel_once(
    kernel_shell: Any, tmp_path: Path, k_model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "score.py").write_text(SCALE_SCRIPT)
    displays = Displays(kernel_shell, monkeypatch)
    kernel_shell.run_cell(
        "svc = %deploy_local quick --model k --target process --no-wait", store_history=True
    )
    service = kernel_shell.user_ns["svc"]
    try:
        assert len(displays.panels()) == 1  # shown at once, while it deploys
        panel = displays.panels()[0]
        service.wait_for_deployment(timeout_sec=120)
        wait_for(lambda: panel.state == "Healthy", "the panel to say Healthy")
        assert panel.progress_bar.value == 1.0
    finally:
        _close(displays.panels())


def test_deploy_local_failure_is_one_line_and_the_panel_has_the_traceback(
    kernel_shell: Any, tmp_path: Path, k_model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "score.py").write_text(FAILING)
    displays = Displays(kernel_shell, monkeypatch)
    with pytest.raises(
        UsageError, match=r"init\(\) of score.py failed .*RuntimeError: weights missing"
    ):
        kernel_shell.run_line_magic("deploy_local", "broken --model k --target process")
    try:
        (panel,) = displays.panels()
        wait_for(lambda: panel.failure.layout.display != "none", "the failure in the panel")
        text = visible_text(panel)
        assert f'File "{tmp_path / "score.py"}", line 2, in init' in text
        assert "RuntimeError: weights missing" in text
    finally:
        _close(displays.panels())


def test_deploy_local_in_a_terminal_prints_text_and_no_panel(
    shell: Any,
    tmp_path: Path,
    k_model: Model,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "score.py").write_text(SCALE_SCRIPT)
    displays = Displays(shell, monkeypatch)
    result = shell.run_cell("%deploy_local plain --model k --target process", store_history=True)
    result.raise_error()
    out = capsys.readouterr().out
    assert "[init]" in out and "ProcessWebservice(name='plain', state='Healthy'" in out
    assert displays.panels() == []
    # the cell's value: readable lines, no widget
    (shown,) = [data for obj, data in displays.calls if obj is result.result]
    assert shown.keys() == {"text/plain"}
    assert shown["text/plain"].startswith(
        "ProcessWebservice 'plain' (process): Healthy\n  scoring URI: http://127.0.0.1:"
    )


@pytest.mark.docker
def test_deploy_local_docker_target_in_a_kernel(
    kernel_shell: Any,
    tmp_path: Path,
    k_model: Model,
    monkeypatch: pytest.MonkeyPatch,
    docker_client: Any,
    base_image: str,
    mldeploy_home: Path,
) -> None:
    from engine_helpers import fresh_base_image

    with fresh_base_image(docker_client, base_image) as fresh:  # the shared image gets built: Step N/M lines
        monkeypatch.setenv("MLDEPLOY_BASE_IMAGE", fresh)
        _deploy_local_docker_target_in_a_kernel(kernel_shell, tmp_path, monkeypatch, docker_client, mldeploy_home)


def _deploy_local_docker_target_in_a_kernel(
    kernel_shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any, mldeploy_home: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.py").write_text(SCALE_SCRIPT)  # a script in a subfolder, as notebooks keep them
    displays = Displays(kernel_shell, monkeypatch)
    try:
        service = kernel_shell.run_line_magic(
            "deploy_local", "dockmagic --model k --entry-script src/score.py --target docker"
        )
        assert service.compute_type == "docker" and service.state == "Healthy"
        (panel,) = displays.panels()
        assert panel.service is service
        wait_for(
            lambda: panel.progress_bar.value == 1.0 and panel.state == "Healthy", "Healthy at 100%"
        )
        assert any(
            2 / 6 < f < 3 / 6 for f in panel.progress_view.fractions
        )  # Step N/M moved the bar
        assert re.search(r"✓\s+build\s+", visible_text(panel))
        assert service.run({"data": [1]}) == [3.0]

        # re-running the %%score_script cell of that same relative path reloads the container (no rebuild)
        doubled = SCALE_SCRIPT.replace("x * k", "x * k * 2")
        result = kernel_shell.run_cell(f"%%score_script src/score.py\n{doubled}")
        assert result.success, result.error_in_exec
        assert service.run({"data": [1]}) == [6.0]
        phases = {p["name"]: p for p in Webservice("dockmagic").phases}  # what the reload did
        assert phases["resolve"]["detail"].endswith("source file(s) re-read") and "build" not in phases
    finally:
        _close(displays.panels())
        label = f"mldeploy.home={mldeploy_home.resolve()}"
        for left in Webservice.list():
            left.delete(delete_image=True)
        for image in docker_client.images.list(filters={"label": label}):
            docker_client.images.remove(image.id, force=True)
