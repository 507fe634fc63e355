"""The tiny service the deploy tests build: an entry script, a helper module and a model file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

#: The service the tests deploy: reads its model from AZUREML_MODEL_DIR, imports a helper module.
SCORE_PY = textwrap.dedent(
    """
    import json
    import os

    import helpers
    from azureml.core.model import Model

    model = None
    model_path = None


    def init():
        global model, model_path
        model_path = Model.get_model_path("scaler")  # Azure's way, through the shim
        with open(model_path) as f:
            model = json.load(f)
        print("INIT-MARKER model loaded", flush=True)


    def run(raw_data):
        data = json.loads(raw_data)["data"]
        return {
            "predictions": [model["scale"] * x + model["bias"] for x in data],
            "code_version": helpers.CODE_VERSION,
            "uid": os.getuid(),
            "model_dir": os.environ["AZUREML_MODEL_DIR"],
            "model_path": model_path,
        }
    """
)


def write_service_source(folder: Path, code_version: int = 1) -> Path:
    """Write the test service's source folder (score.py + helpers.py + clutter to exclude)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text(SCORE_PY)
    (folder / "helpers.py").write_text(f"CODE_VERSION = {code_version}\n")
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / "__pycache__" / "helpers.cpython-311.pyc").write_bytes(b"stale")
    (folder / ".git").mkdir(exist_ok=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return folder


def write_model(path: Path, scale: float, bias: float) -> Path:
    """Write a model file the test service reads: ``{"scale", "bias"}``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"scale": scale, "bias": bias}))
    return path
