"""Write ``03-deploy-locally-docker.ipynb`` from the cells below (outputs cleared; see ``_build.py`` for the conventions).

Run ``python notebooks/_build_docker.py`` after changing a cell here, then
``pytest tests/notebooks/test_docker_tutorial.py`` (nbval executes the notebook against
the real Docker engine).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from _cells import Cells

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "03-deploy-locally-docker.ipynb"
CELLS = Cells()
md, code = CELLS.md, CELLS.code


md("""
# Deploy locally in Docker

Azure ML v1's `LocalWebservice` ran a model in a Docker container on your machine; here it does
the same, with no workspace and no login. This notebook

1. trains a scikit-learn digit classifier on the digits that ship with scikit-learn and registers it,
2. writes the entry script and tries it before deploying (`%%score_script --test`),
3. deploys it to a Docker container (`LocalWebservice`) and calls it with `requests` and `service.run`,
4. reads the container's logs, edits the script and updates the running service **without a rebuild**,
5. sends requests from the test panel, and deletes the service and its image.

It needs a Docker engine (`docker info` answers). Without one, deploy with
`ProcessWebservice.deploy_configuration()` instead: the rest of the code is the same.
""")

code("""
%load_ext jupyter_mldeploy
import json
from pathlib import Path

import joblib
import numpy as np
import requests
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from jupyter_mldeploy import InferenceConfig, LocalWebservice, Model

digits = load_digits()
X, y = digits.data, digits.target
clf = LogisticRegression(max_iter=2000).fit(X[:1500], y[:1500])
print(f"held-out accuracy: {clf.score(X[1500:], y[1500:]):.2f}")
""")

md("Register the model: the local registry (`MLDEPLOY_HOME`, default `~/.mldeploy`) keeps each version with its files' sha256.")

code("""
Path("digits-model").mkdir(exist_ok=True)
joblib.dump(clf, "digits-model/digits.joblib")
model = Model.register("digits-model/digits.joblib", model_name="digits", tags={"data": "sklearn digits"})
print(model.name, model.version)
""", expect="digits 1\n")

md("""
## The entry script, tried before deploying

`init()` loads the model once; `run()` answers each request. `--model digits --test-file sample.json`
runs `init()` and one request through `run()` in a fresh process, exactly as the container will.
""")

code("""
Path("digits-app").mkdir(exist_ok=True)
sample = {"data": X[1500:1503].tolist()}
Path("sample.json").write_text(json.dumps(sample))
expected = clf.predict(X[1500:1503]).tolist()
print("predicted here:", expected, "| true labels:", y[1500:1503].tolist())
""")

code("""
%%score_script digits-app/score.py --model digits --test-file sample.json
import json, os
import joblib

def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "digits.joblib"))
    print("digits model loaded")

def run(raw_data):
    return model.predict(json.loads(raw_data)["data"]).tolist()
""")

md("""
## Deploy to Docker

`LocalWebservice.deploy_configuration()` picks a free port on `127.0.0.1` (give `port=6789` as v1
did, if it is free). The environment lists the packages `score.py` imports (a `requirements.txt`
here; a conda YAML works too); the first deployment builds an image with them, offline from the
cached wheels. `wait_for_deployment(show_output=True)` shows each phase.
""")

code("""
from jupyter_mldeploy import Environment

Path("digits-app/requirements.txt").write_text("scikit-learn\\njoblib\\n")
env = Environment.from_pip_requirements("digits-env", "digits-app/requirements.txt")
inference_config = InferenceConfig(entry_script="score.py", source_directory="digits-app", environment=env)
deployment_config = LocalWebservice.deploy_configuration()
service = Model.deploy("digits-docker", [model], inference_config, deployment_config, overwrite=True)
service.wait_for_deployment(show_output=True)
print(service.state, "at", service.scoring_uri)
""")

md("Call it with `requests`, as any client would, and with `service.run`:")

code("""
response = requests.post(service.scoring_uri, json=sample, timeout=30)
print(response.status_code, response.json())
print("as predicted in the notebook:", response.json() == expected)
""")

code("""
answer = service.run(json.dumps(sample))
print("service.run:", answer, answer == expected)
""")

md("The container's log has what `init()` printed and one `access` line per request:")

code("""
log = service.get_logs()
print("digits model loaded" in log, log.count("POST /score"), "scoring requests logged")
""")

md("""
## Edit the script and update the running service, without a rebuild

Running `%%score_script` again on the same file reloads every healthy service that runs it: the
container gets the new code and runs `init()` again; the image is not rebuilt (only a change of
packages or models needs that). `service.update(inference_config=...)` does the same from code.
This version answers with the probability of each predicted digit as well:
""")

code("""
import docker
from jupyter_mldeploy.deploy.docker import image_tag

engine = docker.from_env()
image_before = engine.images.get(image_tag(service.name)).id
""")

code("""
%%score_script digits-app/score.py
import json, os
import joblib

def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "digits.joblib"))
    print("digits model loaded (v2)")

def run(raw_data):
    data = json.loads(raw_data)["data"]
    probabilities = model.predict_proba(data).max(axis=1)
    return {"digits": model.predict(data).tolist(), "probability": probabilities.round(3).tolist()}
""")

code("""
service.update(inference_config=inference_config)
updated = service.run(json.dumps(sample))
print(sorted(updated), updated["digits"] == expected)
print("same image, no rebuild:", engine.images.get(image_tag(service.name)).id == image_before)
""", expect="['digits', 'probability'] True\nsame image, no rebuild: True\n")

md("""
## The test panel

`TestRequestPanel(service)` has a JSON editor, **Send**, the answer's status, latency and body, and a
load-test tab. Its buttons can be pressed from code too: here *Send* with one digit.
""")

code("""
from jupyter_mldeploy.widgets import TestRequestPanel

panel = TestRequestPanel(service, sample={"data": X[1500:1501].tolist()})
panel
""")

code("""
panel.send_button.click()
panel.wait()
print(panel.last_response.status, panel.last_response.body.decode())
""")

md("""
## Delete

`service.delete()` stops and removes the container; `delete_image=True` removes its image too, so
nothing of this notebook is left in Docker.
""")

code("""
service.delete(delete_image=True)
engine.close()
from jupyter_mldeploy import Webservice
print("services left:", Webservice.list())
""", expect="services left: []\n")


if __name__ == "__main__":
    from _build import build  # the same cell conventions and metadata as the first tutorial

    nbformat.write(build(CELLS), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
