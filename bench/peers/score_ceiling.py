"""The per-request ceiling of the batching benchmark: the same answers as ``score.py`` with no work per request.

The first request's prediction is kept and returned for every request after it (the
benchmark sends the same rows every time), so what this script's server pays per request
is only the HTTP, the routing and the answer's JSON: the work no batching can remove. A
batched script cannot answer faster than this one; its ratio to the unbatched script is
bounded by ``ceiling / unbatched``.
"""

import os

import joblib

model = None
answer = None


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib"))


def run(raw_data):
    global answer
    if answer is None:
        import json

        answer = model.predict(json.loads(raw_data)["data"]).tolist()
    return answer
