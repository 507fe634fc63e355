"""Drive the KServe Python SDK's v2 REST client against a server; print what it saw as one JSON line.

Run by the KServe client's own virtualenv (KServe pins pandas < 3, so it does not live in the
project's): ``python kserve_v2.py BASE_URL MODEL ROWS_JSON [KEY]``. The tests assert on the printed JSON.
(No tests here.)
"""

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def main(base_url: str, model: str, rows: list, key: str | None) -> dict:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=1, timeout=30))
    seen: dict = {}
    try:
        seen["live"] = await client.is_server_live(base_url, headers=headers)
        seen["server_ready"] = await client.is_server_ready(base_url, headers=headers)
        seen["model_ready"] = await client.is_model_ready(base_url, model, headers=headers)
        # the SDK's REST client (0.21) has no metadata call: its own HTTP client and URL rule fetch it
        response = await client._client.get(client._construct_url(base_url, f"v2/models/{model}"), headers=headers)
        seen["metadata_status"] = response.status_code
        seen["metadata"] = response.json()
        array = np.array(rows, dtype="float64")
        for binary in (False, True):
            tensor = InferInput("data", list(array.shape), "FP64")
            tensor.set_data_from_numpy(array, binary_data=binary)
            result = await client.infer(base_url, InferRequest(model, [tensor], request_id=f"kserve-{binary}"),
                                        model_name=model, headers=dict(headers or {}))
            out = result.outputs[0]
            seen[f"infer_binary_{binary}"] = {
                "id": result.id, "name": out.name, "datatype": out.datatype, "shape": list(out.shape),
                "data": out.as_numpy().tolist(),
            }
        bad = InferInput("data", [3], "FP64", data=[1.0, 2.0])
        try:
            await client.infer(base_url, InferRequest(model, [bad]), model_name=model, headers=dict(headers or {}))
        except Exception as err:  # noqa: BLE001 - the SDK raises httpx.HTTPStatusError
            seen["bad_shape_error"] = f"{type(err).__name__}: {err}"
    finally:
        await client.close()
    return seen


if __name__ == "__main__":
    key = sys.argv[4] if len(sys.argv) > 4 else None
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), key))))
