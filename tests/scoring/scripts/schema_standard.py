"""Entry script with StandardPythonParameterType decorators (nested dict with a numpy part)."""

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

input_sample = StandardPythonParameterType(
    {"rows": NumpyParameterType(np.array([[1, 2]], dtype="int64")), "scale": StandardPythonParameterType(2.0)}
)
label_sample = StandardPythonParameterType("double")
output_sample = StandardPythonParameterType({"result": [1.0], "label": "double"})


def init():
    pass


@input_schema("payload", input_sample)
@input_schema("label", label_sample)
@output_schema(output_sample)
def run(payload, label):
    rows = payload["rows"]
    assert isinstance(rows, np.ndarray), type(rows)
    return {"result": (rows.sum(axis=1) * payload["scale"]).tolist(), "label": label}
