"""Write ``05-package-a-model.ipynb`` from the cells below (outputs cleared; see ``_build.py`` for the conventions).

Run ``python notebooks/_build_package.py`` after changing a cell here, then
``pytest tests/notebooks/test_package_tutorial.py`` (nbval executes the notebook against
the real Docker engine).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from _cells import Cells

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "05-package-a-model.ipynb"
CELLS = Cells()
md, code = CELLS.md, CELLS.code


md("""
# Package a model as a Docker image

`Model.package` turns a model, its entry script and its environment into a Docker image that
serves it anywhere Docker runs, as Azure ML v1 did, but built locally. This notebook

1. packages a small model to an image and runs it,
2. packages it again as a **Dockerfile and build context** (`generate_dockerfile=True`), saves the
   files (`package.save`), looks at them, and builds and runs them with the `docker` command,
3. calls each container with a client, and removes the containers and images it made.

The build context is complete: `docker build` needs no network (the wheels are in it).
""")

code("""
import json, subprocess, time
from pathlib import Path

import joblib
import numpy as np
import requests
from sklearn.linear_model import Ridge

from jupyter_mldeploy import Environment, InferenceConfig, Model
from jupyter_mldeploy._net import free_port

rng = np.random.default_rng(0)
X = rng.normal(size=(100, 2))
y = X @ np.array([2.0, -1.0]) + 0.5
Path("ridge-model").mkdir(exist_ok=True)
joblib.dump(Ridge(alpha=1e-3).fit(X, y), "ridge-model/ridge.joblib")
model = Model.register("ridge-model/ridge.joblib", model_name="pkg-ridge")

Path("pkg-app").mkdir(exist_ok=True)
Path("pkg-app/score.py").write_text('''
import json, os
import joblib

def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "ridge.joblib"))

def run(raw_data):
    return model.predict(json.loads(raw_data)["data"]).round(2).tolist()
''')
Path("pkg-app/requirements.txt").write_text("scikit-learn\\njoblib\\n")
env = Environment.from_pip_requirements("pkg-env", "pkg-app/requirements.txt")
inference_config = InferenceConfig(entry_script="score.py", source_directory="pkg-app", environment=env)
expected = np.round(np.array([[1.0, 2.0]]) @ np.array([2.0, -1.0]) + 0.5, 2).tolist()
print("expected answer:", expected)
""", expect="expected answer: [0.5]\n")

md("""
## Package to an image

`image_name` without `image_label` versions the image as v1 did: `name:1`, then `name:2`, ...
""")

code("""
package = Model.package([model], inference_config, image_name="mldeploy-tutorial/pkg-ridge")
package.wait_for_creation(show_output=True)
print("image:", package.location)
""")

md("""
Run it as Azure's guides do, `docker run -p 127.0.0.1:6789:5001 IMAGE` (here on a free port, the
engine may be shared): the scoring server listens on 5001 in the container.
""")

code("""
def wait_ready(port, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet
            pass
        time.sleep(0.5)
    raise TimeoutError(f"nothing answered on port {port}")

def client(port):
    response = requests.post(f"http://127.0.0.1:{port}/score", json={"data": [[1.0, 2.0]]}, timeout=30)
    print(response.status_code, response.json(), response.json() == expected)

port = free_port()
container = subprocess.run(["docker", "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:5001", package.location],
                           check=True, capture_output=True, text=True).stdout.strip()
wait_ready(port)
client(port)
stopped = subprocess.run(["docker", "stop", container], check=True, capture_output=True)
""", expect="200 [0.5] True\n")

md("""
## A Dockerfile and its build context

With `generate_dockerfile=True` nothing is built: `package.save(folder)` writes the Dockerfile, the
entry script, the model files (under `azureml-models/NAME/VERSION`) and the wheels of the environment.
""")

code("""
dockerfile_package = Model.package([model], inference_config, generate_dockerfile=True)
dockerfile_package.wait_for_creation(show_output=True)
dockerfile_package.save("pkg-ridge-image")
files = sorted(str(p.relative_to("pkg-ridge-image")) for p in Path("pkg-ridge-image").rglob("*")
               if p.is_file() and p.suffix != ".whl")
print("\\n".join(files))
print(len(list(Path("pkg-ridge-image").rglob("*.whl"))), "wheels")
""")

code("""
print("\\n".join(line for line in Path("pkg-ridge-image/Dockerfile").read_text().splitlines() if line.startswith("FROM")))
""")

md("Build it with `docker build` (offline: `--network none`), run it, call it, stop it:")

code("""
built = subprocess.run(["docker", "build", "--network", "none", "-q", "-t", "mldeploy-tutorial/pkg-ridge:saved",
                        "pkg-ridge-image"], capture_output=True, text=True)
print("docker build:", "ok" if built.returncode == 0 else built.stderr[-2000:])
port = free_port()
container = subprocess.run(["docker", "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:5001",
                            "mldeploy-tutorial/pkg-ridge:saved"], check=True, capture_output=True, text=True).stdout.strip()
wait_ready(port)
client(port)
stopped = subprocess.run(["docker", "stop", container], check=True, capture_output=True)
""", expect="docker build: ok\n200 [0.5] True\n")

md("Clean up: remove both images (the containers were started with `--rm`).")

code("""
for image in (package.location, "mldeploy-tutorial/pkg-ridge:saved"):
    subprocess.run(["docker", "rmi", "-f", image], check=True, capture_output=True)
left = subprocess.run(["docker", "images", "-q", "mldeploy-tutorial/pkg-ridge"], capture_output=True, text=True)
print("images left:", left.stdout.split())
""", expect="images left: []\n")


if __name__ == "__main__":
    from _build import build  # the same cell conventions and metadata as the first tutorial

    nbformat.write(build(CELLS), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
