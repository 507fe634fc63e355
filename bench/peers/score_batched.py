"""bench/peers/score.py made vectorised with ``@batched``: one ``predict`` for every request of a batch.

Served by ``mldeploy serve`` in ``bench/oip_batching_vs_peers.py``; the knobs come from the
environment so that the benchmark can match them to BentoML's and MLServer's.
"""

import json
import os

import joblib
import numpy as np

from jupyter_mldeploy import batched

model = None


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib"))


@batched(max_batch_size=int(os.environ.get("BENCH_MAX_BATCH", "64")),
         max_latency_ms=float(os.environ.get("BENCH_MAX_LATENCY_MS", "5")))
def run(raw_batch):
    rows = [json.loads(raw)["data"] for raw in raw_batch]
    predictions = model.predict(np.concatenate([np.asarray(r, dtype=float) for r in rows])).tolist()
    answers, start = [], 0
    for r in rows:
        answers.append(predictions[start:start + len(r)])
        start += len(r)
    return answers
