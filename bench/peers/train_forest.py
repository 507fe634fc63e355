"""Train the benchmark's heavier model: a scikit-learn Pipeline (StandardScaler, RandomForestRegressor) on ``load_diabetes``.

A model users really deploy, with a larger fixed cost per ``predict`` call than the Ridge
(100 trees are walked for any number of rows). Run with the project's Python::

    .venv/bin/python bench/peers/train_forest.py bench/.venvs/model

Writes ``OUT/forest/model.joblib`` and ``OUT/forest/payload.json`` (the same two rows as
the Ridge's payload, plus this model's expected answer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def main(out: Path) -> None:
    """Train and save the pipeline and its payload under ``out/forest``."""
    X, y = load_diabetes(return_X_y=True)
    model = Pipeline([("scale", StandardScaler()),
                      ("forest", RandomForestRegressor(n_estimators=100, random_state=0))]).fit(X, y)
    folder = out / "forest"
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    payload = {"rows": X[:2].tolist(), "expected": model.predict(X[:2]).tolist()}
    (folder / "payload.json").write_text(json.dumps(payload))
    print(f"saved the forest pipeline and its payload under {folder}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
