"""An Azure sample's monitoring: ModelDataCollector for inputs and predictions, Run.get_context().log."""

import json

import numpy as np
from azureml.core.run import Run
from azureml.monitoring import ModelDataCollector

inputs_dc = None
prediction_dc = None


def init():
    global inputs_dc, prediction_dc
    inputs_dc = ModelDataCollector("ridge", designation="inputs", feature_names=["a", "b"])
    prediction_dc = ModelDataCollector("ridge", designation="predictions", feature_names=["y"])
    Run.get_context().log("init_done", 1)


def run(raw_data):
    body = json.loads(raw_data)
    data = np.array(body["data"])
    inputs_dc.collect(data, user_correlation_id=body.get("order", ""))
    result = data.sum(axis=1)
    prediction_dc.collect(result)
    run_ctx = Run.get_context()
    run_ctx.log("rows", len(data))
    run_ctx.log_list("sums", result.tolist())
    run_ctx.log_row("shape", rows=int(data.shape[0]), cols=int(data.shape[1]))
    return result.tolist()
