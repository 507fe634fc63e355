"""The Kubernetes target's client calls against recorded API answers (CI has no cluster), and how they were recorded.

``test_*_replayed`` run everywhere: the same scenario the live cluster answered, with the
cluster's recorded answers (``tests/k8s/recorded/*.json``) given back at the official
client's HTTP layer, so ``cluster.py``, the ``DynamicClient`` and the target all run.
``test_record_*`` (marked ``kubernetes``) run the scenario on a live cluster and write
those recordings again: run them after changing how the target talks to the cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .recording import RECORDED, offline_kubeconfig, record, replay

SCALE = "import os\n\ndef init():\n    print('init done in', os.environ['AZUREML_MODEL_DIR'])\n\ndef run(raw):\n    return raw\n"
BROKEN = "def init():\n    settings = {}\n    settings['threshold']\n\ndef run(raw):\n    return raw\n"


def namespace_of(scenario: str) -> str:
    return f"mldeploy-replay-{scenario.replace('_', '-')}"


def deploy_scenario(image: str, model: Any, folder: Path, namespace: str) -> dict[str, Any]:
    """Deploy a given image, look at it the ways users do, delete it; return what was seen."""
    from jupyter_mldeploy import InferenceConfig, KubernetesWebservice, Model, Webservice

    (folder / "score.py").write_text(SCALE)
    config = KubernetesWebservice.deploy_configuration(
        image=image, namespace=namespace, num_replicas=1, service_type="NodePort", memory_gb=0.2,
        initial_delay_seconds=5,
    )
    service = Model.deploy("replayed", [model], InferenceConfig("score.py", source_directory=str(folder)), config)
    service.wait_for_deployment(timeout_sec=300)
    seen = {
        "state": service.state,
        "scale": service.scale_status().line(),
        "logs": service.get_logs(),
        "uri": service.scoring_uri,
        "listed": [s.name for s in Webservice.list(compute_type="kubernetes")],
    }
    service.delete()
    seen["after_delete"] = [s.name for s in Webservice.list(compute_type="kubernetes")]
    return seen


def failing_scenario(image: str, model: Any, folder: Path, namespace: str) -> str:
    """Deploy an image whose init() fails; return the error users get."""
    from jupyter_mldeploy import InferenceConfig, KubernetesWebservice, Model
    from jupyter_mldeploy.errors import DeploymentError

    (folder / "score.py").write_text(BROKEN)
    config = KubernetesWebservice.deploy_configuration(image=image, namespace=namespace, num_replicas=1,
                                                       memory_gb=0.2, initial_delay_seconds=5, service_type="NodePort")
    service = Model.deploy("replayed-broken", [model], InferenceConfig("score.py", source_directory=str(folder)), config)
    with pytest.raises(DeploymentError) as failed:
        service.wait_for_deployment(timeout_sec=300)
    message = str(failed.value)
    service.delete()
    return message


def check_deploy(seen: dict[str, Any]) -> None:
    assert seen["state"] == "Healthy"
    assert seen["scale"] == "replicas 1/1 ready"
    assert "init done in /var/azureml-app/azureml-models" in seen["logs"]
    assert "[replayed-" in seen["logs"]  # lines labelled with their pod
    assert seen["uri"].startswith("http://127.0.0.1:") and seen["uri"].endswith("/score")
    assert "replayed" in seen["listed"] and "replayed" not in seen["after_delete"]


def check_failure(message: str) -> None:
    assert "init()" in message and "KeyError: 'threshold'" in message


SCENARIOS: dict[str, tuple[str, Callable[..., Any], Callable[[Any], None]]] = {
    "deploy": (SCALE, deploy_scenario, check_deploy),
    "failing_init": (BROKEN, failing_scenario, check_failure),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_scenario_replayed(scenario: str, tmp_path: Path, k_model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = RECORDED / f"{scenario}.json"
    namespace = namespace_of(scenario)
    monkeypatch.setenv("KUBECONFIG", str(offline_kubeconfig(tmp_path, namespace)))
    script, run, check = SCENARIOS[scenario]
    with replay(path) as meta, _node_port_server(meta, script, tmp_path):
        check(run(meta["image"], k_model, tmp_path, namespace))
    # the target really asked the cluster: applied server-side with our field manager, and deleted
    assert any(key.startswith(f"PATCH /apis/apps/v1/namespaces/{namespace}/deployments/") for key in meta["asked"])
    assert any(key.startswith("DELETE ") for key in meta["asked"])


@contextmanager
def _node_port_server(meta: dict[str, Any], script: str, folder: Path) -> Iterator[None]:
    """Where the recorded NodePort answered, a real scoring server of the same script answers now (the pod's part)."""
    if not meta.get("node_port"):
        yield
        return
    from jupyter_mldeploy.client.server import ScoringServer

    (folder / "pod").mkdir()
    (folder / "pod" / "score.py").write_text(script)
    (folder / "pod" / "models").mkdir()
    server = ScoringServer(folder / "pod" / "score.py", model_dir=folder / "pod" / "models", port=int(meta["node_port"]))
    server.start()
    try:
        server.wait_ready(timeout=60)
        yield
    finally:
        server.stop()


@pytest.mark.kubernetes
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_record_scenario(scenario: str, live_cluster: Any, local_registry: str, tmp_path: Path, k_model: Any,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from jupyter_mldeploy import InferenceConfig
    from jupyter_mldeploy.deploy.package import package

    monkeypatch.setenv("MLDEPLOY_BASE_IMAGE", os.environ.get("MLDEPLOY_BASE_IMAGE", "mldeploy/python-base:bookworm"))
    script, run, check = SCENARIOS[scenario]
    (tmp_path / "score.py").write_text(script)
    pkg = package([k_model], InferenceConfig("score.py", source_directory=str(tmp_path)), image_name=f"replay-{scenario}")
    image = pkg.push(f"{local_registry}/mldeploy-tests/replay-{scenario}")
    pkg.delete()
    namespace = namespace_of(scenario)
    live_cluster.ensure_namespace(namespace)
    try:
        with record(RECORDED / f"{scenario}.json", {"image": image, "server": live_cluster.version()}) as meta:
            seen = run(image, k_model, tmp_path, namespace)
            check(seen)
            if isinstance(seen, dict):
                meta["node_port"] = int(seen["uri"].rsplit(":", 1)[1].split("/")[0])
    finally:
        live_cluster.delete("v1", "Namespace", namespace)
