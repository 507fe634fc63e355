"""The main job as a newcomer sees it: train, register, list, serve and score a model locally.

Run it with ``scripts/demo`` (which installs what it needs first). It uses the
registry at ``MLDEPLOY_HOME`` (default ``~/.mldeploy``); running it again
registers the next version of the same model.
"""

from __future__ import annotations

import json
import tempfile
import textwrap
import time
from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from jupyter_mldeploy import Model, ScoringServer
from jupyter_mldeploy._config import mldeploy_home

SCORE_PY = textwrap.dedent(
    """
    import json, os
    import joblib

    def init():
        global model
        # AZUREML_MODEL_DIR is the registered model's folder, as in Azure ML
        model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib"))

    def run(raw_data):
        data = json.loads(raw_data)["data"]
        return model.predict(data).tolist()
    """
)


def main() -> None:
    print(f"registry: {mldeploy_home()}")
    with tempfile.TemporaryDirectory(prefix="mldeploy-demo-") as tmp:
        work = Path(tmp)
        X, y = load_diabetes(return_X_y=True)
        model_dir = work / "model"
        model_dir.mkdir()
        joblib.dump(Ridge(alpha=1.0).fit(X, y), model_dir / "model.joblib")

        # 1. register (a new version each run) ...
        model = Model.register(
            model_path=str(model_dir),
            model_name="diabetes-ridge",
            tags={"framework": "sklearn", "demo": "true"},
            description="Ridge regression on sklearn's diabetes data",
            model_framework="ScikitLearn",
        )
        print(f"\nregistered {model!r}")

        # 2. ... list what the registry holds ...
        print("\nModel.list(name='diabetes-ridge'):")
        for m in Model.list(name="diabetes-ridge")[:5]:
            print(f"  {m.id:<22} {m.created_time:%Y-%m-%d %H:%M:%S}  tags={m.tags}")

        # 3. ... and serve it with an Azure ML v1 entry script, then score two rows.
        downloaded = Path(model.download(str(work / "azureml-models" / model.name / str(model.version))))
        script = work / "score.py"
        script.write_text(SCORE_PY)
        started = time.perf_counter()
        with ScoringServer(script, model_dir=downloaded, port=0) as server:
            server.wait_ready(timeout=60)
            ready_s = time.perf_counter() - started
            payload = {"data": X[:2].tolist()}
            result = server.client().score(payload)
            print(f"\nscoring server ready in {ready_s:.1f} s at {server.scoring_uri}")
            print(f"POST {json.dumps(payload)[:60]}...  ->  {result}")
        print("\nserver stopped. Next: `mldeploy models list`, `mldeploy doctor`, `mldeploy serve --help`.")


if __name__ == "__main__":
    main()
