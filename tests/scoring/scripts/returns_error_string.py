"""Old-style entry script that catches its own errors and returns the message with status 200."""

import json


def init():
    pass


def run(raw_data):
    try:
        data = json.loads(raw_data)["data"]
        return {"sum": sum(data)}
    except Exception as e:  # noqa: BLE001 - old-style script on purpose
        error = str(e)
        return error
