"""Entry script that prints and logs inside init() and run() (the server tags the lines)."""

import logging
import sys

logger = logging.getLogger("score")


def init():
    print("init: loading model")
    logger.warning("init: logged warning")


def run(raw_data):
    print(f"run: got {len(raw_data)} characters")
    print("run: to stderr", file=sys.stderr)
    logger.warning("run: logged warning")
    return {"length": len(raw_data)}
