"""Entry script whose run() sleeps for {"sleep": seconds} (default 0) and says how long it slept."""

import json
import time


def init():
    pass


def run(raw_data):
    seconds = float(json.loads(raw_data or "{}").get("sleep", 0))
    time.sleep(seconds)
    return {"slept": seconds}
