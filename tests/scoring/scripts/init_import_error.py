"""Entry script that imports a package that is not installed (fails at import time)."""

import json

import mldeploy_no_such_package  # noqa: F401


def init():
    pass


def run(raw_data):
    return json.loads(raw_data)
