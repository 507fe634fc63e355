"""Entry script with run(raw_data, request_headers): echoes some request headers back."""

import json


def init():
    pass


def run(raw_data, request_headers):
    return {
        "body": json.loads(raw_data) if raw_data else None,
        "content_type": request_headers.get("Content-Type"),
        "custom": request_headers.get("X-Custom-Header"),
        "names": sorted(request_headers),
    }
