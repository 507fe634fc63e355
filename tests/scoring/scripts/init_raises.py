"""Entry script whose init() raises: the deployment must show this traceback."""


def load_weights(path):
    raise FileNotFoundError(f"model weights not found at {path}")


def init():
    load_weights("/nonexistent/weights.bin")


def run(raw_data):
    return raw_data
