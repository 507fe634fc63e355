"""Helpers for the Open Inference Protocol tests: real third-party clients against real servers.

(No tests here.) ``tritonclient.http`` comes from the project's test extra. The KServe
Python SDK pins pandas < 3, so it gets a virtualenv of its own, built from the package
index with uv once per machine (:func:`kserve_python`); ``tests/oip_clients/kserve_v2.py``
runs in it and prints what the SDK saw.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from peer_venvs import peer_python

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
KSERVE = "kserve==0.21.0"
CLIENTS = Path(__file__).parent / "oip_clients"


def kserve_python() -> Path:
    """The interpreter of a virtualenv with the KServe SDK (built once; skipped, or failed in CI, if it cannot be)."""
    return peer_python(KSERVE.replace("==", "-"), [KSERVE])


def run_kserve_client(base_url: str, model: str, rows: Any, key: str | None = None) -> dict[str, Any]:
    """What the KServe SDK's v2 REST client saw against ``base_url`` sending ``rows`` as input ``data``."""
    python = kserve_python()
    args = [str(python), str(CLIENTS / "kserve_v2.py"), base_url, model, json.dumps(rows)]
    if key:
        args.append(key)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, f"the KServe client failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def triton_round_trip(url: str, model: str, rows: Any, output: str, key: str | None = None,
                      version: str = "") -> dict[str, Any]:
    """is_server_live, is_model_ready, get_model_metadata and infer (binary and JSON) with tritonclient.http."""
    import numpy as np
    import tritonclient.http as httpclient

    headers = {"Authorization": f"Bearer {key}"} if key else None
    client = httpclient.InferenceServerClient(url.removeprefix("http://"), connection_timeout=30, network_timeout=30)
    try:
        seen: dict[str, Any] = {
            "live": client.is_server_live(headers=headers),
            "ready": client.is_server_ready(headers=headers),
            "model_ready": client.is_model_ready(model, version, headers=headers),
            "metadata": client.get_model_metadata(model, version, headers=headers),
        }
        array = np.array(rows, dtype="float64")
        for binary in (True, False):
            tensor = httpclient.InferInput("data", list(array.shape), "FP64")
            tensor.set_data_from_numpy(array, binary_data=binary)
            outputs = None if binary else [httpclient.InferRequestedOutput(output, binary_data=False)]
            # a fresh dict each time: tritonclient writes Inference-Header-Content-Length into the one given
            result = client.infer(model, [tensor], model_version=version, outputs=outputs,
                                  headers=dict(headers) if headers else None, request_id=f"triton-{binary}")
            response = result.get_response()
            seen[f"infer_binary_{binary}"] = {
                "response": response, "array": result.as_numpy(response["outputs"][0]["name"]).tolist(),
            }
        return seen
    finally:
        client.close()
