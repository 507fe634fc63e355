"""Write ``04-deploy-an-existing-model.ipynb`` from the cells below (outputs cleared; see ``_build.py`` for the conventions).

Run ``python notebooks/_build_existing_model.py`` after changing a cell here, then
``pytest tests/notebooks/test_existing_model_tutorial.py`` (nbval executes the notebook).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from _cells import Cells

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "04-deploy-an-existing-model.ipynb"
CELLS = Cells()
md, code = CELLS.md, CELLS.code


md("""
# Deploy a model trained elsewhere

A model often arrives as a folder of files from someone else's training job: here a text
vectorizer, a classifier and a label encoder (and a notes file the service does not need). This
notebook

1. makes such a folder (trained here on a tiny text sample, standing in for "elsewhere"),
2. registers the folder as **one** model, keeping only the files the service needs (`child_paths`),
3. describes the service's packages in a conda YAML file (`Environment.from_conda_specification`),
4. deploys it with an `InferenceConfig` (on the process target: no Docker needed),
5. and calls it from a small client that prints the status code, the elapsed time and the JSON.
""")

code("""
import json, time
from pathlib import Path

import joblib
import requests
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import LabelEncoder

from jupyter_mldeploy import Environment, InferenceConfig, Model, ProcessWebservice

texts = ["great product, works well", "love it, excellent quality", "fantastic, would buy again",
         "really good value", "terrible, broke after a day", "awful quality, do not buy",
         "waste of money, very bad", "poor and disappointing"]
labels = ["positive"] * 4 + ["negative"] * 4

folder = Path("sentiment-model")
folder.mkdir(exist_ok=True)
encoder = LabelEncoder().fit(labels)
vectorizer = TfidfVectorizer().fit(texts)
classifier = LogisticRegression().fit(vectorizer.transform(texts), encoder.transform(labels))
joblib.dump(vectorizer, folder / "vectorizer.joblib")
joblib.dump(classifier, folder / "classifier.joblib")
joblib.dump(encoder, folder / "labels.joblib")
(folder / "training-notes.txt").write_text("trained on 8 sentences; not needed to serve\\n")
print(sorted(p.name for p in folder.iterdir()))
""", expect="['classifier.joblib', 'labels.joblib', 'training-notes.txt', 'vectorizer.joblib']\n")

md("""
## Register the folder as one model

`child_paths` names the files to keep (relative to the folder); each is stored with its sha256.
""")

code("""
model = Model.register(str(folder), model_name="sentiment",
                       child_paths=["vectorizer.joblib", "classifier.joblib", "labels.joblib"],
                       tags={"task": "sentiment"}, description="tf-idf + logistic regression")
stored = Path(Model.get_model_path("sentiment"))
print(model.name, model.version, sorted(p.name for p in stored.rglob("*.joblib")), list(stored.rglob("*.txt")))
""", expect="sentiment 1 ['classifier.joblib', 'labels.joblib', 'vectorizer.joblib'] []\n")

md("""
## The environment, from a conda YAML file

The file Azure ML v1 projects keep next to their entry script. Its pip packages go into a cached
virtualenv for the service (conda-only packages are mapped to pip names, or named in an error).
""")

code("""
Path("sentiment-app").mkdir(exist_ok=True)
Path("sentiment-app/myenv.yml").write_text('''
name: project_environment
dependencies:
  - python=3.11
  - pip
  - pip:
    - scikit-learn
    - joblib
''')
env = Environment.from_conda_specification(name="sentiment-env", file_path="sentiment-app/myenv.yml")
print(env.name, sorted(env.python.conda_dependencies.pip_packages))
""")

md("""
## The entry script and the inference config

`Model.get_model_path("sentiment")` finds the model's files inside the deployment, as it did in
Azure ML; the three files are loaded once in `init()`.
""")

code("""
%%writefile sentiment-app/score.py
import json, os

import joblib
from azureml.core.model import Model


def init():
    global vectorizer, classifier, encoder
    path = Model.get_model_path("sentiment")
    vectorizer = joblib.load(os.path.join(path, "vectorizer.joblib"))
    classifier = joblib.load(os.path.join(path, "classifier.joblib"))
    encoder = joblib.load(os.path.join(path, "labels.joblib"))


def run(raw_data):
    texts = json.loads(raw_data)["texts"]
    scores = classifier.predict_proba(vectorizer.transform(texts)).max(axis=1)
    names = encoder.inverse_transform(classifier.predict(vectorizer.transform(texts)))
    return [{"text": t, "label": str(n), "score": round(float(s), 3)} for t, n, s in zip(texts, names, scores)]
""")

code("""
inference_config = InferenceConfig(entry_script="score.py", source_directory="sentiment-app", environment=env)
service = Model.deploy("sentiment", [model], inference_config,
                       ProcessWebservice.deploy_configuration(), overwrite=True)
service.wait_for_deployment(show_output=True)
print(service.state)
""")

md("""
## A request/response client

Any HTTP client works; this one prints what you check first when a call goes wrong.
""")

code("""
def call(uri, payload):
    started = time.perf_counter()
    response = requests.post(uri, json=payload, timeout=30)
    print("status:", response.status_code, f"| elapsed: {(time.perf_counter() - started) * 1000:.1f} ms")
    print(json.dumps(response.json(), indent=1))
    return response

answer = call(service.scoring_uri, {"texts": ["excellent, works great", "bad and broke, awful"]})
print("labels:", [item["label"] for item in answer.json()])
""")

md("A malformed request gets a clear 4xx or 5xx answer with the reason, and the service keeps serving:")

code("""
bad = call(service.scoring_uri, {"sentences": ["no 'texts' key"]})
print("still serving:", requests.post(service.scoring_uri, json={"texts": ["good"]}, timeout=30).status_code)
""")

code("""
service.delete()
from jupyter_mldeploy import Webservice
print("services left:", Webservice.list())
""", expect="services left: []\n")


if __name__ == "__main__":
    from _build import build  # the same cell conventions and metadata as the first tutorial

    nbformat.write(build(CELLS), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
