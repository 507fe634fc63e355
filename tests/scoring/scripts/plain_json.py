"""Plain Azure ML v1 entry script: run() gets the body as a string and parses it itself."""

import json

model = None


def init():
    global model
    model = {"weights": [1.0, 2.0, 3.0], "bias": 0.5}


def run(raw_data):
    data = json.loads(raw_data)["data"]
    predictions = [sum(w * x for w, x in zip(model["weights"], row)) + model["bias"] for row in data]
    return {"predictions": predictions}
