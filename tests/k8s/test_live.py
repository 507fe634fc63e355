"""The Kubernetes target on a live cluster: deploy from a registry, score, fail clearly, update, scale, delete.

Marked ``kubernetes``: these run where a cluster answers (``KUBECONFIG``; on these machines the
single-node cluster of ``../shared/k8s-cluster``) and skip with "no cluster" elsewhere (CI).
The images are built by the real Docker engine, pushed to a real registry on 127.0.0.1 and
pulled by digest by the cluster's containerd. All load goes to 127.0.0.1 and is bounded in
count and time. Each test works in its own namespace, deleted afterwards.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.kubernetes, pytest.mark.slow, pytest.mark.timeout(900)]

SCALE = """
import json, os

def init():
    global scale
    scale = {scale}
    print("init done; models in", os.environ.get("AZUREML_MODEL_DIR"))

def run(raw):
    return {{"result": [x * scale for x in json.loads(raw)["data"]], "pod": os.environ.get("HOSTNAME")}}
"""

BROKEN = """
def init():
    settings = {}
    settings["threshold"]  # the model's settings lack a key

def run(raw):
    return raw
"""

BUSY = """
import json, time

def init():
    pass

def run(raw):
    end = time.process_time() + 0.05  # 50 ms of CPU per request
    while time.process_time() < end:
        pass
    return {"ok": True}
"""


def wait_until(check: Callable[[], Any], timeout_s: float, what: str, every_s: float = 2.0) -> Any:
    """Poll ``check`` until it returns something true (bounded); fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    pytest.fail(f"{what}: not reached in {timeout_s:.0f} s (last: {last!r})")


@pytest.fixture
def namespace(live_cluster: Any) -> Iterator[str]:
    name = f"mldeploy-test-{uuid.uuid4().hex[:6]}"
    yield name
    live_cluster.delete("v1", "Namespace", name)


@pytest.fixture
def app(tmp_path: Path, k_model: Any) -> Callable[[str], Any]:
    """``app(script)``: an InferenceConfig over a folder holding ``score.py`` = ``script``."""
    from jupyter_mldeploy import InferenceConfig

    def make(script: str) -> Any:
        folder = tmp_path / f"app-{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        (folder / "score.py").write_text(script)
        return InferenceConfig("score.py", source_directory=str(folder))

    return make


def config(registry: str, namespace: str, **knobs: Any) -> Any:
    from jupyter_mldeploy import KubernetesWebservice

    knobs.setdefault("memory_gb", 0.2)
    knobs.setdefault("initial_delay_seconds", 5)
    return KubernetesWebservice.deploy_configuration(
        image_repository=f"{registry}/mldeploy-tests", namespace=namespace, **knobs
    )


def test_deploy_from_the_registry_score_through_the_service_update_under_load_and_delete(
    live_cluster: Any, local_registry: str, namespace: str, app: Callable[[str], Any], k_model: Any
) -> None:
    from jupyter_mldeploy import Model, Webservice
    from jupyter_mldeploy.client.loadtest import load_test
    from jupyter_mldeploy.deploy.k8s.target import KubernetesWebservice

    service = Model.deploy(
        "ridge", [k_model], app(SCALE.format(scale=3)),
        config(local_registry, namespace, num_replicas=2, service_type="NodePort"),
    )
    service.wait_for_deployment(timeout_sec=600)
    assert isinstance(service, KubernetesWebservice)
    assert service.state == "Healthy"
    # the Deployment names the image by the digest the registry gave it
    deployment = live_cluster.get("apps/v1", "Deployment", "ridge", namespace)
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith(f"{local_registry}/mldeploy-tests/ridge@sha256:")
    assert service.scale_status().ready == 2

    # scoring through the Service's NodePort, with the key from the Secret
    assert service.scoring_uri.startswith("http://127.0.0.1:")
    answer = service.run({"data": [1.0, 2.0]})
    assert answer["result"] == [3.0, 6.0]
    from jupyter_mldeploy.client.sending import resolve_target

    url, _ = resolve_target(service.scoring_uri)
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(f"{url}/score", data=b'{"data": [1]}'), timeout=10)
    assert refused.value.code == 401  # auth is on by default, as in AKS

    # logs of every pod, each line labelled with its pod
    logs = service.get_logs()
    pods = {p["metadata"]["name"] for p in live_cluster.pods(namespace, {"mldeploy.service": "ridge"})}
    assert len(pods) == 2
    for pod in pods:
        assert f"[{pod}]" in logs
    assert "init done" in logs

    # found again from the cluster alone (another machine): labels and annotations
    found = KubernetesWebservice._discover("ridge")
    assert [r.image for r in found] == [image]
    assert "ridge" in [s.name for s in Webservice.list()]

    # a rolling update of the code while a load test runs: no request fails
    result: dict[str, Any] = {}

    def load() -> None:
        result["load"] = load_test(service, {"data": [1.0]}, requests=20_000, concurrency=4, deadline_s=60)

    loader = threading.Thread(target=load)
    loader.start()
    time.sleep(1.0)
    service.update(inference_config=app(SCALE.format(scale=4)))
    loader.join(120)
    load_result = result["load"]
    assert load_result.sent > 100
    assert (load_result.errors_by_status, load_result.ok) == ({}, load_result.sent)
    assert service.run({"data": [1.0]})["result"] == [4.0]
    new_image = live_cluster.get("apps/v1", "Deployment", "ridge", namespace)["spec"]["template"]["spec"][
        "containers"][0]["image"]
    assert new_image != image

    # reload restarts the pods the same way (one at a time) and keeps serving
    service.reload()
    assert service.run({"data": [2.0]})["result"] == [8.0]

    # a new primary key reaches every pod (the Secret, then a rolling restart); the old one is refused
    old_key = service.get_keys()[0]
    service.regen_key("Primary")
    new_key = service.get_keys()[0]
    assert new_key != old_key
    assert service.run({"data": [1.0]})["result"] == [4.0]
    with pytest.raises(urllib.error.HTTPError) as stale:
        urllib.request.urlopen(urllib.request.Request(
            f"{url}/score", data=b'{"data": [1]}',
            headers={"Authorization": f"Bearer {old_key}", "Content-Type": "application/json"}), timeout=10)
    assert stale.value.code == 401

    service.delete()
    for api_version, kind in (("apps/v1", "Deployment"), ("v1", "Service"), ("policy/v1", "PodDisruptionBudget"),
                              ("v1", "Secret")):
        name = "ridge-keys" if kind == "Secret" else "ridge"
        assert live_cluster.get(api_version, kind, name, namespace) is None, kind
    assert "ridge" not in [s.name for s in Webservice.list()]


def test_a_failing_init_is_explained_with_its_traceback_and_an_update_rolls_back(
    live_cluster: Any, local_registry: str, namespace: str, app: Callable[[str], Any], k_model: Any
) -> None:
    from jupyter_mldeploy import Model
    from jupyter_mldeploy.errors import DeploymentError

    with pytest.raises(DeploymentError) as failed:
        service = Model.deploy("broken", [k_model], app(BROKEN), config(local_registry, namespace, num_replicas=1))
        service.wait_for_deployment(timeout_sec=600)
    message = str(failed.value)
    assert "init()" in message
    assert "KeyError: 'threshold'" in message
    assert "score.py" in message

    # a good service, then an update to a broken script: the old pods keep serving
    good = Model.deploy("steady", [k_model], app(SCALE.format(scale=2)), config(local_registry, namespace, num_replicas=1))
    good.wait_for_deployment(timeout_sec=600)
    before = live_cluster.get("apps/v1", "Deployment", "steady", namespace)["spec"]["template"]["spec"]["containers"][0]["image"]
    with pytest.raises(DeploymentError) as update_failed:
        good.update(inference_config=app(BROKEN))
    assert "KeyError: 'threshold'" in str(update_failed.value)
    assert "Rolled back" in str(update_failed.value)
    after = live_cluster.get("apps/v1", "Deployment", "steady", namespace)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert after == before
    assert good.run({"data": [1.0]})["result"] == [2.0]
    good.delete()


def test_the_autoscaler_scales_out_under_load_and_back_in(
    live_cluster: Any, local_registry: str, namespace: str, app: Callable[[str], Any], k_model: Any
) -> None:
    from jupyter_mldeploy import Model
    from jupyter_mldeploy.client.loadtest import load_test

    service = Model.deploy(
        "busy", [k_model], app(BUSY),
        config(local_registry, namespace, autoscale_min_replicas=1, autoscale_max_replicas=3,
               autoscale_target_utilization=50, autoscale_scale_down_seconds=0, cpu_cores=0.1,
               replica_max_concurrent_requests=2),
    )
    service.wait_for_deployment(timeout_sec=600)
    # reached through the port-forward this object manages (service_type ClusterIP, the default)
    assert service.run({"data": []}) == {"ok": True}
    assert service.scale_status().line().startswith("replicas 1/1 ready, autoscaler 1-3 replicas")

    stop = threading.Event()
    results: list[Any] = []

    def load() -> None:
        results.append(load_test(service, {"data": []}, requests=50_000, concurrency=4, deadline_s=240, cancel=stop))

    loader = threading.Thread(target=load)
    loader.start()
    try:
        out = wait_until(lambda: service.scale_status().desired > 1 and service.scale_status(), 240,
                         "the autoscaler scaling out under load")
    finally:
        stop.set()
        loader.join(60)
    assert out.current_utilization is None or out.current_utilization > 0
    assert results and results[0].ok > 0
    back = wait_until(lambda: service.scale_status().desired == 1 and service.scale_status(), 300,
                      "the autoscaler scaling back in after the load", every_s=5)
    assert back.max_replicas == 3
    assert json.loads(json.dumps(service.run({"data": []}))) == {"ok": True}
    service.delete()


def test_an_image_the_cluster_cannot_pull_and_a_pod_no_node_can_take_are_explained(
    live_cluster: Any, local_registry: str, namespace: str, app: Callable[[str], Any], k_model: Any
) -> None:
    from jupyter_mldeploy import KubernetesWebservice, Model
    from jupyter_mldeploy.errors import DeploymentError

    missing = f"{local_registry}/mldeploy-tests/never-pushed@sha256:" + "0" * 64
    with pytest.raises(DeploymentError) as pull:
        service = Model.deploy("nopull", [k_model], app(SCALE.format(scale=1)), KubernetesWebservice.deploy_configuration(
            image=missing, namespace=namespace, num_replicas=1, memory_gb=0.2))
        service.wait_for_deployment(timeout_sec=300)
    assert "the cluster cannot pull image" in str(pull.value) and "never-pushed" in str(pull.value)
    service.delete()

    with pytest.raises(DeploymentError) as pending:
        service = Model.deploy("toobig", [k_model], app(SCALE.format(scale=1)), KubernetesWebservice.deploy_configuration(
            image=missing, namespace=namespace, num_replicas=1, cpu_cores=500, memory_gb=0.2))
        service.wait_for_deployment(timeout_sec=300)
    message = str(pending.value)
    assert message.startswith("Pending: no node can take pod toobig-") and "Insufficient cpu" in message
    service.delete()
