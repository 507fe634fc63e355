"""The swagger document of ``mldeploy serve`` started as azmlinfsrv is: titled ``ML service`` unless a service is named.

Microsoft's scenario ``test_swagger_generated`` checks this title on a schema-decorated
script; clients that generate code from ``/swagger.json`` name things after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from test_health_port import _ready_within, serving

from jupyter_mldeploy._net import free_port

SWAGGER_SCRIPT = """
import numpy as np
from azureml_inference_server_http.api.aml_response import AMLResponse
from inference_schema.schema_decorators import input_schema, output_schema
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType


def init():
    print("Initializing")


@input_schema("data", NumpyParameterType(np.array([1, 2, 3])))
@output_schema(NumpyParameterType(np.array([10])))
def run(input_data):
    return AMLResponse({}, 200, json_str=True)
"""


@pytest.mark.parametrize(("env", "title"), [({}, "ML service"), ({"MLDEPLOY_SERVICE_NAME": "diabetes"}, "diabetes")])
def test_swagger_title_is_azmlinfsrvs_unless_a_service_is_named(tmp_path: Path, env: dict[str, str],
                                                                title: str) -> None:
    (tmp_path / "swagger_score.py").write_text(SWAGGER_SCRIPT)
    port = free_port()
    with serving(tmp_path, ["--entry_script", "swagger_score.py", "--port", str(port)], env=env, ready_port=port):
        assert _ready_within(f"http://127.0.0.1:{port}/ready").status_code == 200
        doc = requests.get(f"http://127.0.0.1:{port}/swagger.json", timeout=30).json()
    assert (doc["swagger"], doc["info"]["title"]) == ("2.0", title)
    assert doc["definitions"]["ServiceInput"]["properties"]["data"]["items"]["type"] == "integer"
