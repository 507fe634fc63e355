"""Open Inference Protocol clients nobody here wrote, against real scoring servers: tritonclient.http and KServe."""

from __future__ import annotations

import pytest
from oip_helpers import run_kserve_client, triton_round_trip
from test_server_support import serve

__all__ = ["serve"]

ROWS = [[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]]  # plain_json: 1*a + 2*b + 3*c + 0.5
EXPECTED = [14.5, 3.5]


def test_tritonclient_binary_and_json_against_a_plain_script(serve):
    server = serve("plain_json", models=("ridge:2",))
    seen = triton_round_trip(server.url, "ridge", ROWS, "predictions", version="2")
    assert seen["live"] and seen["ready"] and seen["model_ready"]
    assert seen["metadata"]["name"] == "ridge" and seen["metadata"]["versions"] == ["2"]
    assert seen["metadata"]["inputs"] == [{"name": "data", "datatype": "FP64", "shape": [-1, -1]}]
    binary = seen["infer_binary_True"]
    assert binary["array"] == EXPECTED
    out = binary["response"]["outputs"][0]
    assert out["name"] == "predictions" and out["datatype"] == "FP64" and out["shape"] == [2]
    assert out["parameters"]["binary_data_size"] == 16  # two FP64 elements came back binary
    assert binary["response"]["id"] == "triton-True" and binary["response"]["model_version"] == "2"
    plain = seen["infer_binary_False"]
    assert plain["array"] == EXPECTED and plain["response"]["outputs"][0]["data"] == EXPECTED


def test_tritonclient_against_a_numpy_schema_script_with_auth(serve):
    server = serve("schema_numpy", models=("dot:1",), auth_keys=["s3cret-key"])
    seen = triton_round_trip(server.url, "dot", [[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]], "output-0",
                             key="s3cret-key")
    assert seen["metadata"]["inputs"] == [{"name": "data", "datatype": "FP64", "shape": [-1, 4]}]
    assert seen["metadata"]["outputs"] == [{"name": "output-0", "datatype": "FP64", "shape": [-1]}]
    assert seen["infer_binary_True"]["array"] == [10.0, 1.0]
    assert seen["infer_binary_False"]["array"] == [10.0, 1.0]

    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        with pytest.raises(InferenceServerException, match="Bearer"):
            client.get_model_metadata("dot")
        assert client.is_server_live()  # probes stay open
    finally:
        client.close()


@pytest.mark.slow
def test_kserve_v2_rest_client_against_a_plain_script(serve):
    server = serve("plain_json", models=("ridge:1",), auth_keys=["kserve-key-1"])
    seen = run_kserve_client(server.url, "ridge", ROWS, key="kserve-key-1")
    assert seen["live"] is True and seen["server_ready"] is True and seen["model_ready"] is True
    assert seen["metadata_status"] == 200 and seen["metadata"]["versions"] == ["1"]
    for binary in ("False", "True"):
        answer = seen[f"infer_binary_{binary}"]
        assert answer["id"] == f"kserve-{binary}"
        assert (answer["name"], answer["datatype"], answer["shape"]) == ("predictions", "FP64", [2])
        assert answer["data"] == EXPECTED
    assert "400" in seen["bad_shape_error"] and "shape [3] holds 3" in seen["bad_shape_error"]
