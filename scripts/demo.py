"""The main job as a newcomer sees it: train, register, list, deploy and score a model locally.

Run it with ``scripts/demo`` (which installs what it needs first). It uses the
registry at ``MLDEPLOY_HOME`` (default ``~/.mldeploy``); running it again
registers the next version of the same model and redeploys the service.
The service keeps running afterwards: ``mldeploy services``, ``mldeploy score``,
``mldeploy delete diabetes-ridge``.
"""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from jupyter_mldeploy import InferenceConfig, Model, ProcessWebservice
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
    home = mldeploy_home()
    print(f"registry: {home}")
    with tempfile.TemporaryDirectory(prefix="mldeploy-demo-") as tmp:
        work = Path(tmp)
        X, y = load_diabetes(return_X_y=True)
        joblib.dump(Ridge(alpha=1.0).fit(X, y), work / "model.joblib")

        # 1. register (a new version each run) ...
        model = Model.register(
            model_path=str(work / "model.joblib"),
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

    # 3. ... and deploy it with an Azure ML v1 entry script as a local web service.
    app = home / "demo-app"
    app.mkdir(exist_ok=True)
    (app / "score.py").write_text(SCORE_PY)
    print("\ndeploying (local process target, no Docker needed):")
    service = Model.deploy(
        "diabetes-ridge",
        [model],
        InferenceConfig(entry_script="score.py", source_directory=str(app)),
        ProcessWebservice.deploy_configuration(),
        overwrite=True,
    )
    service.wait_for_deployment(show_output=True)
    payload = {"data": X[:2].tolist()}
    result = service.run(json.dumps(payload))
    print(f"\nservice.run({json.dumps(payload)[:48]}...)  ->  {result}")
    print(
        f"\nThe service keeps running at {service.scoring_uri}. Try:\n"
        f"  curl -s -H 'Content-Type: application/json' -d '{{\"data\": [[0,0,0,0,0,0,0,0,0,0]]}}' {service.scoring_uri}\n"
        "  source .venv/bin/activate   # puts the mldeploy command on PATH\n"
        "  mldeploy services | mldeploy logs diabetes-ridge | mldeploy delete diabetes-ridge"
    )


if __name__ == "__main__":
    main()
