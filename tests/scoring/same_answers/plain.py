"""A plain entry script as written for azmlinfsrv: run(raw_data) takes the JSON text."""

import json
import os


def init():
    global factor
    factor = 3
    print("plain init, model dir:", os.environ.get("AZUREML_MODEL_DIR"))


def run(raw_data):
    data = json.loads(raw_data)
    if "fail" in data:
        raise ValueError(f"asked to fail: {data['fail']}")
    if "text" in data:
        return data["text"]  # a str: the server JSON-encodes it
    if "nothing" in data:
        return None
    if "items" in data:
        return [x * factor for x in data["items"]]
    return {"sum": sum(data["data"]) * factor, "n": len(data["data"])}
