"""Entry script with inference_schema numpy decorators: run() gets a typed numpy array."""

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema

input_sample = np.array([[1.0, 2.0, 3.0, 4.0]])
output_sample = np.array([10.0])

weights = None


def init():
    global weights
    weights = np.array([1.0, 2.0, 3.0, 4.0])


@input_schema("data", NumpyParameterType(input_sample))
@output_schema(NumpyParameterType(output_sample))
def run(data):
    assert isinstance(data, np.ndarray), type(data)
    return data @ weights
