"""Train the benchmark model (Ridge on ``load_diabetes``) and save it for every server.

Run with a Python that has scikit-learn and mlflow (``bench/.venvs/mlflow``)::

    bench/.venvs/mlflow/bin/python bench/peers/train_model.py bench/.venvs/model

Writes ``OUT/joblib/model.joblib`` (read by the entry script and the Starlette app),
``OUT/mlflow/`` (an MLflow model, served by ``mlflow models serve``) and
``OUT/payload.json`` (the two rows every server scores, plus the expected answer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge


def main(out: Path) -> None:
    """Train, save both formats and the payload under ``out``."""
    X, y = load_diabetes(return_X_y=True)
    model = Ridge(alpha=1.0).fit(X, y)
    rows = X[:2].tolist()
    (out / "joblib").mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "joblib" / "model.joblib")

    import mlflow.sklearn  # heavy: only here

    mlflow.sklearn.save_model(model, str(out / "mlflow"), serialization_format="pickle")
    payload = {"rows": rows, "expected": model.predict(X[:2]).tolist()}
    (out / "payload.json").write_text(json.dumps(payload))
    print(f"saved model and payload under {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
