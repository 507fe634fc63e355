"""The entry script most deployment tests use: ``run`` multiplies ``data`` by k, read from the model ``k.txt``.

(No tests here.) Test modules import it as ``from scale_script import SCALE_SCRIPT``;
``tests/`` is on ``sys.path`` because ``tests/conftest.py`` lives there. ``init()`` prints
``init loaded k = 3.0 from PATH`` (what log and panel tests look for).
"""

import textwrap

SCALE_SCRIPT = textwrap.dedent(
    """
    import json, os

    def init():
        global k
        path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")
        k = float(open(path).read())
        print("init loaded k =", k, "from", path, flush=True)

    def run(raw_data):
        return [x * k for x in json.loads(raw_data)["data"]]
    """
)
