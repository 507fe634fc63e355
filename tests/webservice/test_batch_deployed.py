"""A deployed service batches by its deployment configuration (``deploy_configuration(batch=...)``), script unchanged."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import InferenceConfig, KubernetesWebservice, LocalWebservice, Model
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.deploy.k8s import render_service
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.errors import InvalidArgumentError

SCRIPTS = Path(__file__).resolve().parents[1] / "scoring" / "scripts"


@pytest.fixture
def vectorised_app(tmp_path: Path) -> InferenceConfig:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "score.py").write_text((SCRIPTS / "vectorised_sum.py").read_text())
    return InferenceConfig("score.py", source_directory=str(folder))


def test_a_process_service_with_batch_in_its_configuration_serves_batches(vectorised_app: InferenceConfig,
                                                                         k_model: Model) -> None:
    config = ProcessWebservice.deploy_configuration(batch="max_batch_size=6,max_latency_ms=40")
    assert config.to_dict()["batch"] == "max_batch_size=6,max_latency_ms=40"
    service = deploy("summer", [k_model], vectorised_app, config)
    service.wait_for_deployment(timeout_sec=120)
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda i: service.run(json.dumps({"id": i, "data": [i, 1]})), range(12)))
    assert [a["id"] for a in answers] == list(range(12))
    assert [a["sum"] for a in answers] == [i + 1 for i in range(12)]
    assert 1 < max(a["batch"] for a in answers) <= 6
    # and a configuration without it serves one request per call, as before
    service.update(deployment_config=ProcessWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=120)
    assert service.run(json.dumps({"id": 1, "data": [2]}))["batch"] == 0


def test_every_target_takes_batch_and_refuses_a_bad_one(vectorised_app: InferenceConfig, k_model: Any) -> None:
    config = KubernetesWebservice.deploy_configuration(batch="max_batch_size=16")
    deployment = next(o for o in render_service("summer", [k_model], vectorised_app, config).objects
                      if o["kind"] == "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLDEPLOY_BATCH"] == "max_batch_size=16,max_latency_ms=5"
    assert LocalWebservice.deploy_configuration(batch="max_latency_ms=2").batch == "max_batch_size=32,max_latency_ms=2"
    for target in (ProcessWebservice, LocalWebservice, KubernetesWebservice):
        with pytest.raises(InvalidArgumentError, match="MLDEPLOY_BATCH: 'max_batch_size=x': max_batch_size must be"):
            target.deploy_configuration(batch="max_batch_size=x")
    with pytest.raises(InvalidArgumentError, match="batch must be text like"):
        ProcessWebservice.deploy_configuration(batch=32)  # type: ignore[arg-type]
