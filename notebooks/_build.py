"""Write ``01-deploy-from-a-notebook.ipynb`` from the cells below (outputs cleared).

The committed notebook is the source of truth; this script is a convenience for
editing it as plain Python. Run ``python notebooks/_build.py`` after changing a
cell here, then run ``pytest tests/notebooks`` (nbval executes the notebook).

Cells marked ``# NBVAL_CHECK_OUTPUT`` keep their expected output (given here as
``expect=``): nbval compares the fresh run's output with it. Every other cell is
stored without outputs and only has to run without error (``--nbval-lax``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "01-deploy-from-a-notebook.ipynb"

SAMPLE = "[[0.0381, 0.0507, 0.0617, 0.0219, -0.0442, -0.0348, -0.0434, -0.0026, 0.0199, -0.0176]]"

CELLS: list[tuple[str, str, str | None]] = []


def md(text: str) -> None:
    CELLS.append(("markdown", text.strip("\n"), None))


def _landed(module: str) -> bool:
    """Whether ``jupyter_mldeploy/widgets/MODULE.py`` is committed (a file in the tree when git is missing)."""
    path = HERE.parent / "jupyter_mldeploy" / "widgets" / f"{module}.py"
    try:
        tracked = subprocess.run(
            ["git", "ls-files", "--error-unmatch", str(path)],
            cwd=HERE,
            capture_output=True,
            check=False,
        )
    except OSError:
        return path.is_file()
    return tracked.returncode == 0


def panel(module: str, source: str, expect: str | None = None) -> None:
    """A cell using a panel from ``jupyter_mldeploy/widgets/MODULE.py``; a note while that module is missing."""
    if _landed(module):
        code(source, expect)
    else:
        md(
            f"> *This panel (`jupyter_mldeploy.widgets.{module}`) is not in this version yet; the cell will be:*\n"
            f"> ```python\n> " + source.strip("\n").replace("\n", "\n> ") + "\n> ```"
        )


def code(source: str, expect: str | None = None) -> None:
    """A code cell; ``expect`` (stdout text) makes it a checked cell (``# NBVAL_CHECK_OUTPUT``)."""
    source = source.strip("\n")
    if expect is not None:
        source = "# NBVAL_CHECK_OUTPUT\n" + source
    CELLS.append(("code", source, expect))


# --------------------------------------------------------------------------------------------

md(
    """
# Deploy a model from a notebook

This tutorial takes a scikit-learn model from training to a running web service, on
your machine, without a cloud account. If you have used **Azure ML v1**
(`Model.register`, an entry script with `init()` / `run()`, `Model.deploy`,
`LocalWebservice`), the code will look familiar: the names and call shapes are the
same, and the entry script runs unchanged.

You will:

1. train a model and save it with `joblib`;
2. **register** it in the local model registry (`Model.register`, `%mldeploy register`);
3. **browse** the registry (`RegistryBrowser`, a `Model` showing itself);
4. write and try the **entry script** (`%%score_script --test`);
5. **deploy** it as a local web service (`%deploy_local`) and watch the deployment panel;
6. **call** it (`service.run`, `%mldeploy test`, the `TestRequestPanel` with a small load test);
7. **edit** the script and see the running service reload without a rebuild;
8. read the **logs** and list the **services**;
9. deploy the Azure ML v1 way (`InferenceConfig` + `Model.deploy`);
10. **package** it as a Dockerfile and build context (no Docker needed);
11. **clean up**.

Everything stays on this machine: the registry lives under `MLDEPLOY_HOME`
(default `~/.mldeploy`), services listen on `127.0.0.1` only, and the files this
notebook writes go to the current folder.
"""
)

md(
    """
## 1. Load the extension

`%load_ext jupyter_mldeploy` adds three magics: `%%score_script`, `%deploy_local` and
`%mldeploy`. Each one documents itself (`%deploy_local?`). They are thin shells over
the Python API, so anything shown here also works from a plain script.
"""
)

code(
    """
%load_ext jupyter_mldeploy
"""
)

md(
    """
## 2. Train a model and save it

The diabetes data set ships with scikit-learn (no download): ten standardised
measurements per patient, and the disease progression one year later. A ridge
regression is enough for this tour. `joblib.dump` writes the file we will register,
exactly as you would before `Model.register` in Azure ML.
"""
)

code(
    """
import joblib
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

X, y = load_diabetes(return_X_y=True)
ridge = Ridge(alpha=0.1).fit(X, y)
joblib.dump(ridge, "diabetes-ridge.pkl")
r2 = ridge.score(X, y)
print(f"R^2 on the training data: {r2:.3f}; first row: {X[0].round(4).tolist()}")
"""
)

md(
    """
A model file only loads with the library versions it was saved with, so write them
down now. A Docker deployment or a package installs exactly these (the process target
below simply uses this notebook's Python):
"""
)

code(
    """
from pathlib import Path

import sklearn

Path("requirements.txt").write_text(f"scikit-learn=={sklearn.__version__}\\njoblib=={joblib.__version__}\\n")
print(Path("requirements.txt").read_text())
"""
)

md(
    """
## 3. Register it

`Model.register` copies the file into the local registry and gives it a version:
the first registration of a name is version 1. Tags and properties are searchable
metadata, as in Azure ML.
"""
)

code(
    """
from jupyter_mldeploy import Model

model = Model.register(
    model_path="diabetes-ridge.pkl",
    model_name="diabetes-ridge",
    tags={"algorithm": "ridge", "data": "diabetes"},
    properties={"r2": f"{r2:.3f}"},
    description="Ridge regression of diabetes progression after one year",
)
print(model.id)
""",
    expect="diabetes-ridge:1\n",
)

md(
    """
The `%mldeploy` magic runs the `mldeploy` command line. Registering the same file
again under the same name makes version 2, here with a `stage=dev` tag:
"""
)

code(
    """
%mldeploy register diabetes-ridge.pkl --name diabetes-ridge --tag stage=dev
"""
)

code(
    """
print([m.version for m in Model.list(name="diabetes-ridge")])
print(Model.get("diabetes-ridge").tags)
""",
    expect="[2, 1]\n{'stage': 'dev'}\n",
)

code(
    """
%mldeploy models
"""
)

md(
    """
## 4. Browse the registry

`RegistryBrowser()` lists the models and their versions; pick a version to see its
tags, properties and files, filter by name or tag, or start a deployment with its
**Deploy** button. A `Model` object shows itself as the same browser, opened on that
version (in a terminal it prints as one line).
"""
)

panel(
    "registry_browser",
    """
from jupyter_mldeploy.widgets import RegistryBrowser

RegistryBrowser()
""",
)

code(
    """
Model.get("diabetes-ridge", version=1)  # a Model shows itself as a browser opened on it
"""
)

md(
    """
## 5. Write the entry script

A deployment runs an Azure ML v1 **entry script**: `init()` loads the model once,
`run()` answers each request. `AZUREML_MODEL_DIR` points at the deployed models, as in
Azure ML. The `inference_schema` decorators declare the input and output, so the
service converts the JSON body to a numpy array for `run()`, rejects malformed
requests with a clear 4xx answer, and publishes an example in its `swagger.json`.

`%%score_script PATH` writes the cell to `PATH` (like `%%writefile`) and checks it in
a fresh Python process. With `--model` and `--test` it also runs `init()` and one
request through `run()` exactly as the service will, before anything is deployed.
We keep the script in its own folder, `src/`: that folder is what a deployment or
an image gets (Azure ML's `source_directory`).
"""
)

code(
    """
Path("src").mkdir(exist_ok=True)
"""
)

code(
    f"""
%%score_script src/score.py --model diabetes-ridge --test '{{"data": {SAMPLE}}}'
import os

import joblib
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    global model
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "diabetes-ridge.pkl")
    model = joblib.load(path)
    print("loaded", path)


@input_schema("data", NumpyParameterType(np.array({SAMPLE})))
@output_schema(NumpyParameterType(np.array([206.1])))
def run(data):
    return model.predict(data)
"""
)

md(
    """
## 6. Deploy it

`%deploy_local NAME --model ... --entry-script ...` deploys the registered model with
the entry script and waits until the service answers. It shows the deployment panel:
the state, each phase with its time, the live log and a link to `swagger.json`.
The service is the magic's value, so `service = %deploy_local ...` keeps it;
`--overwrite` replaces a service of the same name (from an earlier run of this notebook).

`--target process` runs the scoring server as a local process with this notebook's
Python: it works on any machine and starts in about a second plus your `init()`.
"""
)

code(
    """
service = %deploy_local tut-diabetes --model diabetes-ridge --entry-script src/score.py --target process --overwrite
"""
)

md(
    """
**With Docker instead.** `--target docker` (or `LocalWebservice.deploy_configuration()`
from Python, the Azure ML v1 name) builds an image from a base image, the wheels of an
environment, the models and `src/`, and runs it as a container published on
`127.0.0.1` only. Two differences from the process target:

* the container does not see this notebook's packages: it installs the ones in
  `requirements.txt` (written in step 2), passed with `--env`;
* it needs a Docker engine and takes longer the first time: about a minute for this
  model on a 2-core machine, mostly installing scikit-learn into the image (the wheels
  are resolved on this machine, so the build itself needs no network). Later edits of
  `src/` still reload without a rebuild: the folder is mounted.

```python
service = %deploy_local tut-diabetes --model diabetes-ridge --entry-script src/score.py \\
    --env requirements.txt --target docker
```

Without `--target`, `%deploy_local` picks Docker when an engine and the base image are
there, else a process. Displaying a service shows this panel again
(`DeploymentPanel(service)` from `jupyter_mldeploy.widgets` is the same); it refreshes
itself until it is closed or the service is deleted.
"""
)

md(
    """
## 7. Call it

`service.run(...)` sends a request and returns the parsed answer (as Azure ML's
`Webservice.run`). The deployed model answers exactly like the one in memory:
"""
)

code(
    """
answer = service.run({"data": X[:3].tolist()})
print(np.round(answer, 1))
""",
)

code(
    """
print(np.allclose(answer, ridge.predict(X[:3])))
""",
    expect="True\n",
)

md(
    """
Any HTTP client works too: the service is a plain JSON API at `service.scoring_uri`.
`%mldeploy test NAME JSON` is the quickest way from a notebook:
"""
)

code(
    f"""
print(service.scoring_uri)
%mldeploy test tut-diabetes '{{"data": {SAMPLE}}}'
"""
)

md(
    """
A request that does not match the schema gets a 4xx answer saying what is wrong
(here: 3 values where the model needs 10), never a bare 500:
"""
)

code(
    """
from jupyter_mldeploy.errors import ScoringRequestError

try:
    service.run({"data": [[1.0, 2.0, 3.0]]})
except ScoringRequestError as err:
    print(err.status, err.body["error"]["code"])
""",
    expect="422 SchemaValidation\n",
)

md(
    """
### The test-request panel

`TestRequestPanel(service)` has a JSON editor prefilled from the swagger example,
**Send**, the answer's status, latency, headers and body, a history you can replay,
and a **Load test** tab. Every button can be driven from code as well: here we press
*Send* and run a small load test, so this notebook shows real answers.
"""
)

panel(
    "test_request",
    """
from jupyter_mldeploy.widgets import TestRequestPanel

panel = TestRequestPanel(service)
panel
""",
)

panel(
    "test_request",
    """
panel.send_button.click()  # what pressing Send does; the panel above shows the answer
panel.wait()
print(panel.last_response.status, f"in {panel.last_response.latency_ms:.1f} ms:", panel.last_response.body.decode())
""",
)

md(
    """
The **Load test** tab sends N requests at concurrency C and shows p50/p95/p99, errors
by status and a latency histogram. Here 200 requests from 4 workers
(`jupyter_mldeploy.client.loadtest.load_test(service, body, requests, concurrency)`
is the same without the panel, and `mldeploy loadtest` from a terminal):
"""
)

panel(
    "test_request",
    """
panel.lt_requests.value, panel.lt_concurrency.value = 200, 4
panel.tabs.selected_index = 2  # show the Load test tab
panel.run_button.click()
panel.wait()
result = panel.last_load_test
print(f"{result.throughput:.0f} requests/s; p50 {result.p50 * 1000:.1f} ms, p95 {result.p95 * 1000:.1f} ms")
""",
)

panel(
    "test_request",
    """
print(result.sent, "sent, errors by status:", result.errors_by_status)
""",
    expect="200 sent, errors by status: {}\n",
)

md(
    """
## 8. Edit the script: the service reloads

Run `%%score_script` again on the same file and every healthy service running that
file reloads in place: `init()` runs on the new code, the port stays, nothing is
rebuilt. If the new script fails its check, the service keeps serving the old code.
This version answers with rounded predictions in a JSON object (and says so in its
output schema, which `swagger.json` publishes):
"""
)

code(
    f"""
%%score_script src/score.py
import os

import joblib
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    global model
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "diabetes-ridge.pkl")
    model = joblib.load(path)
    print("loaded", path)


@input_schema("data", NumpyParameterType(np.array({SAMPLE})))
@output_schema(StandardPythonParameterType({{"predictions": [206.1], "unit": "progression score"}}))
def run(data):
    return {{"predictions": model.predict(data).round(1).tolist(), "unit": "progression score"}}
"""
)

code(
    """
reloaded = service.run({"data": X[:3].tolist()})
print(sorted(reloaded), reloaded["predictions"] == np.round(ridge.predict(X[:3]), 1).tolist())
""",
    expect="['predictions', 'unit'] True\n",
)

md(
    """
## 9. Logs and services

What `init()` printed, each request (`access` lines with status and time) and each
reload are in the service's log:
"""
)

code(
    """
%mldeploy logs tut-diabetes --tail 8
"""
)

code(
    """
log = service.get_logs()
print(log.count("POST /score"), "scoring requests logged so far")
"""
)

md(
    """
## 10. The Azure ML v1 way: `InferenceConfig` and `Model.deploy`

The magics are shortcuts. This is the code an Azure ML v1 notebook has, and it runs
here as it is, except for the deployment configuration (`ProcessWebservice` here,
`LocalWebservice` for Docker); a workspace passed first, as in
`Model.deploy(ws, ...)`, is accepted and ignored. A `Webservice` shows itself as its
deployment panel.
"""
)

code(
    """
from jupyter_mldeploy import InferenceConfig, ProcessWebservice

inference_config = InferenceConfig(entry_script="score.py", source_directory="src")
deployment_config = ProcessWebservice.deploy_configuration()
py_service = Model.deploy(
    "tut-diabetes-py", [model], inference_config, deployment_config, overwrite=True
)
py_service.wait_for_deployment(show_output=False)
print(py_service.state, py_service.run({"data": X[:1].tolist()})["unit"])
""",
    expect="Healthy progression score\n",
)

code(
    """
py_service  # a Webservice shows itself as its deployment panel
"""
)

code(
    """
%mldeploy services
"""
)

md(
    """
## 11. Package it

A package is the image a Docker deployment runs, without running it. With
`--dockerfile-only DIR` nothing is built and no Docker engine is needed: you get a
Dockerfile and its complete build context: the models, `src/`, and the wheels of the
packages in `requirements.txt` plus the scoring server's, resolved on this machine for
the image's Python. It builds offline anywhere with `docker build`.
"""
)

code(
    """
import shutil

shutil.rmtree("diabetes-image", ignore_errors=True)  # --dockerfile-only wants a new folder
%mldeploy package --model diabetes-ridge --entry-script src/score.py --env requirements.txt --dockerfile-only diabetes-image
"""
)

code(
    """
print((Path("diabetes-image") / "Dockerfile").is_file())
""",
    expect="True\n",
)

md(
    """
From Python it is `Model.package` (Azure ML v1's call), with the environment given
as an `Environment` in the `InferenceConfig`. A `ModelPackage` shows its phases and
build output as a panel. (Without `generate_dockerfile=True` it builds the image with
Docker; `package.location` is then the tag to `docker run`.)
"""
)

code(
    """
from jupyter_mldeploy import Environment

env = Environment.from_pip_requirements("diabetes-env", "requirements.txt")
package_config = InferenceConfig(entry_script="score.py", source_directory="src", environment=env)
package = Model.package([model], package_config, generate_dockerfile=True)
package.wait_for_creation(show_output=False)
package
"""
)

md(
    """
## 12. Clean up

Delete the services (stops their processes and frees their ports) and the package's
staging copy. `%mldeploy delete NAME` and `service.delete()` do the same thing.
"""
)

code(
    """
%mldeploy delete tut-diabetes
py_service.delete()
package.delete()
"""
)

code(
    """
from jupyter_mldeploy import Webservice

print(Webservice.list())
""",
    expect="[]\n",
)

md(
    """
## Next

* `docs/notebook.md`: every magic and option.
* `docs/panels-registry.md`, `docs/panels-deployment.md`, `docs/panels-test-request.md`:
  the panels, button by button.
* `docs/entry-scripts.md`: what entry scripts can do (schemas, `@rawhttp`, binary answers).
* `docs/deployments.md` and `docs/docker.md`: the process and Docker targets, environments.
"""
)


def build(source_cells: list[tuple[str, str, str | None]] | None = None) -> nbformat.NotebookNode:
    """The notebook of ``source_cells`` (default: this tutorial's): outputs cleared, except checked cells' expected output."""
    cells = []
    count = 0
    for kind, source, expect in CELLS if source_cells is None else source_cells:
        if kind == "markdown":
            cells.append(new_markdown_cell(source))
            continue
        cell = new_code_cell(source)
        if expect is not None:  # nbval compares only cells that were "run" and have outputs
            count += 1
            cell.execution_count = count
            cell.outputs = [new_output("stream", name="stdout", text=expect)]
        cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
        cell["id"] = f"cell-{i:02d}"
    nbformat.validate(nb)
    return nb


if __name__ == "__main__":
    nbformat.write(build(), NOTEBOOK)
    print(
        f"wrote {NOTEBOOK.relative_to(Path.cwd()) if NOTEBOOK.is_relative_to(Path.cwd()) else NOTEBOOK}",
        file=sys.stderr,
    )
