"""``az ml``'s inference and deployment configuration files: read by the core, deployed by ``mldeploy deploy --ic --dc``.

The files are written as az ml users have them (JSON, or YAML), in a folder other than
the current one (paths inside are relative to the file's folder). Bad files give one-line
errors naming the file, the key and what to do; the CLI is checked end to end on the
process target (fast) and, marked ``docker``, on LOCAL's Docker container.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests

from jupyter_mldeploy import ProcessWebservice
from jupyter_mldeploy._net import free_port
from jupyter_mldeploy.azureml import (
    InferenceConfig,
    Model,
    Webservice,
    deployment_config_from_file,
    inference_config_from_file,
)
from jupyter_mldeploy.azureml import _notes
from jupyter_mldeploy.cli import main
from jupyter_mldeploy.deploy.docker import DockerDeploymentConfiguration
from jupyter_mldeploy.deploy.k8s.config import KubernetesDeploymentConfiguration
from jupyter_mldeploy.errors import EntryScriptError, InvalidArgumentError

SCORE = textwrap.dedent(
    """
    import json, os

    def init():
        global k
        k = int(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())

    def run(data):
        return {"k": k, "sum": k + sum(json.loads(data)["data"])}
    """
)
CONDA = "name: project_environment\ndependencies:\n  - python=3.11\n  - pip\n"


@pytest.fixture(autouse=True)
def _fresh_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_notes, "_said", set())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """configs/ holds the files; configs/src the script and the conda file; the current folder is elsewhere."""
    folder = tmp_path / "configs"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "score.py").write_text(SCORE)
    (folder / "src" / "myenv.yml").write_text(CONDA)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return folder


def write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=4))
    return path


# --- inference config ---------------------------------------------------------------------------


def test_inference_config_paths_are_relative_to_the_file(project: Path) -> None:
    ic = inference_config_from_file(write(project, "inferenceConfig.json", {
        "entryScript": "score.py", "runtime": "python", "condaFile": "myenv.yml", "sourceDirectory": "src",
        "extraDockerfileSteps": None, "enableGpu": False, "baseImage": None, "baseImageRegistry": None,
    }))
    assert isinstance(ic, InferenceConfig)
    assert (ic.entry_script_path, ic.source_directory_path) == (project / "src" / "score.py", project / "src")
    assert ic.environment is not None and ic.environment.python.conda_dependencies.get_python_version() == "3.11"
    alone = inference_config_from_file(write(project / "src", "ic.json", {"entryScript": "score.py"}))
    assert alone.entry_script_path == project / "src" / "score.py"  # no sourceDirectory: the file's folder


def test_inference_config_yaml_and_older_keys(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ic = inference_config_from_file(write(project, "inferenceConfig.yml", textwrap.dedent("""
        entryScript: score.py
        sourceDirectory: src
        condaFile: myenv.yml
        baseImage: mldeploy/python-base:bookworm
        extraDockerfileSteps: steps.txt
        enableGpu: true
        cudaVersion: "10.0"
        dependencies: [helpers.py]
        description: the sentiment service
    """)))
    assert ic.environment is not None and ic.environment.docker.base_image == "mldeploy/python-base:bookworm"
    assert ic.description == "the sentiment service"
    err = capsys.readouterr().err
    for key in ("extraDockerfileSteps", "enableGpu", "cudaVersion", "dependencies"):
        assert f"inferenceConfig.yml: {key} is accepted and ignored" in err
    assert "description is accepted" not in err and "baseImage is accepted" not in err
    assert err.count("note: ") == 4
    inference_config_from_file(project / "inferenceConfig.yml")
    assert capsys.readouterr().err == ""  # said once


def test_inference_config_with_an_environment_object(project: Path) -> None:
    ic = inference_config_from_file(write(project, "ic.json", {
        "entryScript": "src/score.py",
        "environment": {"name": "my-deploy-env", "environmentVariables": {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"},
                        "python": {"condaDependencies": {"dependencies": ["python=3.11", {"pip": ["requests"]}]}},
                        "docker": {"baseImage": None}},
    }))
    assert ic.environment is not None and ic.environment.name == "my-deploy-env"
    assert ic.environment.python.conda_dependencies.pip_packages == ["requests"]
    assert ic.environment.environment_variables == {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
    ic.environment.register()
    by_name = inference_config_from_file(write(project, "ic2.json", {"entryScript": "src/score.py",
                                                                      "environment": "my-deploy-env"}))
    assert by_name.environment is not None and by_name.environment.python.conda_dependencies.pip_packages == [
        "requests"]
    with pytest.raises(InvalidArgumentError, match=r"ic3.json: environment must be an environment's JSON object"):
        inference_config_from_file(write(project, "ic3.json", {"entryScript": "src/score.py", "environment": 3}))


@pytest.mark.parametrize(("content", "error", "message"), [
    ({"entryScirpt": "score.py"}, InvalidArgumentError,
     r"ic.json: unknown key 'entryScirpt' \(did you mean 'entryScript'\?\); known keys: baseImage, .*entryScript, "),
    ({"sourceDirectory": "src"}, InvalidArgumentError, r"no entryScript; add \"entryScript\": \"score.py\""),
    ({"entryScript": "missing.py", "sourceDirectory": "src"}, EntryScriptError,
     r"ic.json: entry script 'missing.py' not found: looked at .*src/missing.py"),
    ({"entryScript": "score.py", "sourceDirectory": "nowhere"}, EntryScriptError, r"nowhere.* is not a folder"),
    ({"entryScript": "score.py", "sourceDirectory": "src", "condaFile": "other.yml"}, InvalidArgumentError,
     r"condaFile 'other.yml' not found \(looked at .*src/other.yml"),
    ({"entryScript": 5}, InvalidArgumentError, r"ic.json: entryScript must be a string, not a number \(5\)"),
    ({"entryScript": "score.py", "enableGpu": "yes"}, InvalidArgumentError, r"enableGpu must be true or false"),
    ({"entryScript": "score.py", "runtime": "spark-py", "sourceDirectory": "src"}, InvalidArgumentError,
     r"runtime 'spark-py' is not supported"),
    ('{\n  "entryScript": "score.py"\n  "sourceDirectory": "src"\n}', InvalidArgumentError,
     r"is not valid JSON: Expecting ',' delimiter at line 3 column 3; fix the file"),
    ("[1, 2]", InvalidArgumentError, r"must hold an object of settings .*, not a list"),
])
def test_bad_inference_configs_are_one_clear_line(project: Path, content: Any, error: type[Exception],
                                                   message: str) -> None:
    with pytest.raises(error, match=message) as info:
        inference_config_from_file(write(project, "ic.json", content))
    assert "\n" not in str(info.value)


def test_bad_yaml_names_line_and_column(project: Path) -> None:
    with pytest.raises(InvalidArgumentError,
                       match=r"ic.yaml is not valid YAML: mapping values are not allowed here at line 2 column 21"):
        inference_config_from_file(write(project, "ic.yaml", "entryScript: score.py\nsourceDirectory: src: other\n"))
    with pytest.raises(InvalidArgumentError, match=r"inference config 'nope.json' not found \(looked at .*nope.json"):
        inference_config_from_file("nope.json")


# --- deployment config --------------------------------------------------------------------------


def test_deployment_configs_of_each_compute_type(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local = deployment_config_from_file(write(project, "local.json", {"computeType": "LOCAL", "port": 6789}))
    assert isinstance(local, DockerDeploymentConfiguration)
    assert (local.compute_type, local.port, local.cpu_cores) == ("docker", 6789, None)
    aci = deployment_config_from_file(write(project, "aci.json", {
        "computeType": "ACI", "containerResourceRequirements": {"cpu": 0.5, "memoryInGB": 1.0},
        "authEnabled": True, "sslEnabled": False, "appInsightsEnabled": True, "location": "westeurope",
    }))
    assert (aci.compute_type, aci.cpu_cores, aci.memory_gb, aci.auth_enabled) == ("docker", 0.5, 1.0, True)
    err = capsys.readouterr().err
    assert "aci.json: appInsightsEnabled is accepted and ignored" in err
    assert "aci.json: location is accepted and ignored" in err and "sslEnabled" not in err  # false changes nothing
    assert "limited to 0.5 CPU cores, 1.0 GB of memory" in err
    aks = deployment_config_from_file(write(project, "aks.yml", textwrap.dedent("""
        computeType: aks
        autoScaler: {autoscaleEnabled: true, minReplicas: 2, maxReplicas: 4, targetUtilization: 70}
        containerResourceRequirements: {cpu: 0.5, memoryInGB: 1, cpuLimit: 1, memoryInGBLimit: 2}
        livenessProbeRequirements: {periodSeconds: 5, failureThreshold: 4}
        scoringTimeoutMs: 5000
        namespace: ml
        keys: {primaryKey: abc}
    """)))
    assert isinstance(aks, KubernetesDeploymentConfiguration)
    assert (aks.autoscale_min_replicas, aks.autoscale_max_replicas, aks.cpu_cores, aks.memory_gb) == (2, 4, 0.5, 1)
    assert (aks.timeout_ms, aks.namespace, aks.period_seconds, aks.failure_threshold) == (5000, "ml", 5, 4)
    assert "aks.yml: keys is accepted and ignored" in capsys.readouterr().err


def test_a_local_file_may_run_on_the_process_target(project: Path) -> None:
    config = deployment_config_from_file(write(project, "dc.json", {"computeType": "local", "port": 6789}),
                                         ProcessWebservice)
    assert (config.compute_type, config.port) == ("process", 6789)
    with pytest.raises(InvalidArgumentError, match=r"computeType ACI names its own target"):
        deployment_config_from_file(write(project, "aci.json", {"computeType": "ACI"}), ProcessWebservice)


@pytest.mark.parametrize(("content", "message"), [
    ({"port": 6789}, r"dc.json: computeType must be one of LOCAL, ACI, AKS \(got none\)"),
    ({"computeType": "AMLCOMPUTE"}, r"computeType must be one of LOCAL, ACI, AKS \(got 'AMLCOMPUTE'\)"),
    ({"computeType": "LOCAL", "port": 6789, "cpu": 1}, r"dc.json: unknown key 'cpu' \(computeType LOCAL\); "
                                                        r"known keys: computeType, port\."),
    ({"computeType": "ACI", "containerResourceRequirements": {"cpuCores": 1}},
     r"unknown key 'containerResourceRequirements.cpuCores' \(computeType ACI\) \(did you mean 'cpu'\?\); "
     r"known keys of containerResourceRequirements: cpu, memoryInGB\."),
    ({"computeType": "LOCAL", "port": "6789"}, r"dc.json: port must be a whole number, not a string \(\"6789\"\)"),
    ({"computeType": "ACI", "containerResourceRequirements": "big"},
     r"containerResourceRequirements must be an object, not a string"),
    ({"computeType": "ACI", "containerResourceRequirements": {"cpu": True}}, r"cpu must be a number, not true/false"),
    ({"computeType": "AKS", "autoScaler": {"minReplicas": 5, "maxReplicas": 2}}, r"dc.json: .*autoscale_max_replicas"),
])
def test_bad_deployment_configs_are_one_clear_line(project: Path, content: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as info:
        deployment_config_from_file(write(project, "dc.json", content))
    assert "\n" not in str(info.value)


# --- mldeploy deploy --ic --dc ------------------------------------------------------------------


def test_cli_deploys_from_az_ml_files_on_the_process_target(
    project: Path, k_model: Model, capsys: pytest.CaptureFixture[str]
) -> None:
    ic = write(project, "inferenceConfig.json", {"entryScript": "score.py", "sourceDirectory": "src"})
    port = free_port()
    dc = write(project, "deploymentConfig.json", {"computeType": "LOCAL", "port": port})
    code = main(["deploy", "files-svc", "--model", "k:1", "--ic", str(ic), "--dc", str(dc), "--target", "process",
                 "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"scoring_uri: http://127.0.0.1:{port}/score" in out
    answer = requests.post(f"http://127.0.0.1:{port}/score", json={"data": [1, 2]}, timeout=30)
    assert answer.json() == {"k": 3, "sum": 6}
    assert Webservice("files-svc").compute_type == "process"
    Webservice("files-svc").delete()


@pytest.mark.parametrize(("argv", "message"), [
    (["deploy", "x", "-m", "k:1", "--ic", "{ic}", "--entry-script", "score.py"],
     "an inference config file sets that already: leave out an entry script"),
    (["deploy", "x", "-m", "k:1", "--ic", "{ic}", "--dc", "{dc}", "--port", "5000"],
     "a deployment config file sets that already: leave out a port"),
    (["deploy", "x", "-m", "k:1"], "give an entry script (--entry-script score.py) or an inference config file"),
    (["deploy", "-m", "k:1", "--ic", "{ic}"], "give the service name: mldeploy deploy NAME"),
    (["deploy", "x", "-n", "y", "-m", "k:1", "--ic", "{ic}"], "give the service name once"),
    (["deploy", "x", "-m", "k:1", "--ic", "{bad}"], "unknown key 'entry_script' (did you mean 'entryScript'?)"),
])
def test_cli_file_errors_are_one_line(project: Path, k_model: Model, capsys: pytest.CaptureFixture[str],
                                      argv: list[str], message: str) -> None:
    paths = {"ic": write(project, "ic.json", {"entryScript": "score.py", "sourceDirectory": "src"}),
             "dc": write(project, "dc.json", {"computeType": "LOCAL", "port": free_port()}),
             "bad": write(project, "bad.json", {"entry_script": "score.py"})}
    code = main([a.format(**paths) for a in argv])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert message in err and err.count("\n") == 1
    assert Webservice.list() == []


@pytest.mark.docker
@pytest.mark.usefixtures("docker_home")
def test_cli_deploys_az_ml_files_to_docker_with_aci_limits(
    project: Path, k_model: Model, capsys: pytest.CaptureFixture[str], docker_client: Any
) -> None:
    """``az ml model deploy -n NAME -m MODEL:1 --ic ... --dc ...`` with long spellings: an ACI file is a limited container."""
    from jupyter_mldeploy.deploy.docker import container_name

    ic = write(project, "inferenceConfig.json", {"entryScript": "score.py", "sourceDirectory": "src"})
    port = free_port()
    dc = write(project, "deploymentConfig.json", {
        "computeType": "ACI", "port": port, "containerResourceRequirements": {"cpu": 1, "memoryInGB": 0.5}})
    code = main(["deploy", "-n", "files-aci", "-m", "k:1", "--inference-config-file", str(ic),
                 "--deploy-config-file", str(dc), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"target:      docker" in out and f"http://127.0.0.1:{port}/score" in out
    answer = requests.post(f"http://127.0.0.1:{port}/score", json={"data": [4]}, timeout=30)
    assert answer.json() == {"k": 3, "sum": 7}
    host = docker_client.containers.get(container_name("files-aci")).attrs["HostConfig"]
    assert (host["NanoCpus"], host["Memory"]) == (1_000_000_000, 512 * 1024 * 1024)
    Webservice("files-aci").delete()
