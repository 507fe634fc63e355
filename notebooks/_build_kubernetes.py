"""Write ``02-kubernetes.ipynb`` from the cells below (outputs cleared; see ``_build.py`` for the conventions).

Run ``python notebooks/_build_kubernetes.py`` after changing a cell here, then
``pytest tests/notebooks/test_kubernetes_tutorial.py`` (nbval executes the notebook).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from _cells import Cells

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "02-kubernetes.ipynb"
CELLS = Cells()
md, code = CELLS.md, CELLS.code


md("""
# Scale out on Kubernetes

The same `Model.deploy` call as on your machine, onto a cluster, autoscaled: what Azure ML v1's
`AksWebservice` did, on any Kubernetes (kind, k3s, AKS, EKS, GKE, on-premises). This notebook

1. registers a small model and writes its entry script,
2. renders the Kubernetes objects a deployment would apply, **without a cluster**, and reviews them,
3. sizes the replicas from a load test of the model served locally,
4. and, only when a cluster is configured (`KUBECONFIG`), deploys it and watches it scale.

Steps 1-3 run anywhere; step 4 says it skipped, and how to configure a cluster, when there is none.
See [docs/kubernetes.md](../docs/kubernetes.md) for kind, k3s and AKS, and the AKS v1 knob mapping.
""")

code("""
%load_ext jupyter_mldeploy
import json, os
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import Ridge

from jupyter_mldeploy import InferenceConfig, KubernetesWebservice, Model, ProcessWebservice

rng = np.random.default_rng(0)
X = rng.normal(size=(200, 3))
y = X @ np.array([1.5, -2.0, 0.5]) + 3.0
Path("k8s-model").mkdir(exist_ok=True)
joblib.dump(Ridge(alpha=0.1).fit(X, y), "k8s-model/model.joblib")
model = Model.register("k8s-model/model.joblib", model_name="k8s-ridge", tags={"tutorial": "kubernetes"})
print(model.id)
""")

md("The entry script is a plain Azure ML v1 one: `init()` loads the model, `run()` scores.")

code("""
%%score_script k8s-app/score.py
import json, os
import joblib

def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib"))

def run(raw_data):
    return model.predict(json.loads(raw_data)["data"]).tolist()
""")

md("""
## Render and review the manifests (no cluster needed)

`KubernetesWebservice.deploy_configuration` takes AKS v1's knobs with v1's defaults; a bad value
is an error here, before anything reaches a cluster. `render_service` makes the objects that
`Model.deploy` would apply for this request.
""")

code("""
from jupyter_mldeploy.deploy.k8s import plan_replicas, render_service

inference_config = InferenceConfig("score.py", source_directory="k8s-app")
config = KubernetesWebservice.deploy_configuration(
    autoscale_min_replicas=1, autoscale_max_replicas=4, autoscale_target_utilization=70,
    cpu_cores=0.25, memory_gb=0.5, image_repository="127.0.0.1:5000/models")
rendered = render_service("k8s-ridge", [model], inference_config, config)
for obj in rendered.objects:
    print(obj["kind"], obj["metadata"]["name"])
""")

code("""
deployment = next(o for o in rendered.objects if o["kind"] == "Deployment")
container = deployment["spec"]["template"]["spec"]["containers"][0]
print("image:    ", container["image"])
print("resources:", container["resources"])
print("readiness:", container["readinessProbe"]["httpGet"]["path"], "| liveness:", container["livenessProbe"]["httpGet"]["path"])
print("runs as:  ", container["securityContext"]["runAsUser"], "read-only root:", container["securityContext"]["readOnlyRootFilesystem"])
print("model dir:", next(e["value"] for e in container["env"] if e["name"] == "AZUREML_MODEL_DIR"))
hpa = next(o for o in rendered.objects if o["kind"] == "HorizontalPodAutoscaler")
print("autoscaler:", hpa["spec"]["minReplicas"], "-", hpa["spec"]["maxReplicas"], "replicas on CPU",
      hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], "%")
""")

md("""
The YAML is what you would commit for GitOps (`kubectl apply -f`); its header says what only a
deployment knows (the pushed image's digest, the keys' Secret). The command line writes the same:
`mldeploy k8s render k8s-ridge --model k8s-ridge --entry-script k8s-app/score.py --autoscale-max 4 -o k8s-ridge.yaml`.
""")

code("""
import subprocess, sys

subprocess.run([sys.executable, "-m", "jupyter_mldeploy", "k8s", "render", "k8s-ridge", "--model", "k8s-ridge",
                "--entry-script", "k8s-app/score.py", "--autoscale-max", "4", "--cpu-cores", "0.25",
                "-o", "k8s-ridge.yaml"], check=True)
print(Path("k8s-ridge.yaml").read_text()[:1500])
""")

md("""
## Plan the replicas

Azure's AKS sizing rule is `replicas = ceil(target_rps * request_seconds / (max_concurrent_requests * target_utilization))`,
with the utilisation as a fraction (70 → 0.7). Azure's own example, 20 requests per second of 10 s each:
""")

code("""
print(plan_replicas(20, 10).explain().splitlines()[2])
""", expect="         = ceil(285.7) = 286\n")

md("Better: measure the latency. Serve the model locally, load-test it, and plan from what was measured.")

code("""
from jupyter_mldeploy.client.loadtest import load_test

local = Model.deploy("k8s-ridge-local", [model], inference_config, ProcessWebservice.deploy_configuration())
local.wait_for_deployment()
result = load_test(local, {"data": X[:2].tolist()}, requests=200, concurrency=2)
print(f"{result.ok} ok, p50 {result.ok_p50 * 1000:.2f} ms")
plan = plan_replicas(200, load_test=result, max_replicas=4)
print(plan.explain())
""")

code("""
suggested = plan.deploy_configuration_kwargs()
print(suggested)
config = KubernetesWebservice.deploy_configuration(**{**suggested, "cpu_cores": 0.25,
                                                      "image_repository": "127.0.0.1:5000/models"})
local.delete()
""")

md("""
## Deploy and watch it scale (only with a cluster)

This part runs when `KUBECONFIG` names a cluster that answers, and a registry the cluster pulls from
is set in `MLDEPLOY_IMAGE_REPOSITORY` (for example a registry on `127.0.0.1:5000`). The autoscaler
needs the cluster's metrics API (metrics-server). Otherwise it says it skipped.
""")

code("""
from jupyter_mldeploy.deploy.k8s.cluster import cluster_configured, connect
from jupyter_mldeploy.errors import MLDeployError

live = False
if os.environ.get("KUBECONFIG") and cluster_configured() and os.environ.get("MLDEPLOY_IMAGE_REPOSITORY"):
    try:
        print("cluster answers: Kubernetes", connect().version())
        live = True
    except MLDeployError as err:
        print("the cluster does not answer:", str(err).splitlines()[0])
if not live:
    print("No cluster configured: skipped the live part (deploy, watch it scale, delete).")
    print("To run it: point KUBECONFIG at a cluster (kind create cluster; k3s; az aks get-credentials ...),")
    print("set MLDEPLOY_IMAGE_REPOSITORY to a registry it pulls from, and run the notebook again.")
""")

code("""
import time

if live:
    config = KubernetesWebservice.deploy_configuration(
        **{**suggested, "cpu_cores": 0.25, "image_repository": os.environ["MLDEPLOY_IMAGE_REPOSITORY"]})
    service = Model.deploy("k8s-ridge", [model], inference_config, config, overwrite=True)
    service.wait_for_deployment(show_output=True)
    print(service.run(json.dumps({"data": X[:2].tolist()})))
    for _ in range(6):  # watch for a minute (a longer load test makes the autoscaler add replicas)
        load_test(service, {"data": X[:2].tolist()}, requests=300, concurrency=4, deadline_s=10)
        print(service.scale_status().line())
        time.sleep(5)
    service.delete()
""")


if __name__ == "__main__":
    from _build import build  # the same cell conventions and metadata as the first tutorial

    nbformat.write(build(CELLS), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
