"""``mldeploy k8s render | status | logs | plan`` and ``mldeploy deploy --target kubernetes``, through the console script.

No cluster here (KUBECONFIG names a missing file, HOME has no ~/.kube): render and plan need
none; deploy, status and logs say so in one line, and how to render instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from jupyter_mldeploy import Model

MLDEPLOY = str(Path(sys.executable).with_name("mldeploy"))


@pytest.fixture
def no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return os.environ.copy()


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MLDEPLOY, *args], capture_output=True, text=True, input=stdin, timeout=180, env=env)


def test_render_writes_valid_manifests_with_the_knobs_given(
    no_cluster: dict[str, str], app_dir: Path, k_model: Model, tmp_path: Path
) -> None:
    out_file = tmp_path / "ridge.yaml"
    out = _cli(no_cluster, "k8s", "render", "ridge", "--model", "k", "--entry-script", str(app_dir / "score.py"),
               "--image", "127.0.0.1:5000/m/ridge:1", "--namespace", "models", "--autoscale-min", "2",
               "--autoscale-max", "6", "--cpu-cores", "0.25", "--memory-gb", "1", "--service-type", "NodePort",
               "--node-port", "30123", "--node-selector", "kubernetes.io/os=linux", "--include-keys",
               "-o", str(out_file))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"wrote {out_file}: Secret/ridge-keys, Deployment/ridge, Service/ridge, "
                                 "HorizontalPodAutoscaler/ridge, PodDisruptionBudget/ridge")
    docs = {d["kind"]: d for d in yaml.safe_load_all(out_file.read_text()) if d}
    for obj in docs.values():
        kubernetes_validate.validate(obj, "1.37.0", strict=True)
        assert obj["metadata"]["namespace"] == "models"
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "127.0.0.1:5000/m/ridge:1"
    assert pod["containers"][0]["resources"]["requests"] == {"cpu": "250m", "memory": "1024Mi"}
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert docs["Service"]["spec"]["ports"][0]["nodePort"] == 30123
    assert (docs["HorizontalPodAutoscaler"]["spec"]["minReplicas"],
            docs["HorizontalPodAutoscaler"]["spec"]["maxReplicas"]) == (2, 6)


def test_render_to_stdout_with_fixed_replicas_and_no_auth(no_cluster: dict[str, str], app_dir: Path,
                                                          k_model: Model) -> None:
    out = _cli(no_cluster, "k8s", "render", "ridge", "--model", "k", "--entry-script", str(app_dir / "score.py"),
               "--replicas", "3", "--no-auth")
    assert out.returncode == 0, out.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(out.stdout) if d]
    assert kinds == ["Deployment", "Service", "PodDisruptionBudget"]  # no autoscaler, no Secret
    assert "is a placeholder" in out.stdout.split("---")[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("k8s", "render", "Ridge_1", "--model", "k"), "is not a name Kubernetes accepts"),
        (("k8s", "render", "ridge", "--model", "k", "--autoscale-min", "5", "--autoscale-max", "2"),
         "autoscale_min_replicas=5 is more than autoscale_max_replicas=2"),
        (("k8s", "render", "ridge", "--model", "k", "--cpu-cores", "0"), "cpu_cores must be a number above zero"),
        (("k8s", "render", "ridge", "--model", "k", "--node-port", "30001"), "node_port=30001 needs service_type"),
        (("k8s", "render", "ridge", "--model", "k", "--node-selector", "linux"), "bad --node-selector 'linux': write KEY=VALUE"),
        (("deploy", "kube", "--model", "k", "--target", "kubernetes", "--image-repository", "127.0.0.1:5000/m"),
         "no Kubernetes cluster is configured"),
        (("deploy", "proc", "--model", "k", "--target", "process", "--namespace", "models"),
         "namespace: not a setting of the process target"),
        (("k8s", "plan", "--rps", "20"), "give the seconds one request takes"),
        (("k8s", "plan", "--rps", "20", "--latency-ms", "50", "--target-utilization", "0"), "from 1 to 100"),
    ],
)
def test_bad_input_is_one_line_with_what_to_do(no_cluster: dict[str, str], app_dir: Path, k_model: Model,
                                               args: tuple[str, ...], message: str) -> None:
    script = () if args[1] == "plan" else ("--entry-script", str(app_dir / "score.py"))
    out = _cli(no_cluster, *args, *script)
    assert out.returncode == 1, out.stdout
    assert out.stderr.startswith("mldeploy: error: ") and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_deploy_without_a_cluster_says_how_to_render_and_keeps_the_name_free(
    no_cluster: dict[str, str], app_dir: Path, k_model: Model
) -> None:
    out = _cli(no_cluster, "deploy", "kube", "--model", "k", "--entry-script", str(app_dir / "score.py"),
               "--target", "kubernetes", "--image-repository", "127.0.0.1:5000/m", "--quiet")
    assert out.returncode == 1
    assert "`mldeploy k8s render`" in out.stderr and "docs/kubernetes.md" in out.stderr, out.stderr
    assert "no services" in _cli(no_cluster, "services").stdout


def test_status_and_logs_refuse_a_service_of_another_target(no_cluster: dict[str, str], app_dir: Path,
                                                            k_model: Model) -> None:
    out = _cli(no_cluster, "deploy", "proc", "--model", "k", "--entry-script", str(app_dir / "score.py"),
               "--target", "process", "--quiet")
    assert out.returncode == 0, out.stderr
    for command in ("status", "logs"):
        out = _cli(no_cluster, "k8s", command, "proc")
        assert out.returncode == 1
        assert "runs on the process target, not on Kubernetes" in out.stderr, out.stderr
    assert "no service named 'ghost'" in _cli(no_cluster, "k8s", "status", "ghost").stderr


def test_plan_from_the_json_of_a_load_test(no_cluster: dict[str, str], app_dir: Path, k_model: Model,
                                           tmp_path: Path) -> None:
    out = _cli(no_cluster, "deploy", "lt", "--model", "k", "--entry-script", str(app_dir / "score.py"),
               "--target", "process", "--quiet")
    assert out.returncode == 0, out.stderr
    measured = _cli(no_cluster, "loadtest", "lt", '{"data": [1]}', "-n", "40", "-c", "2", "--json")
    assert measured.returncode == 0, measured.stderr
    (tmp_path / "lt.json").write_text(measured.stdout)
    p95_ms = json.loads(measured.stdout)["ok_latency_ms"]["p95"]
    out = _cli(no_cluster, "k8s", "plan", "--rps", "5000", "--loadtest", str(tmp_path / "lt.json"),
               "--latency", "p95", "--json")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["request_seconds"] == pytest.approx(p95_ms / 1000)
    assert plan["needed"] == max(1, -(-round(5000 * p95_ms / 1000 / 0.7, 9) // 1))
    assert "p95 of 40 2xx answers" in plan["latency_source"]
    text = _cli(no_cluster, "k8s", "plan", "--rps", "20", "--latency-ms", "100", "--autoscale-max", "2").stdout
    assert "ceil(20 * 0.1 / (1 * 0.7))" in text and "= 3" in text
    assert "autoscale_max_replicas is 2: raise it to 3" in text
    assert "suggested:   --autoscale-min 1 --autoscale-max 3" in text
    out = _cli(no_cluster, "k8s", "plan", "--rps", "20", "--loadtest", "-", stdin="not json")
    assert out.returncode == 1 and "not JSON" in out.stderr
