"""Production signals of deployed services: capture (collect_model_data), ModelDataCollector, traces, the CLI.

Process services for everything (tracing to a real OTLP/HTTP receiver in the test); a Docker
service for capture and collection read from the host through the mounted data folder, and one
whose container exports its spans to a receiver on this machine named ``localhost``.
"""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest
from otlp_receiver import OtlpReceiver, request_spans

from jupyter_mldeploy import InferenceConfig, Model
from jupyter_mldeploy.cli import main as cli_main
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.deploy.docker import LocalWebservice
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.deploy.service import Webservice
from jupyter_mldeploy.errors import InvalidArgumentError

COLLECTING_SCRIPT = textwrap.dedent(
    """
    import json, os
    from azureml.monitoring import ModelDataCollector
    from azureml.core import Run

    def init():
        global k, inputs_dc
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())
        inputs_dc = ModelDataCollector("k", designation="inputs", feature_names=["x"])

    def run(raw_data):
        data = json.loads(raw_data)["data"]
        inputs_dc.collect(data, user_correlation_id="corr-" + str(len(data)))
        Run.get_context().log("rows", len(data))
        return [x * k for x in data]
    """
)


def _wait(condition: Any, what: str, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        time.sleep(0.05)


def _app(tmp_path: Path) -> Path:
    folder = tmp_path / "collect-app"
    folder.mkdir()
    (folder / "score.py").write_text(COLLECTING_SCRIPT)
    return folder


def _check_capture_and_collection(service: Webservice, capsys: pytest.CaptureFixture[str]) -> None:
    assert service.run({"data": [1, 2]}) == [3.0, 6.0]
    assert service.run({"data": [4]}) == [12.0]
    _wait(lambda: len(service.get_captured(10)) == 2, "two captured requests")
    first, second = service.get_captured(10)
    assert (first["route"], first["status"], first["input"], first["output"]) == ("/score", 200, {"data": [1, 2]},
                                                                                  [3.0, 6.0])
    assert second["input"] == {"data": [4]} and second["output"] == [12.0]
    assert service.get_captured(1) == [second]
    _wait(lambda: len(service.get_collected(10)) == 2, "two collected records")
    collected = service.get_collected(10)
    assert [c["data"] for c in collected] == [[1, 2], [4]]
    assert [c["user_correlation_id"] for c in collected] == ["corr-2", "corr-1"]
    assert [c["request_id"] for c in collected] == [first["request_id"], second["request_id"]]
    assert "log rows=2" in service.get_logs()

    capsys.readouterr()
    assert cli_main(["captured", service.name, "-n", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [second]
    assert cli_main(["collected", service.name, "-n", "5"]) == 0
    assert [json.loads(line)["data"] for line in capsys.readouterr().out.splitlines()] == [[1, 2], [4]]


def test_process_service_captures_collects_and_traces(tmp_path: Path, k_model: Model,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with OtlpReceiver() as receiver:
        config = ProcessWebservice.deploy_configuration(
            collect_model_data=True, tracing=True, otel_endpoint=receiver.url,
            environment_variables={"OTEL_BSP_SCHEDULE_DELAY": "100"},
        )
        service = deploy("signals", [k_model], InferenceConfig("score.py", source_directory=str(_app(tmp_path))),
                         config)
        service.wait_for_deployment(timeout_sec=120)
        _check_capture_and_collection(service, capsys)
        spans = receiver.wait_for(lambda got: sum(s["name"] == "POST /score" for s in got) >= 2)
        # the capture file is the service's own, private
        assert stat.S_IMODE(os.stat(service._record.data_path / "capture.jsonl").st_mode) == 0o600
        service.delete()
    scored = [s for s in spans if s["name"] == "POST /score"]
    assert {s["resource"]["service.name"] for s in scored} == {"signals"}
    assert {s["attributes"]["mldeploy.model"] for s in scored} == {"k"}
    runs = [s for s in spans if s["name"] == "run"]
    assert {r["parent_span_id"] for r in runs} >= {s["span_id"] for s in scored}


def test_a_service_without_capture_says_how_to_turn_it_on(app_dir: Path, k_model: Model) -> None:
    service = deploy("plain", [k_model], InferenceConfig("score.py", source_directory=str(app_dir)),
                     ProcessWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=120)
    assert service.run({"data": [1]}) == [3.0]
    with pytest.raises(InvalidArgumentError, match=r"collect_model_data=True"):
        service.get_captured(5)
    assert service.get_collected(5) == []
    with pytest.raises(InvalidArgumentError, match="n must be a whole number"):
        service.get_collected(-1)
    service.delete()


def test_bad_signal_options_are_named() -> None:
    with pytest.raises(InvalidArgumentError, match="capture_sample_rate must be from 0 to 1"):
        ProcessWebservice.deploy_configuration(collect_model_data=True, capture_sample_rate=2)
    with pytest.raises(InvalidArgumentError, match="otel_endpoint must be an http"):
        ProcessWebservice.deploy_configuration(tracing=True, otel_endpoint="127.0.0.1:4318")


@pytest.mark.docker
def test_docker_service_capture_and_collection_are_read_from_the_host(
    docker_home: Path, tmp_path: Path, k_model: Model, capsys: pytest.CaptureFixture[str],
) -> None:
    service = deploy("dock-signals", [k_model], InferenceConfig("score.py", source_directory=str(_app(tmp_path))),
                     LocalWebservice.deploy_configuration(collect_model_data=True))
    service.wait_for_deployment(timeout_sec=600)
    try:
        _check_capture_and_collection(service, capsys)
        data = service._record.data_path
        assert stat.S_IMODE(os.stat(data / "capture.jsonl").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    finally:
        service.delete()


def _docker_bridge_gateway() -> str:
    """This machine's address on Docker's default bridge (where ``host-gateway`` points)."""
    from jupyter_mldeploy.images.engine import shared_engine

    bridge = shared_engine(10.0).client.networks.get("bridge").attrs
    gateway = next((c["Gateway"] for c in bridge["IPAM"]["Config"] if c.get("Gateway")), None)
    if gateway:
        return str(gateway)
    # a daemon that leaves the gateway out of IPAM (Debian's 20.10 on a fresh start): the bridge interface's address
    import fcntl
    import socket
    import struct

    name = bridge["Options"]["com.docker.network.bridge.name"].encode()[:15]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        answer = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name))  # SIOCGIFADDR
    return socket.inet_ntoa(answer[20:24])


@pytest.mark.docker
def test_docker_service_traced_to_localhost_exports_spans_from_the_container(
    docker_home: Path, tmp_path: Path, k_model: Model, capsys: pytest.CaptureFixture[str],
) -> None:
    import httpx

    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    # a collector on this machine, reachable from containers (the bridge address, as a published port would be)
    with OtlpReceiver(host=_docker_bridge_gateway()) as receiver:
        config = LocalWebservice.deploy_configuration(
            tracing=True, otel_endpoint=f"http://localhost:{receiver.port}",  # "localhost": the user's machine
            environment_variables={"OTEL_BSP_SCHEDULE_DELAY": "100"},
        )
        service = deploy("dock-traced", [k_model], InferenceConfig("score.py", source_directory=str(_app(tmp_path))),
                         config)
        try:
            service.wait_for_deployment(show_output=True, timeout_sec=600)
            log = capsys.readouterr().out
            # the environment got OpenTelemetry without the user listing it, and the log says so
            assert "tracing is on: added opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http" in log, log
            answer = httpx.post(service.scoring_uri, content=json.dumps({"data": [1, 2]}), timeout=30, headers={
                "content-type": "application/json", "x-request-id": "dock-trace-1",
                "traceparent": f"00-{caller_trace}-{caller_span}-01"})
            assert answer.status_code == 200 and answer.json() == [3.0, 6.0]
            spans = receiver.wait_for(lambda got: {"POST /score", "run"} <= {s["name"] for s in got}, timeout=60)
            # the service itself is still published on 127.0.0.1 only
            ports = service._engine().container_attrs(service._container)["NetworkSettings"]["Ports"]
            assert {binding["HostIp"] for bindings in ports.values() if bindings for binding in bindings} == {"127.0.0.1"}
        finally:
            service.delete()
    request_spans(spans, "dock-trace-1", (caller_trace, caller_span), "dock-traced")
