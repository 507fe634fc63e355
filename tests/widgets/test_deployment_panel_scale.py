"""The deployment panel's scale row: replicas and the autoscaler for services with ``scale_status()``.

A real process service stands behind the panel; for the Kubernetes rows (no cluster here) it
is wrapped in an object adding ``scale_status()`` answers as ``KubernetesWebservice`` gives them
(the real ``ScaleStatus``), a fast unit test of what the panel draws from them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import InferenceConfig, Model
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.deploy.k8s import ScaleStatus
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.errors import KubernetesUnavailableError
from jupyter_mldeploy.widgets import DeploymentPanel
from jupyter_mldeploy.widgets._base import visible_text
from jupyter_mldeploy.widgets._scale_view import SCALE_PROBE_S, ScaleView


@pytest.fixture(autouse=True)
def _no_leaked_services(no_leaked_services: None) -> None:
    """Every test here deploys: delete what it leaves."""


class ScaledService:
    """A real service, plus the ``scale_status()`` answer a Kubernetes service would give (``answer``)."""

    def __init__(self, service: Any, answer: Any) -> None:
        self._service, self.answer, self.calls = service, answer, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def scale_status(self) -> ScaleStatus:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer  # type: ignore[no-any-return]


@pytest.fixture
def service(tmp_path: Path, k_model: Model) -> Iterator[Any]:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    svc = deploy("scaled", [k_model], InferenceConfig("score.py", source_directory=str(tmp_path / "app")),
                 ProcessWebservice.deploy_configuration())
    svc.wait_for_deployment(timeout_sec=120)
    yield svc


def _flat(panel: Any) -> str:
    return " ".join(visible_text(panel).split())


def test_a_local_service_shows_no_scale_row(service: Any) -> None:
    panel = DeploymentPanel(service, refresh_s=60)
    try:
        assert panel.refresh()
        assert panel.scale.layout.display == "none" and "replicas" not in _flat(panel)
    finally:
        panel.close()


def test_replicas_rollout_and_autoscaler_utilisation_are_shown(service: Any) -> None:
    rolling = ScaleStatus(desired=3, ready=2, updated=1, min_replicas=1, max_replicas=5,
                          current_utilization=None, target_utilization=70)
    settled = ScaleStatus(desired=3, ready=3, updated=3, min_replicas=1, max_replicas=5,
                          current_utilization=42, target_utilization=70)
    scaled = ScaledService(service, rolling)
    panel = DeploymentPanel(scaled, refresh_s=60)
    try:
        panel.scale_view.probe_s = 0  # every refresh looks (the panel's default: every 5 s)
        assert panel.refresh()
        text = _flat(panel)
        assert panel.scale.layout.display != "none"
        assert "replicas: 2/3 ready · rolling out: 1/3 updated · autoscaler 1-5 replicas · CPU ? (target 70%)" in text
        scaled.answer = settled
        assert panel.refresh()
        text = _flat(panel)
        assert "replicas: 3/3 ready · autoscaler 1-5 replicas · CPU 42% (target 70%)" in text
        assert "rolling out" not in text and panel.state == "Healthy"
    finally:
        panel.close()


def test_fixed_replicas_and_a_cluster_that_does_not_answer(service: Any) -> None:
    fixed = ScaleStatus(desired=2, ready=2, updated=2)
    down = KubernetesUnavailableError("the cluster at https://127.0.0.1:6443 does not answer\nmore")
    scaled = ScaledService(service, fixed)
    panel = DeploymentPanel(scaled, refresh_s=60)
    try:
        panel.scale_view.probe_s = 0
        assert panel.refresh()
        assert "replicas: 2/2 ready" in _flat(panel) and "autoscaler" not in _flat(panel)
        scaled.answer = down
        assert panel.refresh()  # the panel keeps going: the row says why it cannot tell
        assert "replicas: unknown (the cluster at https://127.0.0.1:6443 does not answer)" in _flat(panel)
        assert panel.state == "Healthy"
    finally:
        panel.close()


def test_the_row_reads_the_cluster_at_most_every_probe_interval(service: Any) -> None:
    scaled = ScaledService(service, ScaleStatus(desired=1, ready=1, updated=1))
    panel = DeploymentPanel(scaled, refresh_s=60)
    try:
        assert panel.scale_view.probe_s == SCALE_PROBE_S == 5.0  # the panel's default interval
        # an interval no loaded machine outlasts, so the count below does not hang on the clock
        panel.scale_view.probe_s = 3600
        for _ in range(5):
            panel.refresh()
        assert scaled.calls == 1  # the panel's first look (its own ticker's, or the first refresh here)
        panel.scale_view.update(scaled, force=True)
        assert scaled.calls == 2
        panel.scale_view.probe_s = 0  # the interval has passed: the next refresh looks again
        panel.refresh()
        assert scaled.calls == 3
    finally:
        panel.close()


def test_a_shorter_interval_counts_from_the_last_look() -> None:
    """The panel's ticker may look once before a caller shortens the interval: the next update still looks."""
    answers = iter([ScaleStatus(desired=2, ready=1, updated=2), ScaleStatus(desired=2, ready=2, updated=2)])

    class Probed:
        def scale_status(self) -> ScaleStatus:
            return next(answers)

    view = ScaleView()  # the default interval, as in a panel whose ticker looked at once
    view.update(Probed())
    assert "replicas: <b>1/2</b> ready" in view.html.value
    view.probe_s = 0
    view.update(Probed())
    assert "replicas: <b>2/2</b> ready" in view.html.value


def test_the_panel_does_not_import_the_kubernetes_client() -> None:
    code = ("import sys, jupyter_mldeploy.widgets.deployment_panel, jupyter_mldeploy.cli.k8s, "
            "jupyter_mldeploy.magics; print('kubernetes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
