"""Deployed services speak the Open Inference Protocol: tritonclient.http and the KServe SDK on both targets.

The model names and versions of the deployment are the OIP model names (``k`` version ``1``
here); the service's keys apply as on ``/score``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from oip_helpers import run_kserve_client, triton_round_trip

from jupyter_mldeploy.deploy import deploy_from_files

ROWS = [1.0, 2.0]
EXPECTED = [3.0, 6.0]  # the scale script multiplies by k = 3


def _check(service: Any, key: str | None) -> None:
    base = service.scoring_uri.removesuffix("/score")
    seen = triton_round_trip(base, "k", ROWS, "output-0", key=key, version="1")
    assert seen["live"] and seen["ready"] and seen["model_ready"]
    assert seen["metadata"]["name"] == "k" and seen["metadata"]["versions"] == ["1"]
    for binary in (True, False):
        answer = seen[f"infer_binary_{binary}"]
        assert answer["array"] == EXPECTED
        assert answer["response"]["model_version"] == "1"
    kserve = run_kserve_client(base, "k", ROWS, key=key)
    assert kserve["live"] and kserve["server_ready"] and kserve["model_ready"]
    assert kserve["metadata"]["versions"] == ["1"]
    assert kserve["infer_binary_True"]["data"] == EXPECTED and kserve["infer_binary_False"]["data"] == EXPECTED
    assert "400" in kserve["bad_shape_error"]


@pytest.mark.slow
def test_process_service_answers_oip_clients(k_model: Any, app_dir: Path) -> None:
    service = deploy_from_files("oip-proc", ["k:1"], str(app_dir / "score.py"), target="process", auth_enabled=True)
    service.wait_for_deployment(timeout_sec=300)
    _check(service, service.get_keys()[0])
    service.delete()


@pytest.mark.docker
@pytest.mark.slow
def test_docker_service_answers_oip_clients(k_model: Any, app_dir: Path, docker_home: Path) -> None:
    service = deploy_from_files("oip-docker", ["k:1"], str(app_dir / "score.py"), target="docker")
    service.wait_for_deployment(timeout_sec=600)
    assert service.compute_type == "docker"
    _check(service, None)
    service.delete(delete_image=True)
