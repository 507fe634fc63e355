"""Write ``06-schemas-and-raw-http.ipynb`` from the cells below (outputs cleared; see ``_build.py`` for the conventions).

Run ``python notebooks/_build_schemas.py`` after changing a cell here, then
``pytest tests/notebooks/test_schemas_tutorial.py`` (nbval executes the notebook).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from _cells import Cells

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "06-schemas-and-raw-http.ipynb"
CELLS = Cells()
md, code = CELLS.md, CELLS.code


md("""
# Schemas and raw HTTP

Two ways to write `run()`:

1. with **inference-schema** decorators, the service parses and checks the JSON for you, publishes
   the input and output in its `swagger.json`, and answers bad input with a typed 4xx error;
2. with **`@rawhttp`**, `run(request)` gets the whole HTTP request (here an uploaded image, and
   `GET` requests) and returns any response.

Both run on the process target (this notebook's Python; no Docker needed).
""")

code("""
import io, json
from pathlib import Path

import joblib
import numpy as np
import requests
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from jupyter_mldeploy import InferenceConfig, Model, ProcessWebservice

digits = load_digits()
clf = LogisticRegression(max_iter=2000).fit(digits.data, digits.target)
Path("schema-model").mkdir(exist_ok=True)
joblib.dump(clf, "schema-model/digits.joblib")
model = Model.register("schema-model/digits.joblib", model_name="schema-digits")
Path("schema-app").mkdir(exist_ok=True)
print(model.id)
""", expect="schema-digits:1\n")

md("""
## An entry script with a schema

`input_schema("data", NumpyParameterType(example))` says: `data` is an array shaped like the
example (any number of rows of 64 pixels). `run()` gets a numpy array, already checked.
""")

code("""
%%writefile schema-app/score.py
import os

import joblib
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "digits.joblib"))


@input_schema("data", NumpyParameterType(np.zeros((1, 64))))
@output_schema(StandardPythonParameterType({"digits": [0]}))
def run(data):
    return {"digits": model.predict(data).tolist()}
""")

code("""
config = ProcessWebservice.deploy_configuration()
service = Model.deploy("schema-digits", [model], InferenceConfig("score.py", source_directory="schema-app"),
                       config, overwrite=True)
service.wait_for_deployment()
print(service.run({"data": digits.data[:3].tolist()}), "true:", digits.target[:3].tolist())
""", expect="{'digits': [0, 1, 2]} true: [0, 1, 2]\n")

md("The service publishes the schema as OpenAPI (Swagger 2.0), with the example as the sample input:")

code("""
swagger = requests.get(service.swagger_uri, timeout=30).json()
body = swagger["definitions"]["ServiceInput"]["properties"]["data"]
print(swagger["swagger"], "| input data:", body["type"], "of", body["items"]["type"], "of", body["items"]["items"]["type"])
print("paths:", sorted(swagger["paths"]))
""")

md("""
Bad input gets a typed error naming what is wrong, with a 4xx status, and the service keeps serving:
a body that is not JSON, a missing input, and rows of the wrong width.
""")

code("""
for body in (b"not json", json.dumps({"pixels": [[0] * 64]}).encode(), json.dumps({"data": [[0] * 10]}).encode()):
    answer = requests.post(service.scoring_uri, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    error = answer.json()["error"]
    print(answer.status_code, error["code"], "|", error["message"].splitlines()[0][:90])
print("still serving:", requests.post(service.scoring_uri, json={"data": digits.data[:1].tolist()}, timeout=30).json())
""")

code("""
service.delete()
""")

md("""
## A raw HTTP entry script: upload an image

With `@rawhttp`, `run(request)` gets an `AMLRequest` (it behaves like Flask's request: `method`,
`files`, `args`, `headers`, `get_data()`, ...) and returns an `AMLResponse` (or any JSON value).
This script answers `GET` with how to call it, and `POST` with a digit read from an uploaded image.
""")

code("""
%%writefile schema-app/score_image.py
import io, json, os

import joblib
import numpy as np
from PIL import Image
from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "digits.joblib"))


@rawhttp
def run(request):
    if request.method == "GET":
        return AMLResponse("POST an image as the form field 'image' (multipart/form-data)", 200)
    if request.method != "POST":
        return AMLResponse(f"{request.method} is not supported", 405)
    upload = request.files.get("image")
    if upload is None:
        return AMLResponse(json.dumps({"error": "no 'image' file in the form"}), 400,
                           {"Content-Type": "application/json"})
    image = Image.open(io.BytesIO(upload.read())).convert("L").resize((8, 8))
    pixels = np.asarray(image, dtype=float) / 255 * 16  # the scale of sklearn's digits
    digit = int(model.predict(pixels.reshape(1, -1))[0])
    body = {"file": upload.filename, "size": list(image.size), "digit": digit}
    return AMLResponse(json.dumps(body), 200, {"Content-Type": "application/json"})
""")

code("""
image_service = Model.deploy("digits-upload", [model],
                             InferenceConfig("score_image.py", source_directory="schema-app"), config, overwrite=True)
image_service.wait_for_deployment()
print(requests.get(image_service.scoring_uri, timeout=30).text)
""", expect="POST an image as the form field 'image' (multipart/form-data)\n")

md("Make a PNG of a digit from the data set (8x8 pixels, scaled up to 64x64) and upload it:")

code("""
def png_of(index):
    pixels = (digits.images[index] / 16 * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((64, 64), Image.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()

for index in (3, 7):
    answer = requests.post(image_service.scoring_uri, files={"image": (f"digit-{index}.png", png_of(index), "image/png")},
                           timeout=30)
    print(answer.status_code, answer.headers["content-type"], answer.json(), "true:", digits.target[index])
""")

code("""
missing = requests.post(image_service.scoring_uri, data={"other": "field"}, timeout=30)
print(missing.status_code, missing.json())
image_service.delete()
from jupyter_mldeploy import Webservice
print("services left:", Webservice.list())
""", expect="400 {'error': \"no 'image' file in the form\"}\nservices left: []\n")


if __name__ == "__main__":
    from _build import build  # the same cell conventions and metadata as the first tutorial

    nbformat.write(build(CELLS), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
