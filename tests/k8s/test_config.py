"""``KubernetesWebservice.deploy_configuration``: AKS v1's knobs and defaults, and one clear error per bad value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import InferenceConfig, KubernetesWebservice, Model
from jupyter_mldeploy.deploy.k8s.config import (
    KubernetesDeploymentConfiguration,
    check_kubernetes_name,
)
from jupyter_mldeploy.errors import InvalidArgumentError, KubernetesUnavailableError


def test_the_v1_defaults() -> None:
    config = KubernetesWebservice.deploy_configuration()
    assert (config.autoscale_enabled, config.autoscale_min_replicas, config.autoscale_max_replicas,
            config.autoscale_target_utilization, config.autoscale_refresh_seconds) == (True, 1, 10, 70, 1)
    assert (config.cpu_cores, config.memory_gb, config.auth_enabled, config.timeout_ms) == (0.1, 0.5, True, 60_000)
    assert (config.period_seconds, config.initial_delay_seconds, config.timeout_seconds,
            config.failure_threshold, config.success_threshold) == (10, 310, 2, 3, 1)
    assert config.replica_max_concurrent_requests == config.workers == 1
    assert config.compute_type == "kubernetes"


def test_fixed_replicas_turn_autoscaling_off_and_the_config_survives_its_record() -> None:
    config = KubernetesWebservice.deploy_configuration(num_replicas=3, replica_max_concurrent_requests=4,
                                                       node_selector={"pool": "cpu"}, image_pull_secrets=["pull"])
    assert (config.autoscale_enabled, config.replica_floor, config.workers) == (False, 3, 4)
    again = KubernetesDeploymentConfiguration.from_dict({**config.to_dict(), "unknown_later_knob": 1})
    assert again == config


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"autoscale_min_replicas": 5, "autoscale_max_replicas": 2}, "autoscale_min_replicas=5 is more than"),
        ({"cpu_cores": 0}, "cpu_cores must be a number above zero"),
        ({"cpu_cores": -1.5}, "cpu_cores must be a number above zero"),
        ({"memory_gb": float("nan")}, "memory_gb must be a number above zero"),
        ({"autoscale_target_utilization": 0}, "whole number from 1 to 100"),
        ({"autoscale_target_utilization": 150}, "whole number from 1 to 100"),
        ({"autoscale_target_utilization": 0.7}, "whole number from 1 to 100"),
        ({"num_replicas": 2, "autoscale_enabled": True}, "choose one"),
        ({"num_replicas": 0}, "num_replicas must be a whole number from 1"),
        ({"cpu_cores": 1, "cpu_cores_limit": 0.5}, "cpu_cores_limit=0.5 is below cpu_cores=1"),
        ({"memory_gb": 2, "memory_gb_limit": 1}, "memory_gb_limit=1 is below memory_gb=2"),
        ({"gpu_cores": -1}, "gpu_cores must be a whole number"),
        ({"namespace": "My_Models"}, "namespace 'My_Models' is not a name Kubernetes accepts"),
        ({"image_pull_secrets": ["ACR pull"]}, "image_pull_secrets: 'ACR pull' is not a Secret name"),
        ({"node_selector": {"bad key!": "x"}}, "node_selector: bad key!=x is not a Kubernetes label"),
        ({"service_type": "Ingress"}, "service_type must be one of ClusterIP, NodePort, LoadBalancer"),
        ({"node_port": 30080}, "node_port=30080 needs service_type='NodePort'"),
        ({"service_type": "NodePort", "node_port": 80}, "node_port must be a whole number from 30000 to 32767"),
        ({"period_seconds": 0}, "period_seconds must be a whole number from 1"),
        ({"failure_threshold": True}, "failure_threshold must be a whole number"),
        ({"replica_max_concurrent_requests": 0}, "replica_max_concurrent_requests must be a whole number from 1"),
        ({"image": "my image"}, "image must be an image reference"),
        ({"image_repository": "127.0.0.1:5000/models:v1"}, "image_repository is where images are pushed, without a tag"),
    ],
)
def test_each_bad_value_is_one_clear_error(knobs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        KubernetesWebservice.deploy_configuration(**knobs)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("Diabetes_Ridge", "diabetes-ridge"), ("1st-model", "st-model"), ("x" * 70, "x" * 58), ("ends-", "ends")],
)
def test_names_kubernetes_refuses_get_a_suggestion(name: str, suggestion: str) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        check_kubernetes_name(name)
    assert f"(for example {suggestion!r})" in str(raised.value)


def test_a_bad_name_or_no_cluster_fails_before_anything_is_built(tmp_path: Path, k_model: Any) -> None:
    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    ic = InferenceConfig("score.py", source_directory=str(tmp_path))
    config = KubernetesWebservice.deploy_configuration(image_repository="127.0.0.1:5000/models")
    with pytest.raises(InvalidArgumentError, match="is not a name Kubernetes accepts"):
        Model.deploy("Ridge_Model", [k_model], ic, config)
    with pytest.raises(KubernetesUnavailableError) as raised:
        Model.deploy("ridge", [k_model], ic, config)
    message = str(raised.value)
    assert "no Kubernetes cluster is configured" in message
    assert "service.to_yaml()" in message and "mldeploy k8s render" in message


def test_list_asks_a_cluster_only_once_this_home_deployed_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mldeploy_home: Path
) -> None:
    from jupyter_mldeploy.deploy.k8s import cluster as k8s_cluster
    from jupyter_mldeploy.deploy.k8s.target import USED_MARKER

    from .recording import offline_kubeconfig

    monkeypatch.setenv("KUBECONFIG", str(offline_kubeconfig(tmp_path, "default")))  # nothing listens there
    asked: list[str] = []
    monkeypatch.setattr(k8s_cluster, "connect", lambda *a, **k: asked.append("connect") or (_ for _ in ()).throw(
        KubernetesUnavailableError("does not answer")))
    assert KubernetesWebservice._discover() == [] and asked == []  # a kubeconfig from other work: not asked
    monkeypatch.setenv("MLDEPLOY_KUBERNETES_LIST", "1")
    assert KubernetesWebservice._discover() == [] and asked == ["connect"]  # asked; no answer is no service
    monkeypatch.delenv("MLDEPLOY_KUBERNETES_LIST")
    (mldeploy_home / USED_MARKER).touch()
    assert KubernetesWebservice._discover() == [] and asked == ["connect", "connect"]
    monkeypatch.setenv("MLDEPLOY_KUBERNETES_LIST", "0")
    assert KubernetesWebservice._discover() == [] and len(asked) == 2
