"""The entry script most deployment tests use: ``run`` multiplies ``data`` by k, read from the model ``k.txt``.

Also ``SCHEMA_SCALE_SCRIPT`` (the same with an inference-schema example, so swagger.json has
one; a negative number is a 500) and ``RAW_SCRIPT`` (``@rawhttp``: binary answers).

(No tests here.) Test modules import them as ``from scale_script import SCALE_SCRIPT``;
``tests/`` is on ``sys.path`` because ``tests/conftest.py`` lives there. ``init()`` prints
``init loaded k = 3.0 from PATH`` (what log and panel tests look for).
"""

import textwrap

SCALE_SCRIPT = textwrap.dedent(
    """
    import json, os

    def init():
        global k
        path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")
        k = float(open(path).read())
        print("init loaded k =", k, "from", path, flush=True)

    def run(raw_data):
        return [x * k for x in json.loads(raw_data)["data"]]
    """
)

SCHEMA_SCALE_SCRIPT = textwrap.dedent(
    """
    import os
    from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
    from inference_schema.schema_decorators import input_schema

    def init():
        global k
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())
        print("init loaded k =", k, flush=True)

    @input_schema("data", StandardPythonParameterType([1.0, 2.0]))
    def run(data):
        if any(x < 0 for x in data):
            raise ValueError(f"negative input {min(data)}")
        return {"scaled": [x * k for x in data]}
    """
)

#: @rawhttp: POST answers the request bytes followed by bytes 0..255 four times; GET answers JSON.
RAW_SCRIPT = textwrap.dedent(
    """
    from azureml.contrib.services.aml_request import rawhttp
    from azureml.contrib.services.aml_response import AMLResponse

    def init():
        pass

    @rawhttp
    def run(request):
        if request.method == "GET":
            return {"method": "GET", "args": dict(request.args)}
        body = request.get_data(as_text=False)
        return AMLResponse(body + bytes(range(256)) * 4, 200, {"Content-Type": "application/octet-stream"})
    """
)
