"""SERVER test script: run() uses asyncio.run() itself (allowed under azmlinfsrv's sync workers)."""

import asyncio
import json


async def double(values):
    await asyncio.sleep(0)
    return [2 * v for v in values]


def init():
    pass


def run(raw_data):
    return {"doubled": asyncio.run(double(json.loads(raw_data)["data"]))}
