"""Entry script whose run() raises for a negative number and doubles the others (error paths)."""

import json


def run(raw_data):
    data = json.loads(raw_data)["data"]
    if any(x < 0 for x in data):
        raise ValueError("negative input")
    return [2 * x for x in data]
