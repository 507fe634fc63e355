"""Write ``08-azureml-v1-code.ipynb`` from the cells below (outputs cleared; see ``_build.py`` for the conventions).

Run ``python notebooks/_build_azureml_v1.py`` after changing a cell here, then
``pytest tests/notebooks/test_azureml_v1_tutorial.py`` (nbval executes the notebook against
the real Docker engine: ``LocalWebservice`` is a container, ``Model.package`` an image).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from _cells import Cells

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "08-azureml-v1-code.ipynb"
CELLS = Cells()
md, code = CELLS.md, CELLS.code


md("""
# Azure ML v1 code, imports changed only

Azure ML SDK v1 is out of support, and its local deployment never ran without a cloud workspace
anyway. This notebook is written the way Azure's v1 guides and sample notebooks write it
(*register a model, deploy it locally, test it, update it, package it, delete it*), and runs here,
on this machine, with no Azure subscription, no login and no network.

## The only lines changed

```diff
-from azureml.core import Workspace, Environment
-from azureml.core.model import Model, InferenceConfig
-from azureml.core.webservice import LocalWebservice, Webservice
-from azureml.core.conda_dependencies import CondaDependencies
+from jupyter_mldeploy.azureml import Workspace, Environment, Model, InferenceConfig
+from jupyter_mldeploy.azureml import LocalWebservice, Webservice, CondaDependencies
```

Everything else below is v1 code. Two cells are this notebook's own and say so: the first makes the
model file the guides download (here trained on scikit-learn's bundled diabetes data) and picks port
6789 when it is free (the Docker engine may be shared); the last removes the images Docker keeps.
`LocalWebservice` is a Docker container, as in v1, so this notebook needs a Docker engine
(tutorial 07 is the same flow without one). `docs/azureml-v1.md` has the full migration table.
""")

code("""
import json

import numpy as np
import requests

# from azureml.core import Workspace, Environment
# from azureml.core.model import Model, InferenceConfig
# from azureml.core.webservice import LocalWebservice, Webservice
# from azureml.core.conda_dependencies import CondaDependencies
from jupyter_mldeploy.azureml import Workspace, Environment, Model, InferenceConfig
from jupyter_mldeploy.azureml import LocalWebservice, Webservice, CondaDependencies
""")

md("**This notebook's own setup** (not v1 code): the model file, and a port.")

code("""
import joblib
import sklearn
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from jupyter_mldeploy._net import free_port, port_is_free

X, y = load_diabetes(return_X_y=True)
joblib.dump(Ridge(alpha=0.1).fit(X, y), "sklearn_regression_model.pkl")
port = 6789 if port_is_free(6789) else free_port()
""")

md("""
## Workspace

`Workspace.from_config()` reads `.azureml/config.json` when there is one; here there is none, and the
workspace is the local registry (`MLDEPLOY_HOME`).
""")

code("""
ws = Workspace.from_config()
print(ws.name, ws.resource_group, ws.location, ws.subscription_id, sep="\\n")
""", expect="local\nlocal\nlocal\nlocal\n")

md("## Register the model")

code("""
model = Model.register(model_path="sklearn_regression_model.pkl",
                       model_name="sklearn_regression_model",
                       tags={"area": "diabetes", "type": "regression"},
                       description="Ridge regression model to predict diabetes",
                       workspace=ws)
print(model.name, model.version, model.tags)
""", expect="sklearn_regression_model 1 {'area': 'diabetes', 'type': 'regression'}\n")

md("## The entry script")

code("""
import os
os.makedirs("source_dir", exist_ok=True)
""")

code("""
%%writefile source_dir/score.py
import joblib
import json
import numpy as np
import os

from inference_schema.schema_decorators import input_schema, output_schema
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType


def init():
    global model
    # AZUREML_MODEL_DIR is an environment variable created during deployment.
    # It is the path to the model folder (./azureml-models/$MODEL_NAME/$VERSION)
    model_path = os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_regression_model.pkl")
    # deserialize the model file back into a sklearn model
    model = joblib.load(model_path)
    print("Init complete")


input_sample = np.array([[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]])
output_sample = np.array([3726.995])


@input_schema("data", NumpyParameterType(input_sample))
@output_schema(NumpyParameterType(output_sample))
def run(data):
    try:
        result = model.predict(data)
        # you can return any datatype as long as it is JSON-serializable
        return result.tolist()
    except Exception as e:
        error = str(e)
        return error
""")

md("""
## Environment and inference configuration

`azureml-defaults` is Azure's serving stack: here the scoring server replaces it, so it is left out
of the image. The other packages go into the container's image, installed from wheels resolved on
this machine (the image build needs no network).
""")

code("""
environment = Environment("my-sklearn-environment")
environment.python.conda_dependencies = CondaDependencies.create(pip_packages=[
    "azureml-defaults",
    "inference-schema[numpy-support]",
    "joblib",
    "numpy",
    "scikit-learn=={}".format(sklearn.__version__),
])
inference_config = InferenceConfig(entry_script="score.py",
                                   source_directory="source_dir",
                                   environment=environment)
""")

md("## Deploy locally")

code("""
deployment_config = LocalWebservice.deploy_configuration(port=port)
local_service = Model.deploy(ws, "v1-tutorial-local", [model], inference_config, deployment_config)
local_service.wait_for_deployment(show_output=True)
print(local_service.state)
print("Scoring URI is : {}".format(local_service.scoring_uri))
""")

md("## Test it")

code("""
sample_input = json.dumps({
    "data": [
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    ]
})
sample_input = bytes(sample_input, encoding="utf-8")
prediction = local_service.run(input_data=sample_input)
print(prediction)
""")

code("""
headers = {"Content-Type": "application/json"}
response = requests.post(local_service.scoring_uri, data=sample_input, headers=headers)
print(response.status_code, response.json() == prediction)
print("the model's own predictions:", np.allclose(prediction, joblib.load("sklearn_regression_model.pkl").predict(
    json.loads(sample_input)["data"])))
""", expect="200 True\nthe model's own predictions: True\n")

code("""
print(local_service.get_logs())
""")

md("""
## Update the service

Edit the entry script (here: round the predictions and answer with an object), then `reload()` (the
running container gets the new code, no rebuild);
`update(...)` takes new models, an inference configuration or a deployment configuration.
""")

code("""
from pathlib import Path

score = Path("source_dir/score.py")
score.write_text(score.read_text()
                 .replace('print("Init complete")', 'print("Init complete (updated)")')
                 .replace("return result.tolist()", 'return {"predictions": np.round(result, 2).tolist()}'))
""")

code("""
local_service.reload()
print(local_service.run(input_data=sample_input) == {"predictions": np.round(prediction, 2).tolist()})
""", expect="True\n")

code("""
local_service.update(models=[model], inference_config=inference_config)
print(local_service.state, "Init complete (updated)" in local_service.get_logs())
""", expect="Healthy True\n")

md("""
## Package the model

`Model.package` builds the image the service runs, without running it. In v1 it went to the
workspace's container registry and `pull()` fetched it; here the image is local already, and
`pull()` says so and returns its tag. Run it as v1's guide does, `docker run -p 6789:5001 IMAGE`
(on `127.0.0.1`, and on another port while the service above still holds 6789).
""")

code("""
package = Model.package(ws, [model], inference_config, image_name="mldeploy-tutorial/v1-package")
package.wait_for_creation(show_output=True)
image = package.pull()
print(image)
""")

code("""
import subprocess, time

image_port = free_port()
container = subprocess.run(["docker", "run", "-d", "--rm", "-p", f"127.0.0.1:{image_port}:5001", image],
                           check=True, capture_output=True, text=True).stdout.strip()
uri = f"http://127.0.0.1:{image_port}/score"
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        answer = requests.post(uri, data=sample_input, headers=headers, timeout=10)
        if answer.status_code != 503:  # 503 while init() runs
            break
    except requests.ConnectionError:  # the server in the container is still starting
        pass
    time.sleep(0.5)
print(answer.status_code, answer.json() == {"predictions": np.round(prediction, 2).tolist()})
stopped = subprocess.run(["docker", "stop", container], check=True, capture_output=True)
""", expect="200 True\n")

md("## Delete the service")

code("""
local_service.delete()
print(Webservice.list(ws))
""", expect="[]\n")

md("""
**This notebook's own cleanup** (not v1 code): Docker keeps the images after `delete()`, as it did
with v1; remove the package's and the service's (`mldeploy/service-NAME`; `delete(delete_image=True)`
does it in one go).
""")

code("""
for ref in (image, "mldeploy/service-v1-tutorial-local"):
    subprocess.run(["docker", "rmi", "-f", ref], check=True, capture_output=True)
left = subprocess.run(["docker", "images", "-q", "mldeploy-tutorial/v1-package"], capture_output=True, text=True)
print("images left:", left.stdout.split())
""", expect="images left: []\n")


if __name__ == "__main__":
    from _build import build  # the same cell conventions and metadata as the first tutorial

    nbformat.write(build(CELLS), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
