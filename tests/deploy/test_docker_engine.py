"""The Docker layer against the real engine: build, run as non-root, score, labels, faults, cache.

One image is built per module (module-scoped fixture) and shared; every test
starts its own uniquely named containers and removes them.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy.images.context import ContextInfo, write_build_context
from jupyter_mldeploy.images.engine import (
    LABEL_MODELS,
    LABEL_SERVICE,
    BuildResult,
    DockerEngine,
    service_labels,
)
from jupyter_mldeploy.errors import (
    BaseImageMissingError,
    DeploymentError,
    ImageBuildError,
    PortInUseError,
    ServiceExistsError,
    ServiceNotFoundError,
)

from ._service import write_model, write_service_source
from engine_helpers import restart, wait_ready

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PIP = "RUN /opt/mldeploy/venv/bin/python -m pip install --no-index --no-cache-dir --disable-pip-version-check"
#: unique per run, so that no layer cache from an earlier run hides a rebuild
SESSION = uuid.uuid4().hex[:10]
ENV_PIP_STEP = f"{PIP} --find-links /tmp/wheels"
RUNTIME_PIP_STEP = "RUN /opt/mldeploy/venv/bin/python /opt/mldeploy/runtime/install_runtime.py"


def remove_intermediates(engine: DockerEngine, log: str) -> None:
    """Remove the layer images a failed build left (those still used by other images stay)."""
    for image_id in reversed(re.findall(r"^ ---> ([0-9a-f]{12})$", log, flags=re.MULTILINE)):
        engine.remove_image(image_id)


def score(url: str, data: list[float], timeout: float = 10) -> dict[str, Any]:
    request = urllib.request.Request(
        url + "/score", data=json.dumps({"data": data}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


class Service:
    """The module's shared built image and the folders it came from."""

    def __init__(self, root: Path, info: ContextInfo, build: BuildResult, engine: DockerEngine) -> None:
        self.root = root
        self.info = info
        self.build = build
        self.engine = engine
        self.tag = build.tag


@pytest.fixture(scope="module")
def engine(docker_client: Any) -> Iterator[DockerEngine]:
    engine = DockerEngine(docker_client)
    assert engine.ping()["ApiVersion"]
    yield engine


@pytest.fixture(scope="module")
def service(
    engine: DockerEngine, base_image: str, wheelhouse: Path, runtime_wheel_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("svc")
    info = write_build_context(
        root / "ctx",
        base_image=base_image,
        wheelhouse_dir=wheelhouse,
        runtime_wheel=runtime_wheel_file,
        models={"scaler": {1: write_model(root / "model" / "model.json", 3.0, 0.5)}},
        source_dir=write_service_source(root / "src"),
        entry_script="score.py",
        env_hash=f"testenv-{SESSION}",
    )
    tag = f"mldeploy-test/shared-{SESSION}:1"
    labels = service_labels("shared", models=info.models_label, env_hash=info.env_hash)
    lines: list[str] = []
    build = engine.build_image(info.path, tag, labels=labels, on_log=lines.append)
    assert "".join(lines) == build.log and "Successfully built" in build.log
    yield Service(root, info, build, engine)
    engine.remove_image(tag)
    assert engine.remove_env_cache(info.env_hash) == 1


@pytest.fixture
def containers(engine: DockerEngine) -> Iterator[list[str]]:
    """Names of containers a test started: removed afterwards, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        engine.remove(name)


def start(service: Service, containers: list[str], name: str, **kwargs: Any):
    containers.append(name)
    labels = service_labels(name, models=service.info.models_label, env_hash=service.info.env_hash)
    running = service.engine.run_container(service.tag, name, labels=labels, **kwargs)
    wait_ready(service.engine, name, running.port, timeout=60)
    return running


def test_image_serves_score_as_non_root_on_loopback(
    service: Service, containers: list[str], unique: str, docker_client: Any
) -> None:
    running = start(service, containers, f"mldeploy-t-{unique}")
    answer = score(running.url, [1.0, 2.0])
    assert answer["predictions"] == [3.5, 6.5]  # 3 * x + 0.5 from the model file in the image
    assert answer["code_version"] == 1
    assert answer["uid"] == 1000
    assert answer["model_dir"] == "/var/azureml-app/azureml-models/scaler/1"
    assert answer["model_path"] == "/var/azureml-app/azureml-models/scaler/1/model.json"
    container = docker_client.containers.get(running.name)
    assert container.exec_run("id -u").output.decode().strip() == "1000"
    bindings = container.attrs["HostConfig"]["PortBindings"]["5001/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(running.port)}]
    # caches and .git were not copied into the image's source folder
    listing = container.exec_run("ls -A /var/azureml-app/src").output.decode().split()
    assert sorted(listing) == ["helpers.py", "score.py"]
    health = container.image.attrs["Config"]["Healthcheck"]["Test"]
    assert health[0] == "CMD" and "/ready" in health[-1]
    assert container.exec_run(health[1:]).exit_code == 0  # the probe Docker runs passes
    state = service.engine.container_state(running.name)
    assert state.running and state.exit_code is None and state.azure_state in {"Healthy", "Transitioning"}
    assert "INIT-MARKER" in state.logs


def test_labels_find_containers_again(service: Service, containers: list[str], unique: str) -> None:
    running = start(service, containers, f"mldeploy-t-{unique}")
    with DockerEngine() as fresh:  # a fresh client, as after a kernel restart
        found = fresh.find_containers({LABEL_SERVICE: running.name})
    assert [info.name for info in found] == [running.name]
    info = found[0]
    assert info.port == running.port and info.status == "running"
    assert info.labels[LABEL_MODELS] == "scaler:1"
    assert info.labels["mldeploy.env-hash"] == service.info.env_hash
    assert info.labels["mldeploy.managed"] == "true"
    assert info.image == service.tag
    assert service.engine.find_containers({LABEL_SERVICE: f"none-{unique}"}) == []
    image_labels = service.engine.client.images.get(service.tag).labels
    assert image_labels[LABEL_MODELS] == "scaler:1"


def test_port_conflicts_name_the_port_and_the_holder(
    service: Service, containers: list[str], unique: str
) -> None:
    first = start(service, containers, f"mldeploy-a-{unique}")
    with pytest.raises(PortInUseError) as caught:
        service.engine.run_container(service.tag, f"mldeploy-b-{unique}", port=first.port)
    message = str(caught.value)
    assert f"port {first.port}" in message and f"service 'mldeploy-a-{unique}'" in message
    assert "port=None picks a free one" in message
    assert service.engine.find_containers({LABEL_SERVICE: f"mldeploy-b-{unique}"}) == []

    with socket.socket() as other:  # a port held by some other program
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is in use by another program"):
            service.engine.run_container(service.tag, f"mldeploy-c-{unique}", port=port)

    with pytest.raises(ServiceExistsError, match="exists already"):
        service.engine.run_container(service.tag, first.name)


def test_killed_container_shows_exit_code_and_logs_and_comes_back(
    service: Service, containers: list[str], unique: str, docker_client: Any
) -> None:
    running = start(service, containers, f"mldeploy-t-{unique}")
    docker_client.containers.get(running.name).kill()  # SIGKILL, as an OOM kill would
    deadline = time.monotonic() + 20
    state = service.engine.container_state(running.name)
    while state.running and time.monotonic() < deadline:
        time.sleep(0.1)
        state = service.engine.container_state(running.name)
    assert not state.running
    assert state.exit_code == 137 and state.azure_state == "Failed"
    assert "INIT-MARKER" in state.logs
    described = state.describe()
    assert "exit code 137" in described and "last log lines" in described
    with pytest.raises(DeploymentError, match="stopped before it was ready.*exit code 137"):
        wait_ready(service.engine, running.name, running.port, timeout=5)

    restart(service.engine, running.name)  # what reload() does for a dead service
    wait_ready(service.engine, running.name, running.port, timeout=60)
    assert score(running.url, [0.0])["predictions"] == [0.5]
    with pytest.raises(ServiceNotFoundError, match="no container called"):
        service.engine.container_state(f"mldeploy-missing-{unique}")

    followed = service.engine.follow_logs(running.name)  # what get_logs(follow=True) streams
    markers = 0
    for line in followed:  # both are in the log already: once before the kill, once after
        markers += "INIT-MARKER" in line
        if markers == 2:
            break
    followed.close()
    assert markers == 2


def test_code_edit_reaches_the_service_without_a_rebuild(
    service: Service, containers: list[str], unique: str, tmp_path: Path, docker_client: Any
) -> None:
    source = write_service_source(tmp_path / "live")
    running = start(service, containers, f"mldeploy-t-{unique}", source_dir=source)
    assert score(running.url, [1.0])["code_version"] == 1
    image_before = docker_client.containers.get(running.name).image.id

    (source / "helpers.py").write_text("CODE_VERSION = 2\n")  # edit, then restart: no build
    restart(service.engine, running.name, timeout=5)
    wait_ready(service.engine, running.name, running.port, timeout=60)
    assert score(running.url, [1.0])["code_version"] == 2

    assert docker_client.containers.get(running.name).image.id == image_before


def test_code_edit_with_server_reload_needs_no_restart(
    service: Service, containers: list[str], unique: str, tmp_path: Path, docker_client: Any
) -> None:
    """With the server's --reload (MLDEPLOY_RELOAD=1) over the mounted source, an edit is live by itself."""
    source = write_service_source(tmp_path / "live")
    running = start(service, containers, f"mldeploy-t-{unique}", source_dir=source, env={"MLDEPLOY_RELOAD": "1"})
    started_at = docker_client.containers.get(running.name).attrs["State"]["StartedAt"]
    assert score(running.url, [1.0])["code_version"] == 1
    time.sleep(1.0)  # the watcher's first snapshot (it polls modification times)
    (source / "helpers.py").write_text("CODE_VERSION = 2\n")
    deadline = time.monotonic() + 30
    version = 1
    while version != 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        version = score(running.url, [1.0])["code_version"]
    assert version == 2
    assert docker_client.containers.get(running.name).attrs["State"]["StartedAt"] == started_at  # no restart


def test_failing_init_is_reported_at_once_with_its_error(
    service: Service, containers: list[str], unique: str, tmp_path: Path
) -> None:
    source = write_service_source(tmp_path / "broken")
    (source / "helpers.py").write_text("raise RuntimeError('helpers cannot load: missing setting XYZ')\n")
    name = f"mldeploy-t-{unique}"
    containers.append(name)
    running = service.engine.run_container(service.tag, name, source_dir=source, read_only=True)
    with pytest.raises(DeploymentError) as caught:
        wait_ready(service.engine, name, running.port, timeout=60)
    message = str(caught.value)
    assert "failed to load or init()" in message and "missing setting XYZ" in message
    # run as a plain image (no deployment asking it to stay up) the server exits 1 after the
    # traceback, as azmlinfsrv does, and the wait says so with the container's logs
    assert "stopped before it was ready" in message and "exit" in message
    # the fix, then a restart: served from a read-only root filesystem as well
    (source / "helpers.py").write_text("CODE_VERSION = 5\n")
    restart(service.engine, name)
    wait_ready(service.engine, name, running.port, timeout=60)
    assert score(running.url, [1.0])["code_version"] == 5


def test_remove_frees_the_port_and_deletes_the_image(
    service: Service, unique: str, docker_client: Any, containers: list[str]
) -> None:
    tag = f"mldeploy-test/removable-{unique}:1"
    docker_client.images.get(service.tag).tag(tag)
    name = f"mldeploy-t-{unique}"
    containers.append(name)
    running = service.engine.run_container(tag, name)
    assert service.engine.remove(name, delete_image=True) is True
    with socket.socket() as sock:  # the port is free again
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", running.port))
    assert service.engine.find_containers({LABEL_SERVICE: name}) == []
    assert not service.engine.image_exists(tag)
    assert service.engine.image_exists(service.tag)  # the shared image only lost a tag
    assert service.engine.remove(name) is False


def test_model_only_change_reuses_the_environment_layer(
    service: Service, base_image: str, wheelhouse: Path, runtime_wheel_file: Path, tmp_path: Path, unique: str
) -> None:
    kwargs: dict[str, Any] = {
        "base_image": base_image, "wheelhouse_dir": wheelhouse, "runtime_wheel": runtime_wheel_file,
        "source_dir": service.root / "src", "entry_script": "score.py",
    }
    new_model = write_model(tmp_path / "v2" / "model.json", 10.0, 0.0)
    info = write_build_context(
        tmp_path / "ctx2", models={"scaler": {2: new_model}}, env_hash=service.info.env_hash, **kwargs
    )
    tag = f"mldeploy-test/models-{unique}:2"
    try:
        result = service.engine.build_image(info.path, tag)
        assert result.step_cached(ENV_PIP_STEP), result.log
        assert result.step_cached("COPY --from=env"), result.log
        assert result.step_cached(RUNTIME_PIP_STEP), result.log
        assert not result.step_cached("COPY --chown=1000:1000 azureml-models/"), result.log
        history = {layer["Id"] for layer in service.engine.client.images.get(tag).history()}
        shared = {layer["Id"] for layer in service.engine.client.images.get(service.tag).history()}
        common = history & shared - {"<missing>"}
        assert len(common) >= 4, (history, shared)  # base, user, venv, runtime layers are shared
    finally:
        service.engine.remove_image(tag)

    changed = write_build_context(
        tmp_path / "ctx3", models={"scaler": {1: new_model}}, env_hash=f"other-{unique}", **kwargs
    )
    tag = f"mldeploy-test/env-{unique}:1"
    try:
        result = service.engine.build_image(changed.path, tag)
        assert not result.step_cached(ENV_PIP_STEP), result.log  # an env change rebuilds it
        assert result.step_cached("RUN python3 -m venv")
        assert len(service.engine.env_cache_images(changed.env_hash)) == 1
    finally:
        service.engine.remove_image(tag)
        service.engine.remove_env_cache(changed.env_hash)


def test_saved_context_builds_and_serves_with_plain_docker(
    service: Service, docker_client: Any, unique: str, tmp_path: Path
) -> None:
    """What `docker build CONTEXT && docker run -p 127.0.0.1:PORT:5001 IMAGE` does, with the SDK alone."""
    saved = tmp_path / "saved"
    shutil.copytree(service.info.path, saved)  # a context moved elsewhere still builds
    tag = f"mldeploy-test/plain-{unique}:1"
    image, _ = docker_client.images.build(path=str(saved), tag=tag, rm=True, pull=False)
    container = None
    try:
        container = docker_client.containers.run(
            image.id, detach=True, ports={"5001/tcp": ("127.0.0.1", None)}, name=f"mldeploy-plain-{unique}"
        )
        container.reload()
        port = int(container.attrs["NetworkSettings"]["Ports"]["5001/tcp"][0]["HostPort"])
        wait_ready(DockerEngine(docker_client), container.name, port, timeout=60)
        assert score(f"http://127.0.0.1:{port}", [2.0])["predictions"] == [6.5]
    finally:
        if container is not None:
            container.remove(force=True)
        docker_client.images.remove(tag)


def test_failed_builds_name_the_step_and_its_output(
    service: Service, base_image: str, wheelhouse: Path, runtime_wheel_file: Path, tmp_path: Path, unique: str
) -> None:
    broken_wheels = tmp_path / "wheels"
    shutil.copytree(wheelhouse, broken_wheels)
    (broken_wheels / "requirements.txt").write_text("no-such-package-mldeploy==1.0\n")
    info = write_build_context(
        tmp_path / "bad-req", base_image=base_image, wheelhouse_dir=broken_wheels,
        runtime_wheel=runtime_wheel_file, source_dir=service.root / "src", entry_script="score.py",
        env_hash=f"broken-{unique}",
    )
    lines: list[str] = []
    with pytest.raises(ImageBuildError) as caught:
        service.engine.build_image(info.path, f"mldeploy-test/bad-{unique}:1", on_log=lines.append)
    message = str(caught.value)
    assert "failed at Step 4/" in message and "pip install --no-index" in message
    assert "no-such-package-mldeploy" in message  # pip's own output, from the failing step
    assert "wheelhouse lacks a package" in message
    assert caught.value.logs == "".join(lines)
    remove_intermediates(service.engine, caught.value.logs)

    (info.path / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo preparing && exit 3\n")
    with pytest.raises(ImageBuildError, match=r"failed at Step 2/2: RUN echo preparing && exit 3.*code: 3") as again:
        service.engine.build_image(info.path, f"mldeploy-test/bad-{unique}:2")
    assert "preparing" in str(again.value)  # the step's own output is in the message
    remove_intermediates(service.engine, again.value.logs)


def test_missing_base_image_names_the_setting_and_the_script(engine: DockerEngine, tmp_path: Path) -> None:
    with pytest.raises(BaseImageMissingError) as caught:
        engine.ensure_base_image("mldeploy-test/no-such-base:0")
    message = str(caught.value)
    assert "MLDEPLOY_BASE_IMAGE" in message and "build-base-image.sh" in message
    assert "'mldeploy-test/no-such-base:0' is not present" in message
    (tmp_path / "Dockerfile").write_text("FROM mldeploy-test/no-such-base:0 AS env\nFROM env\nRUN true\n")
    with pytest.raises(BaseImageMissingError, match="MLDEPLOY_BASE_IMAGE"):
        engine.build_image(tmp_path, "mldeploy-test/never:1")


@pytest.fixture
def restarting_engine(docker_client: Any) -> Iterator[DockerEngine]:
    """An engine whose daemon is restarting: its socket accepts every connection and closes it at once.

    (Not a missing socket file: the SDK leaks the socket of a failed connect, which pytest reports.)
    """
    import tempfile
    import threading

    import docker

    with tempfile.TemporaryDirectory(prefix="mld-sock") as folder:  # a socket path has <108 chars
        dropping = socket.socket(socket.AF_UNIX)
        dropping.bind(f"{folder}/docker.sock")
        dropping.listen(16)

        def reset_every_call() -> None:
            while True:
                try:
                    conn, _ = dropping.accept()
                except OSError:  # shut down: done
                    return
                conn.close()

        thread = threading.Thread(target=reset_every_call, daemon=True)
        thread.start()
        client = docker.DockerClient(base_url=f"unix://{folder}/docker.sock", version="1.41", timeout=5)
        try:
            yield DockerEngine(client)
        finally:
            client.close()
            with contextlib.suppress(OSError):
                dropping.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
            dropping.close()
            thread.join(5)


def test_engine_going_away_mid_session_is_docker_unavailable(restarting_engine: DockerEngine) -> None:
    """The SDK lets requests' ConnectionError through when the daemon restarts: it must become ours."""
    import functools

    from jupyter_mldeploy.errors import DockerUnavailableError

    engine = restarting_engine
    calls: dict[str, Any] = {
        "container_state": functools.partial(engine.container_state, "mldeploy-x"),
        "logs": functools.partial(engine.logs, "mldeploy-x"),
        "find_containers": engine.find_containers,
        "image_exists": functools.partial(engine.image_exists, "mldeploy-test/x:1"),
        "remove": functools.partial(engine.remove, "mldeploy-x"),
        "container_image_id": functools.partial(engine.container_image_id, "mldeploy-x"),
        "platform": engine.platform,
        "ping": engine.ping,
    }
    for what, call in calls.items():
        with pytest.raises(DockerUnavailableError) as caught:
            call()
        message = str(caught.value)
        assert "no Docker engine answers" in message, what
        assert "Connection aborted" in message, what
        assert "start Docker" in message or "ensure-docker" in message, what
