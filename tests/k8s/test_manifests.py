"""The Kubernetes objects, rendered without a cluster: valid for the oldest and newest API we support, and what users rely on.

Each configuration's objects are validated offline against the Kubernetes OpenAPI
schemas (``kubernetes-validate``, strict: unknown fields are errors) for 1.25 and 1.37 (the
live tests cover 1.24), and round-tripped through the official client's models (a field
the client does not know would be dropped, and the comparison fails).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from jupyter_mldeploy import KubernetesWebservice
from jupyter_mldeploy.deploy.k8s import ManifestInputs, render_manifests, to_yaml

OLDEST, NEWEST = "1.25.0", "1.37.0"
MODELS: dict[str, str] = {
    "Secret": "V1Secret",
    "Deployment": "V1Deployment",
    "Service": "V1Service",
    "HorizontalPodAutoscaler": "V2HorizontalPodAutoscaler",
    "PodDisruptionBudget": "V1PodDisruptionBudget",
}

CONFIGS: dict[str, dict[str, Any]] = {
    "v1 defaults (autoscaled)": {},
    "fixed replicas, NodePort, no auth": {"num_replicas": 3, "service_type": "NodePort", "node_port": 30080,
                                          "auth_enabled": False},
    "limits, GPU, placement": {"cpu_cores": 0.5, "cpu_cores_limit": 2, "memory_gb": 1, "memory_gb_limit": 2.5,
                               "gpu_cores": 1, "node_selector": {"kubernetes.io/os": "linux"},
                               "image_pull_secrets": ["acr-pull"], "namespace": "models"},
    "probes and concurrency": {"period_seconds": 5, "initial_delay_seconds": 0, "timeout_seconds": 4,
                               "failure_threshold": 6, "success_threshold": 2, "replica_max_concurrent_requests": 4,
                               "scoring_timeout_ms": 5000, "autoscale_min_replicas": 2, "autoscale_max_replicas": 8,
                               "autoscale_target_utilization": 50, "autoscale_scale_down_seconds": 60},
    "load balancer, variables": {"service_type": "LoadBalancer", "environment_variables": {"MODE": "fast"}},
    "capture, tracing, batching": {"collect_model_data": True, "capture_sample_rate": 0.5, "tracing": True,
                                   "otel_endpoint": "http://otel-collector.observability:4318",
                                   "batch": "max_batch_size=16,max_latency_ms=2"},
}


def inputs(**knobs: Any) -> ManifestInputs:
    return ManifestInputs(
        name="ridge",
        namespace=knobs.get("namespace") or "default",
        image="127.0.0.1:5000/models/ridge@sha256:" + "a" * 64,
        config=KubernetesWebservice.deploy_configuration(**knobs),
        entry_script="src/score.py",
        model_dir="/var/azureml-app/azureml-models/ridge/2",
        models=("ridge:2",),
        env_hash="b" * 16,
        auth_keys=("key-one", "key-two"),
    )


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


@pytest.mark.parametrize("knobs", list(CONFIGS.values()), ids=list(CONFIGS))
@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_every_object_is_valid_for_the_oldest_and_newest_api(knobs: dict[str, Any], version: str) -> None:
    import kubernetes_validate

    objects = render_manifests(inputs(**knobs))
    assert {o["kind"] for o in objects} >= {"Deployment", "Service", "PodDisruptionBudget"}
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)  # raises ValidationError naming the field


@pytest.mark.parametrize("knobs", list(CONFIGS.values()), ids=list(CONFIGS))
def test_every_object_round_trips_through_the_official_client_models(knobs: dict[str, Any]) -> None:
    from kubernetes.client import ApiClient

    api = ApiClient()
    for obj in render_manifests(inputs(**knobs)):
        model = api.deserialize(json.dumps(obj), MODELS[obj["kind"]], None)
        assert api.sanitize_for_serialization(model) == obj, obj["kind"]


def test_a_field_the_schema_does_not_know_fails_validation() -> None:
    """The validation above can fail: a misspelt field is caught."""
    import kubernetes_validate

    deployment = by_kind(render_manifests(inputs()))["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, NEWEST, strict=True)


def test_the_deployment_carries_probes_resources_security_and_the_server_settings() -> None:
    objects = by_kind(render_manifests(inputs(**CONFIGS["probes and concurrency"])))
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/"
    assert container["startupProbe"]["httpGet"]["path"] == "/ready"
    readiness = container["readinessProbe"]
    assert (readiness["periodSeconds"], readiness["timeoutSeconds"], readiness["failureThreshold"],
            readiness["successThreshold"]) == (5, 4, 6, 2)
    assert container["livenessProbe"].get("successThreshold", 1) == 1  # Kubernetes allows only 1 there
    assert env["AZUREML_MODEL_DIR"] == "/var/azureml-app/azureml-models/ridge/2"
    assert env["AZUREML_ENTRY_SCRIPT"].endswith("src/score.py")
    assert env["MLDEPLOY_WORKERS"] == "4"  # replica_max_concurrent_requests
    assert env["MLDEPLOY_TIMEOUT_MS"] == "5000"  # scoring_timeout_ms
    assert "key-one" not in json.dumps(deployment)  # the keys come from the Secret's file only
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False
    strategy = deployment["spec"]["strategy"]["rollingUpdate"]
    assert (strategy["maxUnavailable"], strategy["maxSurge"]) == (0, 1)
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count

    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 8)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 60
    assert objects["Secret"]["stringData"]["auth-keys"].split() == ["key-one", "key-two"]


def test_requests_limits_gpus_and_placement() -> None:
    objects = by_kind(render_manifests(inputs(**CONFIGS["limits, GPU, placement"])))
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    resources = pod["containers"][0]["resources"]
    assert resources["requests"]["cpu"] == "500m" and resources["limits"]["cpu"] == "2000m"
    assert resources["limits"]["nvidia.com/gpu"] == "1"
    assert resources["requests"]["memory"] == "1024Mi" and resources["limits"]["memory"] == "2560Mi"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["imagePullSecrets"] == [{"name": "acr-pull"}]
    assert {o["metadata"]["namespace"] for o in objects.values()} == {"models"}


def test_fixed_replicas_nodeport_and_no_auth() -> None:
    objects = by_kind(render_manifests(inputs(**CONFIGS["fixed replicas, NodePort, no auth"])))
    assert objects["Deployment"]["spec"]["replicas"] == 3
    assert "HorizontalPodAutoscaler" not in objects and "Secret" not in objects
    port = objects["Service"]["spec"]["ports"][0]
    assert (objects["Service"]["spec"]["type"], port["nodePort"], port["port"]) == ("NodePort", 30080, 80)


def test_the_labels_select_our_pods_and_let_list_find_the_service() -> None:
    objects = by_kind(render_manifests(inputs()))
    selector = objects["Deployment"]["spec"]["selector"]["matchLabels"]
    assert objects["Service"]["spec"]["selector"] == selector
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert labels["app.kubernetes.io/managed-by"] == "jupyter-mldeploy"
    notes = objects["Deployment"]["metadata"]["annotations"]
    assert notes["mldeploy/models"] == "ridge:2"
    assert json.loads(notes["mldeploy/config"])["autoscale_max_replicas"] == 10


def test_kserve_inference_service_uses_our_image_as_a_custom_predictor() -> None:
    from kubernetes.client import ApiClient

    objects = by_kind(render_manifests(inputs(kserve=True)))
    isvc = objects["InferenceService"]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert "Deployment" not in objects and "Service" not in objects
    predictor = isvc["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 10)
    container = predictor["containers"][0]
    assert container["image"].startswith("127.0.0.1:5000/models/ridge@sha256:")
    api = ApiClient()  # the predictor's containers are core containers: same round trip
    assert api.sanitize_for_serialization(api.deserialize(json.dumps(container), "V1Container", None)) == container


def test_to_yaml_writes_every_object_for_kubectl_apply() -> None:
    objects = render_manifests(inputs(), include_keys=False)
    text = to_yaml(objects, "for review")
    assert text.startswith("# for review")
    loaded = [d for d in yaml.safe_load_all(text) if d]
    assert loaded == objects
    assert "Secret" not in {o["kind"] for o in loaded}
    assert "key-one" not in text


def _pod(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    pod = by_kind(objects)["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    return pod, container, {e["name"]: e["value"] for e in container["env"]}


def test_capture_tracing_and_batching_reach_every_pod() -> None:
    pod, container, env = _pod(render_manifests(inputs(**CONFIGS["capture, tracing, batching"])))
    # capture: on, sampled, into the pod's data volume (an emptyDir on the node's disk, bounded)
    assert (env["MLDEPLOY_CAPTURE"], env["MLDEPLOY_CAPTURE_SAMPLE"]) == ("1", "0.5")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["data"] == env["MLDEPLOY_DATA_DIR"] == "/var/lib/mldeploy"
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    assert data["emptyDir"] == {"sizeLimit": "512Mi"}
    # tracing: the collector as the pods reach it, not rewritten
    assert env["MLDEPLOY_OTEL"] == "1"
    assert env["MLDEPLOY_OTEL_ENDPOINT"] == "http://otel-collector.observability:4318"
    assert env["MLDEPLOY_BATCH"] == "max_batch_size=16,max_latency_ms=2"
    # the saved configuration (how Webservice(name) finds the service again) keeps them
    annotations = by_kind(render_manifests(inputs(**CONFIGS["capture, tracing, batching"])))["Deployment"][
        "metadata"]["annotations"]
    saved = json.loads(annotations["mldeploy/config"])
    assert (saved["collect_model_data"], saved["tracing"]) == (True, True)


def test_without_the_options_the_pods_capture_and_trace_nothing() -> None:
    _, _, env = _pod(render_manifests(inputs()))
    assert not {"MLDEPLOY_CAPTURE", "MLDEPLOY_OTEL", "MLDEPLOY_OTEL_ENDPOINT", "MLDEPLOY_BATCH"} & set(env)
    assert env["MLDEPLOY_DATA_DIR"] == "/var/lib/mldeploy"  # ModelDataCollector's collected.jsonl still has a home


def test_aks_collect_model_data_turns_capture_on_in_the_pods() -> None:
    from jupyter_mldeploy.azureml.webservices import AksWebservice

    config = AksWebservice.deploy_configuration(collect_model_data=True, num_replicas=2, autoscale_enabled=False)
    _, _, env = _pod(render_manifests(ManifestInputs(name="ridge", namespace="default", image="r/ridge:1",
                                                     config=config)))
    assert env["MLDEPLOY_CAPTURE"] == "1"
