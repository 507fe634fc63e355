"""A vectorised run() with no decorator: batched only when the server is told to (MLDEPLOY_BATCH / --batch).

Without the setting each call gets one body (a str) and answers for it alone; with it, a list.
"""

import json
import os
import time

SLOW_S = float(os.environ.get("VECTORISED_SLOW_S", "0"))


def _answer(raw, size):
    data = json.loads(raw)  # a body that is not JSON makes the whole call raise
    if data.get("explode"):
        raise RuntimeError("this request breaks the whole call")
    if data.get("fail"):
        return ValueError(f"request {data.get('id')} asked to fail")
    return {"id": data.get("id"), "sum": sum(data["data"]), "batch": size}


def run(raw_batch):
    if SLOW_S:
        time.sleep(SLOW_S)
    if isinstance(raw_batch, str):  # served without the setting: one request
        return _answer(raw_batch, 0)
    return [_answer(raw, len(raw_batch)) for raw in raw_batch]
