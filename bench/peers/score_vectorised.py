"""bench/peers/score.py made vectorised: a list of request bodies in, one ``predict`` for all, a list of answers out.

No decorator: ``mldeploy serve`` batches it when told to (``MLDEPLOY_BATCH`` / ``--batch``),
as ``ours-setting`` in ``bench/oip_batching_vs_peers.py`` does; ``score_batched.py`` is
the same ``run`` with ``@batched``.
"""

import json
import os

import joblib
import numpy as np

model = None


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib"))


def run(raw_batch):
    rows = [json.loads(raw)["data"] for raw in raw_batch]
    predictions = model.predict(np.concatenate([np.asarray(r, dtype=float) for r in rows])).tolist()
    answers, start = [], 0
    for r in rows:
        answers.append(predictions[start:start + len(r)])
        start += len(r)
    return answers
