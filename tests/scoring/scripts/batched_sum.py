"""A @batched entry script: sums each request's data in one vectorised call; errors per request on demand."""

import json
import os
import time

from jupyter_mldeploy import batched

SLOW_S = float(os.environ.get("BATCHED_SLOW_S", "0"))


@batched(max_batch_size=8, max_latency_ms=int(os.environ.get("BATCHED_LATENCY_MS", "30")),
         max_queue=int(os.environ.get("BATCHED_MAX_QUEUE", "0")))
def run(raw_batch):
    if SLOW_S:
        time.sleep(SLOW_S)
    answers = []
    for raw in raw_batch:
        data = json.loads(raw)  # a body that is not JSON makes the whole call raise
        if data.get("explode"):
            raise RuntimeError("this request breaks the whole call")
        if data.get("fail"):
            answers.append(ValueError(f"request {data.get('id')} asked to fail"))
        else:
            answers.append({"id": data.get("id"), "sum": sum(data["data"]), "batch": len(raw_batch)})
    return answers
