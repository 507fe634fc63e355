"""Entry script with a syntax error on line 5."""


def init():
    return [1, 2,


def run(raw_data):
    return raw_data
