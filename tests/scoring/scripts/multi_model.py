"""Entry script that loads two registered models with Model.get_model_path, as Azure scripts do.

Layout (as in an Azure deployment with several models), under AZUREML_MODEL_DIR:
    linear/1/model.json, linear/2/model.json    {"coef": [...], "intercept": x}
    offset/3/offset.json + offset/3/README      (a folder model: get_model_path gives the folder)
"""

import json
import os

from azureml.core.model import Model

linear = None
offset = None
paths = {}


def init():
    global linear, offset
    linear_path = Model.get_model_path("linear")  # highest version
    offset_dir = Model.get_model_path(model_name="offset", version=3)
    paths.update(linear=linear_path, offset=offset_dir)
    with open(linear_path) as f:
        linear = json.load(f)
    with open(os.path.join(offset_dir, "offset.json")) as f:
        offset = json.load(f)["offset"]


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    predictions = [sum(c * x for c, x in zip(linear["coef"], row)) + linear["intercept"] + offset for row in rows]
    return {"predictions": predictions, "paths": paths}
