"""An entry script with inference-schema decorators, as Azure's samples write them."""

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    pass


@input_schema("data", NumpyParameterType(np.array([[1.0, 2.0, 3.0]])))
@input_schema("scale", StandardPythonParameterType(1.0))
@output_schema(StandardPythonParameterType({"total": [6.0], "rows": 1}))
def run(data, scale=1.0):
    if scale < 0:
        raise ValueError("scale must not be negative")
    return {"total": (data.sum(axis=1) * scale).tolist(), "rows": int(data.shape[0])}
