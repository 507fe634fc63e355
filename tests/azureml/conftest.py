"""Fixtures for the Azure ML v1 guide tests: the guides' files (entry script, conda file, model) and no leaked services."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_leaked_services(no_leaked_services: None) -> None:
    """Every test here may deploy: delete what it leaves (see tests/conftest.py)."""


#: the guides' score.py, as written there (only the model is a plain pickled dict, no scikit-learn needed)
GUIDE_SCORE = textwrap.dedent(
    """
    import json
    import os
    import pickle


    def init():
        global model
        # AZUREML_MODEL_DIR is an environment variable created during deployment.
        # It is the path to the model folder (./azureml-models/$MODEL_NAME/$VERSION)
        model_path = os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_regression_model.pkl")
        with open(model_path, "rb") as f:
            model = pickle.load(f)


    def run(data):
        try:
            data = json.loads(data)["data"]
            result = [sum(w * x for w, x in zip(model["coef"], row)) + model["intercept"] for row in data]
            # You can return any data type, as long as it is JSON serializable.
            return result
        except Exception as e:
            error = str(e)
            return error
    """
)

CONDA_YML = textwrap.dedent(
    """
    name: project_environment
    dependencies:
      - python=3.11
      - pip
    channels:
      - conda-forge
    """
)


@pytest.fixture
def guide_files(tmp_path: Path) -> Path:
    """A folder as the guides have it: sklearn_regression_model.pkl, source_dir/score.py, myenv.yml."""
    folder = tmp_path / "guide"
    (folder / "source_dir").mkdir(parents=True)
    with open(folder / "sklearn_regression_model.pkl", "wb") as f:
        pickle.dump({"coef": [1.0, 2.0], "intercept": 0.5}, f)
    (folder / "source_dir" / "score.py").write_text(GUIDE_SCORE)
    (folder / "myenv.yml").write_text(CONDA_YML)
    return folder
