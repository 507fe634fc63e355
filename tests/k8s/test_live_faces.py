"""The faces on a live cluster: ``mldeploy deploy --target kubernetes``, ``mldeploy k8s status|logs|render``, the panel.

Marked ``kubernetes`` (skipped with "no cluster" where none answers, as in CI). The service
is deployed through the console script from a real registry on 127.0.0.1, into its own
namespace (deleted afterwards); the rendered YAML of the same request is checked by the
cluster's API server itself (server-side dry run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.kubernetes, pytest.mark.slow, pytest.mark.timeout(900)]

MLDEPLOY = str(Path(sys.executable).with_name("mldeploy"))
SCRIPT = "import json\n\ndef init():\n    print('faces init done', flush=True)\n\ndef run(raw):\n    return json.loads(raw)\n"


@pytest.fixture
def namespace(live_cluster: Any) -> Iterator[str]:
    name = f"mldeploy-faces-{uuid.uuid4().hex[:6]}"
    yield name
    live_cluster.delete("v1", "Namespace", name)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MLDEPLOY, *args], capture_output=True, text=True, timeout=700, env=os.environ.copy())


def test_deploy_status_logs_panel_and_render_through_the_faces(
    live_cluster: Any, local_registry: str, namespace: str, tmp_path: Path, k_model: Any
) -> None:
    (tmp_path / "app").mkdir()
    script = tmp_path / "app" / "score.py"
    script.write_text(SCRIPT)
    knobs = ("--namespace", namespace, "--autoscale-max", "2", "--memory-gb", "0.2", "--service-type", "NodePort")
    out = _cli("deploy", "faces", "--model", "k", "--entry-script", str(script), "--target", "kubernetes",
               "--image-repository", f"{local_registry}/mldeploy-tests", *knobs, "--quiet")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "target:      kubernetes" in out.stdout
    assert "scale:       replicas 1/1 ready, autoscaler 1-2 replicas" in out.stdout and "(target 70%)" in out.stdout
    assert "key:         " in out.stdout  # auth is on by default on a cluster

    status = _cli("k8s", "status", "faces")
    assert status.returncode == 0, status.stderr
    assert "state:       Healthy" in status.stdout and f"namespace:   {namespace}" in status.stdout
    assert "rollout:     1/1 replicas updated, complete" in status.stdout
    assert "scoring_uri: http://127.0.0.1:" in status.stdout

    from jupyter_mldeploy import Webservice

    service = Webservice("faces")
    service.run({"data": [1]})
    logs = _cli("k8s", "logs", "faces", "--tail", "50")
    pod = live_cluster.pods(namespace, {"mldeploy.service": "faces"})[0]["metadata"]["name"]
    assert f"[{pod}]" in logs.stdout and "faces init done" in logs.stdout, logs.stdout[-2000:]

    from jupyter_mldeploy.widgets import DeploymentPanel
    from jupyter_mldeploy.widgets._base import visible_text

    panel = DeploymentPanel(service, refresh_s=60)
    try:
        assert panel.refresh()
        text = " ".join(visible_text(panel).split())
        assert "replicas: 1/1 ready · autoscaler 1-2 replicas · CPU" in text and "(target 70%)" in text, text
    finally:
        panel.close()

    # the YAML `mldeploy k8s render` writes for the same request, with the deployed image, is accepted
    # by the API server (server-side dry run: every field checked by the cluster, nothing changed)
    image = live_cluster.get("apps/v1", "Deployment", "faces", namespace)["spec"]["template"]["spec"][
        "containers"][0]["image"]
    rendered = tmp_path / "faces.yaml"
    out = _cli("k8s", "render", "faces", "--model", "k", "--entry-script", str(script), "--image", image,
               *knobs, "--include-keys", "-o", str(rendered))
    assert out.returncode == 0, out.stderr
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        applied = subprocess.run([kubectl, "apply", "--dry-run=server", "--server-side", "--field-manager",
                                  "jupyter-mldeploy", "-f", str(rendered)], capture_output=True, text=True,
                                 timeout=60, env=os.environ.copy())
        assert applied.returncode == 0, applied.stderr
        assert "deployment.apps/faces serverside-applied (server dry run)" in applied.stdout, applied.stdout

    out = _cli("delete", "faces")
    assert out.returncode == 0, out.stderr
    assert live_cluster.get("apps/v1", "Deployment", "faces", namespace) is None
