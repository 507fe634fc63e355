"""SERVER test script: run() raises for {"fail": true}, else echoes; init() prints once."""

import json
import sys


def init():
    print("http_run_raises: init done")


def run(raw_data):
    data = json.loads(raw_data)
    if data.get("bytes"):
        sys.stdout.buffer.write(b"raw bytes line\n")
    if data.get("fail"):
        raise ValueError("asked to fail: " + str(data.get("why", "no reason")))
    return {"echo": data}
