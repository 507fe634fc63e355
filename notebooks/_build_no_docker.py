"""Write ``07-without-docker.ipynb`` from the cells below (outputs cleared; see ``_build.py`` for the conventions).

Run ``python notebooks/_build_no_docker.py`` after changing a cell here, then
``pytest tests/notebooks/test_no_docker_tutorial.py`` (nbval executes the notebook with
Docker made unreachable: ``DOCKER_HOST`` points at a socket that does not exist).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from _cells import Cells

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "07-without-docker.ipynb"
CELLS = Cells()
md, code = CELLS.md, CELLS.code


md("""
# Without Docker: the process target

No Docker engine on this machine (a locked-down laptop, a CI runner, a notebook server)? Every
deployment step still works: the **process target** runs the scoring server as a local process,
from a virtualenv built for the service. This notebook is the Docker tutorial (03) for such a
machine, and shows what is different:

1. what `mldeploy doctor` says, and which target a deployment picks, and why;
2. a digit classifier trained on scikit-learn's bundled digits, registered, its entry script tried
   with `%%score_script --test`;
3. the service's **own environment** (a cached uv virtualenv, not this kernel's packages) and its
   **isolation** (its own process, a clean set of environment variables);
4. calls with `requests` at `service.scoring_uri` and with `service.run`, the logs;
5. an edit of the script **swapped into the running process** (no restart), the test panel, delete.

Nothing here talks to Docker: the test of this notebook runs it with `DOCKER_HOST` pointing at a
socket that does not exist.
""")

md("""
## What this machine offers

`mldeploy doctor` checks each part (here run from the notebook with the kernel's Python); Docker is
optional. Without an
engine, a deployment with no deployment configuration picks the process target and says why
(`choose_target()` is that rule):
""")

code("""
%load_ext jupyter_mldeploy
import sys

!{sys.executable} -m jupyter_mldeploy doctor
""")

code("""
from jupyter_mldeploy.deploy import choose_target

choice = choose_target()
print(choice.target.__name__, "|", choice.reason.split(" (")[0])
""")

md("""
## Train, register, try the entry script

The same model as in the Docker tutorial: a logistic regression on the 8x8 digits that ship with
scikit-learn, registered in the local registry (`MLDEPLOY_HOME`).
""")

code("""
import json, os, sys
from pathlib import Path

import joblib
import requests
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from jupyter_mldeploy import Environment, InferenceConfig, Model, ProcessWebservice, Webservice

digits = load_digits()
X, y = digits.data, digits.target
clf = LogisticRegression(max_iter=2000).fit(X[:1500], y[:1500])
Path("nodocker-model").mkdir(exist_ok=True)
joblib.dump(clf, "nodocker-model/digits.joblib")
model = Model.register("nodocker-model/digits.joblib", model_name="digits-nodocker")
print(model.name, model.version, f"| held-out accuracy: {clf.score(X[1500:], y[1500:]):.2f}")
""")

code("""
Path("nodocker-app").mkdir(exist_ok=True)
sample = {"data": X[1500:1504].tolist()}
Path("sample.json").write_text(json.dumps(sample))
expected = clf.predict(X[1500:1504]).tolist()
print("predicted in the notebook:", expected)
""")

md("""
`init()` prints which Python runs it, its process id, and whether it sees a variable set in this
kernel: the answers show the service's isolation below.
""")

code("""
%%score_script nodocker-app/score.py --model digits-nodocker --test-file sample.json
import json, os, sys
import joblib

def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "digits.joblib"))
    print(f"init() in pid {os.getpid()}; python {sys.prefix}; sees TUTORIAL_NOTE: {'TUTORIAL_NOTE' in os.environ}")

def run(raw_data):
    return model.predict(json.loads(raw_data)["data"]).tolist()
""")

md("""
## The service's environment

Without Docker, the environment is a **virtualenv** built with uv from the requirements (here pinned
to this kernel's versions, so the pickled model loads), plus the scoring server. It is cached by
what it installs: the next deployment with the same requirements reuses it at once. (With no
`environment=`, the process target uses this kernel's Python instead, as tutorial 01 does.)
""")

code("""
import sklearn

Path("nodocker-app/requirements.txt").write_text(f"scikit-learn=={sklearn.__version__}\\njoblib=={joblib.__version__}\\n")
env = Environment.from_pip_requirements("digits-nodocker-env", "nodocker-app/requirements.txt")
build = env.build_local()
print("a virtualenv of its own:", build.path != Path(sys.prefix), "| its python:", build.python.name)
""")

md("""
## Deploy on the process target

`ProcessWebservice.deploy_configuration()` names the target (here it is also what the automatic
choice above picks). The server listens on `127.0.0.1` only; the kernel's own environment variables
stay out of it (list what the script needs in `environment_variables=`).
""")

code("""
os.environ["TUTORIAL_NOTE"] = "set in the notebook's kernel"
inference_config = InferenceConfig(entry_script="score.py", source_directory="nodocker-app", environment=env)
deployment_config = ProcessWebservice.deploy_configuration()
service = Model.deploy("digits-nodocker", [model], inference_config, deployment_config, overwrite=True)
service.wait_for_deployment(show_output=True)
print(service.state, "at", service.scoring_uri)
""")

code("""
response = requests.post(service.scoring_uri, json=sample, timeout=30)
print(response.status_code, response.json(), "| as predicted in the notebook:", response.json() == expected)
answer = service.run(json.dumps(sample))
print("service.run:", answer, answer == expected)
""")

md("`init()`'s line in the log: the service's Python is the virtualenv's, and it did not see `TUTORIAL_NOTE`:")

code("""
import re

log = service.get_logs()
init_line = next(line for line in log.splitlines() if "init() in pid" in line)
first_pid = re.search(r"pid (\\d+)", init_line).group(1)
print("python is the environment's:", f"python {build.path}" in init_line,
      "| sees TUTORIAL_NOTE:", init_line.rsplit(": ", 1)[1])
print(f"init() ran in pid {first_pid}")
""")

md("""
## Edit the script, update without a restart

A change of code alone is **swapped into the running server**: the new script is loaded and its
`init()` run in the same worker process, the port stays, and if the new code failed, the old one
would keep serving. (`%%score_script` on the same file does this by itself for every service that
runs it; here the file is written with `%%writefile` and the update is explicit.) This version
answers with each digit's probability too:
""")

code("""
%%writefile nodocker-app/score.py
import json, os, sys
import joblib

def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "digits.joblib"))
    print(f"init() in pid {os.getpid()} (v2)")

def run(raw_data):
    data = json.loads(raw_data)["data"]
    return {"digits": model.predict(data).tolist(), "probability": model.predict_proba(data).max(axis=1).round(3).tolist()}
""")

code("""
service.update(inference_config=inference_config)
updated = service.run(json.dumps(sample))
second_pid = re.search(r"init\\(\\) in pid (\\d+) \\(v2\\)", service.get_logs()).group(1)
print(sorted(updated), updated["digits"] == expected, "| same process, no restart:", second_pid == first_pid)
""", expect="['digits', 'probability'] True | same process, no restart: True\n")

md("""
## The test panel

`TestRequestPanel(service)`: a JSON editor, **Send**, the answer's status, latency and body, and a
load-test tab. Pressed from code here, with one digit:
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

`service.delete()` stops the server process and frees its port; the environment stays cached for the
next deployment.
""")

code("""
port = service.port
service.delete()
print("services left:", Webservice.list())
""", expect="services left: []\n")


if __name__ == "__main__":
    from _build import build  # the same cell conventions and metadata as the first tutorial

    nbformat.write(build(CELLS), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
