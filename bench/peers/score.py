"""The classic Azure ML v1 entry script: a joblib Ridge from ``AZUREML_MODEL_DIR``.

Served unchanged by ``mldeploy serve`` and by ``azmlinfsrv`` in the benchmark.
"""

import json
import os

import joblib

model = None


def init():
    global model
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib")
    model = joblib.load(model_path)


def run(raw_data):
    data = json.loads(raw_data)["data"]
    return model.predict(data).tolist()
