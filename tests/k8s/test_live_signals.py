"""Signals on a live cluster: AKS's ``collect_model_data=True`` keeps each pod's requests (``get_captured(n)``
reads them all), and ``tracing=True`` sends each pod's spans to the collector it is told of.

Marked ``kubernetes`` like ``test_live.py`` (whose fixtures it uses): the image is built by the
real engine, pushed to a real registry on 127.0.0.1, and the records are read from each ready
pod through the API server's exec stream. Requests go to the NodePort on 127.0.0.1, one
connection each, so both replicas answer some of them; the test compares what was captured
with what each pod answered. The collector is a real OTLP/HTTP receiver on the node's address.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from .test_live import SCALE, app, namespace, wait_until  # noqa: F401 - fixtures

pytestmark = [pytest.mark.kubernetes, pytest.mark.slow, pytest.mark.timeout(900)]


def test_aks_collect_model_data_captures_in_every_pod_and_get_captured_merges_them(
    live_cluster: Any, local_registry: str, namespace: str, app: Callable[[str], Any], k_model: Any  # noqa: F811
) -> None:
    from jupyter_mldeploy import Model
    from jupyter_mldeploy.azureml.webservices import AksWebservice
    from jupyter_mldeploy.client.sending import resolve_target

    config = AksWebservice.deploy_configuration(
        collect_model_data=True, autoscale_enabled=False, num_replicas=2, memory_gb=0.2, initial_delay_seconds=5,
        namespace=namespace, image_repository=f"{local_registry}/mldeploy-tests", service_type="NodePort",
    )
    service = Model.deploy("captured", [k_model], app(SCALE.format(scale=2)), config)
    service.wait_for_deployment(timeout_sec=600)
    try:
        assert service.scale_status().ready == 2
        url, _ = resolve_target(service.scoring_uri)
        key = service.get_keys()[0]
        answers = []
        for i in range(12):  # a new connection each: the Service spreads them over both pods
            request = urllib.request.Request(
                f"{url}/score", data=json.dumps({"data": [float(i)]}).encode(),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                         "x-request-id": f"cap-{i}"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                answers.append(json.loads(answer.read()))
        assert [a["result"] for a in answers] == [[2.0 * i] for i in range(12)]

        def all_captured() -> list[dict[str, Any]] | None:
            got = service.get_captured(50)
            return got if len(got) == 12 else None

        captured = wait_until(all_captured, 60, "12 captured requests across the pods", every_s=1.0)
        assert [c["request_id"] for c in captured] == [f"cap-{i}" for i in range(12)]  # merged in time order
        assert [c["input"] for c in captured] == [{"data": [float(i)]} for i in range(12)]
        assert [c["output"] for c in captured] == answers
        assert {c["status"] for c in captured} == {200}
        assert {c["output"]["pod"] for c in captured} == {a["pod"] for a in answers}  # every pod's file was read
        assert service.get_captured(3) == captured[-3:]

        # the capture lives in each pod's data volume, not in the image or the node's root
        deployment = live_cluster.get("apps/v1", "Deployment", "captured", namespace)
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert "emptyDir" in volumes["data"]
    finally:
        service.delete()


def _node_address(live_cluster: Any) -> str:
    """The node's InternalIP: an address of this machine (the single node) that the pods reach."""
    import kubernetes

    nodes = kubernetes.client.CoreV1Api(live_cluster.api_client).list_node().items
    return next(a.address for a in nodes[0].status.addresses if a.type == "InternalIP")


def test_pods_trace_requests_to_the_collector_they_are_told_of(
    live_cluster: Any, local_registry: str, namespace: str, app: Callable[[str], Any], k_model: Any  # noqa: F811
) -> None:
    from otlp_receiver import OtlpReceiver, request_spans

    from jupyter_mldeploy import Model
    from jupyter_mldeploy.azureml.webservices import AksWebservice
    from jupyter_mldeploy.client.sending import resolve_target

    caller_trace, caller_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    # a collector on this machine's node address, as a collector Service would be to the pods
    with OtlpReceiver(host=_node_address(live_cluster)) as receiver:
        config = AksWebservice.deploy_configuration(
            autoscale_enabled=False, num_replicas=1, memory_gb=0.25, initial_delay_seconds=5, namespace=namespace,
            image_repository=f"{local_registry}/mldeploy-tests", service_type="NodePort",
            tracing=True, otel_endpoint=receiver.url, environment_variables={"OTEL_BSP_SCHEDULE_DELAY": "100"},
        )
        service = Model.deploy("traced", [k_model], app(SCALE.format(scale=3)), config)
        try:
            service.wait_for_deployment(show_output=True, timeout_sec=600)
            url, _ = resolve_target(service.scoring_uri)
            request = urllib.request.Request(
                f"{url}/score", data=json.dumps({"data": [1.0]}).encode(),
                headers={"Authorization": f"Bearer {service.get_keys()[0]}", "Content-Type": "application/json",
                         "x-request-id": "k8s-trace-1", "traceparent": f"00-{caller_trace}-{caller_span}-01"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                pod = json.loads(answer.read())["pod"]
            spans = receiver.wait_for(lambda got: {"POST /score", "run"} <= {s["name"] for s in got}, timeout=90)
        finally:
            service.delete()
    request_spans(spans, "k8s-trace-1", (caller_trace, caller_span), "traced")
    assert pod.startswith("traced-")
