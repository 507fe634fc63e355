"""The benchmark's Ridge as a BentoML 1.4 service with adaptive batching, written the way BentoML's docs show.

``bentoml serve bentoml_service:Ridge``; ``POST /predict {"data": [[...], ...]}``. The model
file and the batching knobs come from the environment (set by ``bench/oip_batching_vs_peers.py``).
"""

import os

import bentoml
import joblib
import numpy as np


@bentoml.service(workers=int(os.environ.get("BENCH_WORKERS", "1")))
class Ridge:
    def __init__(self) -> None:
        self.model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib"))

    @bentoml.api(batchable=True, batch_dim=0,
                 max_batch_size=int(os.environ.get("BENCH_MAX_BATCH", "64")),
                 max_latency_ms=int(os.environ.get("BENCH_BENTO_MAX_LATENCY_MS", "1000")))
    def predict(self, data: np.ndarray) -> np.ndarray:
        return self.model.predict(data)
