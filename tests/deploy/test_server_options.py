"""The server options (batching, capture, tracing) are defined once and mean the same on every target.

Each target's ``deploy_configuration`` shows them in its signature (from ``ServerOptions``), refuses
a misspelt one by name, and every target's server gets the same variables from ``server_env``:
the process target's environment, the Docker container's and the Kubernetes pods' are compared.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import KubernetesWebservice, LocalWebservice
from jupyter_mldeploy.azureml.webservices import AciWebservice, AksWebservice
from jupyter_mldeploy.deploy.docker import HOST_GATEWAY_NAME
from jupyter_mldeploy.deploy.k8s import ManifestInputs, render_manifests
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.deploy.server_options import (
    TRACING_PACKAGES,
    ServerOptions,
    server_env,
    with_tracing_packages,
)
from jupyter_mldeploy.environment import Environment
from jupyter_mldeploy.errors import InvalidArgumentError

TARGETS = [ProcessWebservice, LocalWebservice, KubernetesWebservice]
SIGNALS = {"batch": "max_batch_size=16,max_latency_ms=2", "collect_model_data": True, "capture_sample_rate": 0.25,
           "capture_max_kb": 8, "tracing": True, "otel_endpoint": "http://collector.example:4318"}
SHARED = ("MLDEPLOY_BATCH", "MLDEPLOY_CAPTURE", "MLDEPLOY_CAPTURE_SAMPLE", "MLDEPLOY_CAPTURE_MAX_KB", "MLDEPLOY_OTEL",
          "MLDEPLOY_OTEL_ENDPOINT")


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.__name__)
def test_every_target_shows_and_takes_every_server_option(target: Any) -> None:
    parameters = inspect.signature(target.deploy_configuration).parameters
    for option in dataclasses.fields(ServerOptions):
        assert parameters[option.name].default == option.default, option.name
    config = target.deploy_configuration(**SIGNALS)
    assert {name: getattr(config, name) for name in SIGNALS} == SIGNALS


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.__name__)
def test_a_misspelt_option_is_named_with_the_ones_that_exist(target: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"unknown keyword 'colect_model_data'.*collect_model_data"):
        target.deploy_configuration(colect_model_data=True)
    with pytest.raises(InvalidArgumentError, match="capture_sample_rate must be from 0 to 1"):
        target.deploy_configuration(capture_sample_rate=1.5)


def test_azure_names_reach_the_same_options() -> None:
    aks = AksWebservice.deploy_configuration(collect_model_data=True, tracing=True,
                                             otel_endpoint="http://otel.observability:4318")
    assert (aks.collect_model_data, aks.tracing, aks.otel_endpoint) == (True, True, "http://otel.observability:4318")
    assert AciWebservice.deploy_configuration(collect_model_data=True).collect_model_data is True


def test_every_target_gives_its_server_the_same_option_variables(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_mldeploy.deploy.records import ServiceRecord

    # the process target: the variables of the child it starts (captured at Popen)
    seen: dict[str, dict[str, str]] = {}
    config = ProcessWebservice.deploy_configuration(**SIGNALS)
    record = ServiceRecord(name="opts", compute_type="process", entry_script=str(tmp_path / "score.py"),
                           source_dir=str(tmp_path), model_dir=str(tmp_path), config=config.to_dict())
    service = ProcessWebservice.__new__(ProcessWebservice)
    service._record = record
    record.python = "/bin/true"

    import subprocess

    class Started(Exception):
        pass

    def popen(*args: Any, **kwargs: Any) -> Any:
        seen["process"] = kwargs["env"]
        raise Started

    import socket

    from jupyter_mldeploy.deploy import process

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    monkeypatch.setattr(process, "bind_socket", lambda host, port: listening)
    monkeypatch.setattr(subprocess, "Popen", popen)
    try:
        with pytest.raises(Started):
            service._spawn(None)
    finally:
        listening.close()

    # the Docker target: the container's environment
    docker = LocalWebservice.__new__(LocalWebservice)
    docker._record = dataclasses.replace(record, compute_type="docker",
                                         config=LocalWebservice.deploy_configuration(**SIGNALS).to_dict())
    seen["docker"] = docker._run_env()

    # the Kubernetes target: the pod's variables
    objects = render_manifests(ManifestInputs(name="opts", namespace="default", image="r/opts:1",
                                              config=KubernetesWebservice.deploy_configuration(**SIGNALS)))
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    seen["kubernetes"] = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}

    values = {target: {name: env.get(name) for name in SHARED} for target, env in seen.items()}
    assert values["process"] == values["docker"] == values["kubernetes"] == {
        "MLDEPLOY_BATCH": "max_batch_size=16,max_latency_ms=2", "MLDEPLOY_CAPTURE": "1",
        "MLDEPLOY_CAPTURE_SAMPLE": "0.25", "MLDEPLOY_CAPTURE_MAX_KB": "8.0", "MLDEPLOY_OTEL": "1",
        "MLDEPLOY_OTEL_ENDPOINT": "http://collector.example:4318",
    }
    assert seen["process"]["MLDEPLOY_DATA_DIR"] == str(record.data_path)
    assert seen["docker"]["MLDEPLOY_DATA_DIR"] == seen["kubernetes"]["MLDEPLOY_DATA_DIR"] == "/var/lib/mldeploy"


@pytest.mark.parametrize(("endpoint", "in_container"), [
    (None, f"http://{HOST_GATEWAY_NAME}:4318"),
    ("http://localhost:4318", f"http://{HOST_GATEWAY_NAME}:4318"),
    ("http://127.0.0.1:9999/v1/traces", f"http://{HOST_GATEWAY_NAME}:9999/v1/traces"),
    ("https://collector.example:4318", "https://collector.example:4318"),
])
def test_localhost_in_the_endpoint_is_this_machine_for_a_container(endpoint: str | None, in_container: str) -> None:
    config = LocalWebservice.deploy_configuration(tracing=True, otel_endpoint=endpoint).to_dict()
    env = server_env(config, "/var/lib/mldeploy", loopback_as=HOST_GATEWAY_NAME, entry_script="score.py")
    assert env["MLDEPLOY_OTEL_ENDPOINT"] == in_container
    # a process service is on this machine: the endpoint stays as given
    assert server_env(config, "/d", entry_script="score.py").get("MLDEPLOY_OTEL_ENDPOINT") == endpoint


def test_tracing_adds_the_opentelemetry_packages_to_a_copy_of_the_environment(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy\nOpenTelemetry_SDK==1.27.0\n")
    env = Environment.from_pip_requirements("traced", requirements)
    before = env.get_pip_requirements()
    lines: list[str] = []
    traced = with_tracing_packages(env, {"tracing": True}, lines.append)
    assert env.get_pip_requirements() == before  # the user's object is not changed
    assert "opentelemetry-sdk==1.27.0" in traced.get_pip_requirements()  # the user's pin is kept
    assert "opentelemetry-exporter-otlp-proto-http" in traced.get_pip_requirements()
    assert lines == [("tracing is on: added opentelemetry-exporter-otlp-proto-http to environment 'traced' (resolved "
                      "like its other requirements; list them yourself to pin versions)")]
    assert with_tracing_packages(env, {"tracing": False}, lines.append) is env
    assert set(TRACING_PACKAGES) <= {r.split("==")[0].lower().replace("_", "-") for r in
                                     with_tracing_packages(traced, {"otel_endpoint": "http://x:1"}, lines.append)
                                     .get_pip_requirements()}
