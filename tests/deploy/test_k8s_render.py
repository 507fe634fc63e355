"""Rendering a deploy request's manifests without a cluster: valid for Kubernetes 1.25 and 1.37, what the target applies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from jupyter_mldeploy import InferenceConfig, KubernetesWebservice, LocalWebservice
from jupyter_mldeploy.deploy.k8s import manifest_inputs, render_service
from jupyter_mldeploy.deploy.k8s.render import PLACEHOLDER_TAG
from jupyter_mldeploy.deploy.records import ServiceRecord
from jupyter_mldeploy.deploy.service import Webservice
from jupyter_mldeploy.errors import InvalidArgumentError

#: The oldest and newest Kubernetes versions we support (kubernetes-validate's bundled schemas).
VERSIONS = ("1.25.0", "1.37.0")

CONFIGS: dict[str, dict[str, Any]] = {
    "defaults (auth, autoscaler)": {},
    "fixed replicas, no auth": {"num_replicas": 3, "autoscale_enabled": False, "auth_enabled": False},
    "NodePort, placement, limits, gpu": {
        "service_type": "NodePort", "node_port": 30080, "node_selector": {"kubernetes.io/os": "linux"},
        "image_pull_secrets": ["acr-pull"], "cpu_cores": 0.5, "cpu_cores_limit": 1, "memory_gb": 1,
        "memory_gb_limit": 2, "gpu_cores": 1, "namespace": "models",
    },
    "sized for load": {"autoscale_min_replicas": 2, "autoscale_max_replicas": 8, "autoscale_target_utilization": 50,
                       "replica_max_concurrent_requests": 4, "scoring_timeout_ms": 5000},
}


@pytest.fixture
def app(tmp_path: Path) -> InferenceConfig:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    return InferenceConfig("score.py", source_directory=str(tmp_path / "app"))


def _round_trip(obj: dict[str, Any]) -> dict[str, Any]:
    """The object read into the official client's model class and written back."""
    from kubernetes import client

    api = client.ApiClient()
    group, _, version = obj["apiVersion"].rpartition("/")
    klass = "V1" if version == "v1" else version.capitalize()
    model = api._ApiClient__deserialize(obj, f"{klass}{obj['kind']}")  # type: ignore[attr-defined]
    return api.sanitize_for_serialization(model)  # type: ignore[no-any-return]


@pytest.mark.parametrize("settings", list(CONFIGS.values()), ids=list(CONFIGS))
def test_rendered_objects_are_valid_for_the_oldest_and_newest_kubernetes(
    settings: dict[str, Any], app: InferenceConfig, k_model: Any
) -> None:
    config = KubernetesWebservice.deploy_configuration(**settings)
    rendered = render_service("diabetes", [k_model], app, config, image="127.0.0.1:5000/m/diabetes@sha256:" + "a" * 64,
                              include_keys=True)
    for obj in rendered.objects:
        for version in VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)  # raises on any unknown or bad field
        assert _round_trip(obj) == obj, obj["kind"]
    # and the YAML text holds the same objects, the notes as comments
    docs = [d for d in yaml.safe_load_all(rendered.to_yaml()) if d]
    assert docs == rendered.objects


def test_the_kserve_form_is_one_inference_service(app: InferenceConfig, k_model: Any) -> None:
    config = KubernetesWebservice.deploy_configuration(kserve=True, autoscale_max_replicas=3)
    kinds = [o["kind"] for o in render_service("diabetes", [k_model], app, config).objects]
    assert kinds == ["InferenceService", "PodDisruptionBudget"]


def test_what_the_deployment_gets_from_the_request(app: InferenceConfig, k_model: Any) -> None:
    config = KubernetesWebservice.deploy_configuration(image_repository="127.0.0.1:5000/models", num_replicas=2)
    rendered = render_service("diabetes", [k_model], app, config)
    deployment = next(o for o in rendered.objects if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AZUREML_MODEL_DIR"] == "/var/azureml-app/azureml-models/k/1"
    assert env["AZUREML_ENTRY_SCRIPT"] == "score.py"
    assert deployment["metadata"]["annotations"]["mldeploy/models"] == "k:1"
    assert deployment["spec"]["replicas"] == 2
    assert container["image"] == f"127.0.0.1:5000/models/diabetes:{PLACEHOLDER_TAG}"
    header = rendered.to_yaml().split("---", 1)[0]
    assert "is a placeholder" in header and "Namespace 'default'" in header
    # auth is on by default: the Deployment reads the keys' Secret, which is left out unless asked
    assert "Secret" not in [o["kind"] for o in rendered.objects]
    assert "kubectl -n default create secret generic diabetes-keys" in header
    assert any(v.get("secret", {}).get("secretName") == "diabetes-keys"
               for v in deployment["spec"]["template"]["spec"]["volumes"])


def test_with_include_keys_the_secret_holds_the_new_keys(app: InferenceConfig, tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"0")
    rendered = render_service("ridge", [str(tmp_path / "weights.bin")], app, include_keys=True, namespace="ml")
    secret = rendered.objects[0]
    assert secret["kind"] == "Secret" and secret["metadata"]["namespace"] == "ml"
    assert secret["stringData"]["auth-keys"].split() == list(rendered.auth_keys)
    assert len(rendered.auth_keys) == 2 and rendered.auth_keys[0] != rendered.auth_keys[1]
    assert "keep this file out of git" in rendered.to_yaml()
    assert "Namespace 'default'" not in rendered.to_yaml()
    assert manifest_inputs("ridge", [str(tmp_path / "weights.bin")], app).models == ("weights:1",)


def test_render_gives_the_objects_the_target_applies(app: InferenceConfig, k_model: Any) -> None:
    """The same request, as a deployed service's record: KubernetesWebservice renders the same objects."""
    config = KubernetesWebservice.deploy_configuration(autoscale_max_replicas=4, namespace="ml")
    image = "127.0.0.1:5000/m/ridge@sha256:" + "b" * 64
    inputs = manifest_inputs("ridge", [k_model], app, config, image=image, auth_keys=("key-one", "key-two"))
    record = ServiceRecord(
        name="ridge", compute_type="kubernetes", config=config.to_dict(), auth_keys=["key-one", "key-two"],
        models=[{"name": "k", "version": 1, "id": "k:1"}], entry_script="score.py",
        model_dir="/var/azureml-app/azureml-models/k/1", image=image,
    )
    service = Webservice._from_record(record)
    assert isinstance(service, KubernetesWebservice)
    from_service = [d for d in yaml.safe_load_all(service.to_yaml(include_keys=True)) if d]
    from jupyter_mldeploy.deploy.k8s import render_manifests

    assert render_manifests(inputs) == from_service


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda app: render_service("Bad_Name", ["x"], app), "is not a name Kubernetes accepts"),
        (lambda app: render_service("ok", [], app), "give at least one model"),
        (lambda app: render_service("ok", [3.5], app), "models must be registered Model objects or local paths"),
        (lambda app: render_service("ok", ["x"], "score.py"), "inference_config must be an InferenceConfig"),
        (lambda app: render_service("ok", ["x"], app, LocalWebservice.deploy_configuration()),  # type: ignore[arg-type]
         "render Kubernetes manifests from KubernetesWebservice.deploy_configuration"),
    ],
)
def test_bad_requests_each_get_one_clear_error(call: Any, message: str, app: InferenceConfig) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        call(app)
    assert message in str(caught.value)
