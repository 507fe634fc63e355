"""Entry script with inference_schema pandas decorators: run() gets a typed DataFrame."""

import numpy as np
import pandas as pd
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

input_sample = pd.DataFrame({"age": [30], "income": [5000.0], "city": ["Paris"]})
output_sample = np.array([0.5])


def init():
    pass


@input_schema("data", PandasParameterType(input_sample))
@input_schema("threshold", StandardPythonParameterType(0.5), optional=True)
@output_schema(NumpyParameterType(output_sample))
def run(data, threshold=0.5):
    assert isinstance(data, pd.DataFrame), type(data)
    score = (data["age"] / 100.0 + data["income"] / 100000.0).to_numpy()
    return score
