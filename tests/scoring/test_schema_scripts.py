"""inference_schema-decorated scripts: typed arguments, 4xx for bad input, swagger.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from entry_helpers import make_request, response_json
from openapi_spec_validator import validate


def test_numpy_schema_gives_run_a_typed_array_and_returns_json(load_script):
    script = load_script("schema_numpy")
    assert script.has_schema and not script.is_rawhttp
    resp = script.handle(make_request(body=b'{"data": [[1, 2, 3, 4], [0, 0, 0, 1]]}'))
    assert resp.status == 200, resp.body
    assert response_json(resp) == [30.0, 4.0]


def test_schema_get_with_query_parameters(load_script):
    script = load_script("schema_numpy")
    resp = script.handle(make_request("GET", content_type=None, query="data=[[1,1,1,1]]"))
    assert resp.status == 200 and response_json(resp) == [10.0]


def test_pandas_schema_with_optional_parameter(load_script):
    script = load_script("schema_pandas")
    body = {"data": [{"age": 30, "income": 5000.0, "city": "Paris"}, {"age": 50, "income": 0, "city": "Oslo"}]}
    resp = script.handle(make_request(body=json.dumps(body)))
    assert resp.status == 200, resp.body
    assert response_json(resp) == pytest.approx([0.35, 0.5])
    with_threshold = script.handle(make_request(body=json.dumps({**body, "threshold": 0.9})))
    assert with_threshold.status == 200


def test_standard_schema_with_nested_numpy(load_script):
    script = load_script("schema_standard")
    resp = script.handle(make_request(body=b'{"payload": {"rows": [[1, 2], [3, 4]], "scale": 2.0}, "label": "x"}'))
    assert resp.status == 200, resp.body
    assert response_json(resp) == {"result": [6.0, 14.0], "label": "x"}


@pytest.mark.parametrize(
    ("script_name", "body", "status", "parameter", "fragments"),
    [
        ("schema_numpy", b'{"data": [[1, 2, 3]]}', 422, "data",
         ["size 3 on dimension #1, while expected value is 4", "numpy array of shape (n, 4) with dtype float64"]),
        ("schema_numpy", b'{"data": [["a", 2, 3, 4]]}', 422, "data", ["could not convert string to float"]),
        ("schema_numpy", b'{"data": [[1, 2], [1, 2, 3]]}', 422, "data", ["'data' does not match its schema"]),
        ("schema_numpy", b'{"data": "text"}', 422, "data", ["expected an array"]),
        ("schema_numpy", b'{"other": 1}', 400, "data", ["Missing parameter 'data'"]),
        ("schema_pandas", b'{"data": [{"age": "old", "income": 1.0, "city": "x"}]}', 422, "data",
         ["column 'age'", "pandas DataFrame in 'records' orient"]),
        ("schema_pandas", b'{"data": 5}', 422, "data", ["Pandas Dataframe"]),
        ("schema_standard", b'{"payload": {"rows": [[1, 2]], "scale": 1.0}, "label": 5}', 422, "label",
         ["Expected: <class 'str'>", "expected a string"]),
        ("schema_standard", b'{"payload": [1], "label": "x"}', 422, "payload", ["expected a JSON object"]),
    ],
)
def test_wrong_types_or_shapes_name_the_parameter(load_script, script_name, body, status, parameter, fragments):
    script = load_script(script_name)
    resp = script.handle(make_request(body=body))
    assert resp.status == status, resp.body
    error = response_json(resp)["error"]
    assert error["code"] == "SchemaValidation"
    assert error["parameter"] == parameter
    for fragment in fragments:
        assert fragment in error["message"]
    assert "Send a body like {" in error["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "fragment"),
    [
        (b'{"data": [[1,2,3,4]]', "application/json", 400, "InvalidJSON", "Invalid JSON at line 1 column 21"),
        (b"", "application/json", 400, "EmptyBody", "The request body is empty"),
        (b'{"data": "\xff"}', "application/json", 400, "NotUTF8", "not valid UTF-8"),
        (b"[1, 2]", "application/json", 400, "SchemaValidation", "must be a JSON object"),
        (b"null", "application/json", 400, "SchemaValidation", "got a JSON null"),
        (b"data=1", "application/x-www-form-urlencoded", 415, "UnsupportedMediaType", "Content-Type: application/json"),
        (b'{"data": [[1,2,3,4]]}', "text/plain", 415, "UnsupportedMediaType", "not text/plain"),
        (b"[" * 100000, "application/json", 400, "InvalidJSON", "nested too deeply"),
        (b'{"data": [[1e999999, 1, 1, 1]]}', "application/json", 200, None, None),
    ],
)
def test_bad_bodies_for_schema_scripts_are_4xx(load_script, body, content_type, status, code, fragment):
    script = load_script("schema_numpy")
    resp = script.handle(make_request(body=body, content_type=content_type))
    assert resp.status == status, resp.body
    if code:
        error = response_json(resp)["error"]
        assert error["code"] == code
        assert fragment in error["message"]


def test_missing_content_type_is_read_as_json(load_script):
    script = load_script("schema_numpy")
    resp = script.handle(make_request(body=b'{"data": [[1, 1, 1, 1]]}', content_type=None))
    assert resp.status == 200 and response_json(resp) == [10.0]
    vendor = script.handle(make_request(body=b'{"data": [[1, 1, 1, 1]]}', content_type="application/vnd.x+json"))
    assert vendor.status == 200


def test_run_raising_in_schema_script_is_500(tmp_path: Path, load_script):
    script_file = tmp_path / "schema_fail.py"
    script_file.write_text(
        "from inference_schema.schema_decorators import input_schema\n"
        "from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType\n\n"
        "def init():\n    pass\n\n"
        "@input_schema('x', StandardPythonParameterType(1))\n"
        "def run(x):\n    raise KeyError('no model for this x')\n"
    )
    script = load_script(script_file)
    resp = script.handle(make_request(body=b'{"x": 3}'))
    assert resp.status == 500
    assert "KeyError" in response_json(resp)["error"]["message"]


# --- swagger ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["schema_numpy", "schema_pandas", "schema_standard", "plain_json", "rawhttp_bytes"])
@pytest.mark.parametrize("version", [2, 3, "3.1"])
def test_generated_swagger_is_a_valid_openapi_document(load_script, name, version):
    script = load_script(name, init=False)
    doc = script.swagger(version, service_name="svc", host="127.0.0.1:5001")
    validate(doc)
    assert set(doc["paths"]) == {"/", "/score", "/swagger.json"}
    assert doc["info"]["title"] == "svc"


def test_swagger2_definitions_come_from_the_decorators(load_script):
    script = load_script("schema_numpy", init=False)
    doc = script.swagger(2)
    assert doc["swagger"] == "2.0"
    service_input = doc["definitions"]["ServiceInput"]
    assert service_input["required"] == ["data"]
    assert service_input["example"] == {"data": [[1.0, 2.0, 3.0, 4.0]]}
    assert service_input["properties"]["data"]["items"]["items"]["type"] == "number"
    assert doc["definitions"]["ServiceOutput"]["example"] == [10.0]
    score = doc["paths"]["/score"]["post"]
    assert score["parameters"][0]["schema"] == {"$ref": "#/definitions/ServiceInput"}
    assert "422" in score["responses"] and "415" in score["responses"]
    error_props = doc["definitions"]["ErrorResponse"]["properties"]["error"]["properties"]
    assert {"code", "message", "request_id"} <= set(error_props)


def test_swagger3_components_and_optional_parameters(load_script):
    script = load_script("schema_pandas", init=False)
    doc = script.swagger(3, host="localhost:9000")
    assert doc["openapi"].startswith("3.0")
    assert doc["servers"] == [{"url": "http://localhost:9000"}]
    service_input = doc["components"]["schemas"]["ServiceInput"]
    assert service_input["required"] == ["data"]  # threshold is optional
    assert service_input["example"]["data"] == [{"age": 30, "income": 5000.0, "city": "Paris"}]
    assert script.swagger("3.1")["openapi"] == "3.1.0"


def test_undecorated_script_gets_a_minimal_spec(load_script):
    doc = load_script("plain_json", init=False).swagger(2)
    assert doc["definitions"]["ServiceInput"]["example"] == {}
    assert doc["paths"]["/score"]["post"]["parameters"][0]["required"] is False


def test_unknown_swagger_version_is_an_invalid_argument(load_script):
    from jupyter_mldeploy.errors import InvalidArgumentError

    script = load_script("plain_json", init=False)
    with pytest.raises(InvalidArgumentError, match="version=2 .* or version=3"):
        script.swagger(4)


def test_mixed_type_sample_cannot_be_swagger2(tmp_path: Path, load_script):
    from jupyter_mldeploy.errors import InvalidArgumentError

    script_file = tmp_path / "mixed.py"
    script_file.write_text(
        "from inference_schema.schema_decorators import input_schema\n"
        "from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType\n\n"
        "def init():\n    pass\n\n"
        "@input_schema('row', StandardPythonParameterType([1, 'a']))\n"
        "def run(row):\n    return row\n"
    )
    script = load_script(script_file, init=False)
    with pytest.raises(InvalidArgumentError, match="ask for version=3"):
        script.swagger(2)
    validate(script.swagger(3))


def test_user_swagger_file_next_to_the_script_wins(tmp_path: Path, load_script):
    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(raw_data):\n    return raw_data\n")
    own = {"swagger": "2.0", "info": {"title": "mine", "version": "9"}, "paths": {}}
    (tmp_path / "swagger.json").write_text(json.dumps(own))
    script = load_script(tmp_path / "score.py", init=False)
    assert script.swagger(2) == own
    assert script.swagger(3)["openapi"].startswith("3.")


def test_swagger_is_a_copy_each_time(load_script):
    script = load_script("schema_numpy", init=False)
    first = script.swagger(2)
    first["paths"].clear()
    assert script.swagger(2)["paths"]


def test_reloading_a_schema_script_gives_an_independent_module(load_script):
    first = load_script("schema_numpy")
    second = load_script("schema_numpy")
    assert first.module is not second.module
    assert first.module.__name__ != second.module.__name__
    second.module.weights = np.array([0.0, 0.0, 0.0, 1.0])
    assert response_json(first.handle(make_request(body=b'{"data": [[1, 1, 1, 1]]}'))) == [10.0]
    assert response_json(second.handle(make_request(body=b'{"data": [[1, 1, 1, 1]]}'))) == [1.0]


def test_pandas_columns_must_be_the_sample_columns(load_script):
    script = load_script("schema_pandas")
    resp = script.handle(make_request(body=b'{"data": [{"x": 1, "y": 2.0, "city": "Paris"}]}'))
    assert resp.status == 422
    message = response_json(resp)["error"]["message"]
    assert "missing column(s) 'age', 'income'" in message and "unexpected column(s) 'x', 'y'" in message


def test_typed_keys_of_a_dict_parameter_are_required(load_script):
    script = load_script("schema_standard")
    resp = script.handle(make_request(body=b'{"payload": {"scale": 1.0}, "label": "x"}'))
    assert resp.status == 422
    error = response_json(resp)["error"]
    assert error["parameter"] == "payload"
    assert "payload lacks the key(s) 'rows'" in error["message"] and "numpy array" in error["message"]


def test_schema_script_with_request_headers_and_an_undecorated_parameter(tmp_path: Path, load_script):
    script_file = tmp_path / "schema_headers.py"
    script_file.write_text(
        "from inference_schema.schema_decorators import input_schema\n"
        "from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType\n\n"
        "def init():\n    pass\n\n"
        "@input_schema('x', StandardPythonParameterType(1.5))\n"
        "def run(x, note=None, request_headers=None):\n"
        "    return {'x': x, 'note': note, 'tenant': request_headers.get('x-tenant')}\n"
    )
    script = load_script(script_file)
    assert script.kind == "schema" and script.accepts_headers
    resp = script.handle(make_request(body=b'{"x": 2, "note": [1]}', headers=[("X-Tenant", "t1")]))
    assert response_json(resp) == {"x": 2, "note": [1], "tenant": "t1"}
    service_input = script.swagger(2)["definitions"]["ServiceInput"]
    assert service_input["required"] == ["x"]
    assert set(service_input["properties"]) == {"x", "note"} and "request_headers" not in service_input["example"]


def test_swagger_states_the_shape_and_columns_that_are_enforced(load_script):
    numpy_doc = load_script("schema_numpy", init=False).swagger(3)
    rows = numpy_doc["components"]["schemas"]["ServiceInput"]["properties"]["data"]["items"]
    assert (rows["minItems"], rows["maxItems"]) == (4, 4)
    pandas_doc = load_script("schema_pandas", init=False).swagger(2)
    records = pandas_doc["definitions"]["ServiceInput"]["properties"]["data"]["items"]
    assert records["additionalProperties"] is False and records["required"] == ["age", "income", "city"]
    nested = load_script("schema_standard", init=False).swagger(2)["definitions"]["ServiceInput"]
    assert nested["properties"]["payload"]["properties"]["rows"]["items"]["maxItems"] == 2
