"""Entry script whose run() returns a generator: the answer is streamed chunk by chunk.

Body {"chunks": n, "delay": seconds, "fail_at": k (optional)}: yields n JSON lines.
"""

import json
import time


def init():
    pass


def run(raw_data):
    params = json.loads(raw_data or "{}")
    count = int(params.get("chunks", 3))
    delay = float(params.get("delay", 0))
    fail_at = params.get("fail_at")

    def generate():
        for i in range(count):
            if fail_at is not None and i == fail_at:
                raise RuntimeError(f"stream broke at chunk {i}")
            yield {"chunk": i}
            if delay:
                time.sleep(delay)

    return generate()
