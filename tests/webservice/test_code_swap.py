"""Code swaps and debug runs on both local targets: real servers on 127.0.0.1, a real Docker engine, real debugpy.

An edit of ``score.py`` followed by ``update(inference_config=...)`` or ``reload()`` is
swapped into the running server while requests flow: none fails, each answer comes
wholly from one version (the ``run()`` of version N answers with the ``init()`` of
version N), and each client sees old answers, then new ones. A failing new ``init()``
keeps the old version serving. New models restart and say so. ``service.debug()``
lets a Debug Adapter Protocol client (what VS Code speaks) stop a ``/score`` request
at a breakpoint in ``score.py``.
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from dap_client import DapClient
from proc_helpers import children

from jupyter_mldeploy import InferenceConfig, Model
from jupyter_mldeploy.client.client import ScoringClient
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.deploy.docker import LocalWebservice
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.deploy.service import Webservice, WebserviceState
from jupyter_mldeploy.errors import InitError

SCRIPT = textwrap.dedent(
    """
    import json, os, time

    VERSION = {version}


    def init():
        global k, initialised
        time.sleep({init_s})  # a model load: requests arrive while the new version initialises
        {fail}
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())
        initialised = VERSION


    def run(raw_data):
        y = [x * k for x in json.loads(raw_data)["data"]]
        answer = {{"version": VERSION, "init": initialised, "y": y}}  # (no comprehension: one stop)
        return answer
    """
)

def _line(start: str) -> int:
    return next(i for i, line in enumerate(SCRIPT.splitlines(), 1) if line.strip().startswith(start))


#: where the debug test's breakpoint goes, and where a failing init() raises
ANSWER_LINE, FAIL_LINE = _line("answer = "), _line("{fail}")

TARGETS = [
    pytest.param("process", id="process"),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
]


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> type[Webservice]:
    if request.param == "docker":
        request.getfixturevalue("docker_home")
        return LocalWebservice
    return ProcessWebservice


@pytest.fixture
def swap_app(tmp_path: Path) -> Path:
    folder = tmp_path / "swap-app"
    folder.mkdir()
    write(folder, 1)
    return folder


def write(folder: Path, version: int, init_s: float = 0.0, fail: str = "") -> None:
    (folder / "score.py").write_text(SCRIPT.format(version=version, init_s=init_s, fail=fail or "pass"))


def _deploy(name: str, target: type[Webservice], app: Path, model: Model, **config: Any) -> Webservice:
    service = deploy(name, [model], InferenceConfig("score.py", source_directory=str(app)),
                     target.deploy_configuration(**config))
    service.wait_for_deployment(timeout_sec=600)
    return service


def _server_lines(service: Webservice) -> str:
    """The server's log without its access lines (what a failed assertion shows)."""
    return "\n".join(line for line in service.get_logs().splitlines() if " access " not in line)


class Load:
    """``clients`` threads sending /score on their own keep-alive connection, bounded in count and time."""

    def __init__(self, url: str, clients: int = 8, max_requests: int = 50_000, max_s: float = 60.0) -> None:
        self.url, self.max_requests, self.max_s = url, max_requests, max_s
        self.answers: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
        self.failures: list[str] = []
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _client(self, index: int) -> None:
        deadline = time.monotonic() + self.max_s
        with ScoringClient(self.url, timeout=30) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    if self.sent >= self.max_requests:
                        return
                    self.sent += 1
                try:
                    answer = client.request("POST", "/score", b'{"data": [1]}', {"Content-Type": "application/json"})
                except Exception as err:  # noqa: BLE001 - counted: the test asserts there are none
                    self.failures.append(f"{type(err).__name__}: {err}")
                    continue
                if answer.status != 200:
                    self.failures.append(f"HTTP {answer.status}: {answer.body[:200]!r}")
                    continue
                self.answers[index].append(json.loads(answer.body))

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Until at least ``count`` answers arrived (the load is really flowing)."""
        deadline = time.monotonic() + timeout
        while sum(map(len, self.answers)) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sum(map(len, self.answers)) >= count, f"only {sum(map(len, self.answers))} answers: {self.failures[:3]}"


def test_swap_under_load_loses_no_request_and_answers_old_then_new(
    target: type[Webservice], swap_app: Path, k_model: Model
) -> None:
    service = _deploy("swap", target, swap_app, k_model, workers=2)
    url = str(service._base_url)
    with Load(url) as load:
        load.wait_for(50)
        write(swap_app, 2, init_s=0.5)  # the new init() takes a while: requests keep flowing meanwhile
        service.update(inference_config=InferenceConfig("score.py", source_directory=str(swap_app)))
        assert service.run({"data": [1]})["version"] == 2  # every worker serves it once update() returns
        done = sum(map(len, load.answers))
        load.wait_for(done + 50)
        write(swap_app, 3)
        service.reload()
        assert service.run({"data": [1]})["version"] == 3
        load.wait_for(sum(map(len, load.answers)) + 20)
    assert load.failures == [], f"{len(load.failures)} of {load.sent} requests failed: {load.failures[:5]}"
    for answers in load.answers:
        assert all(a["init"] == a["version"] for a in answers), "an answer mixed two versions"
        versions = [a["version"] for a in answers]
        assert versions == sorted(versions), "a client saw an old version after a new one"
    assert {a["version"] for answers in load.answers for a in answers} == {1, 2, 3}
    init = [p for p in service.progress.phases if p.name == "init"][0]
    assert "code swap" in init.detail and "2 worker(s)" in init.detail and "no restart" in init.detail
    assert not [p for p in service.progress.phases if p.name == "start"], "a code swap started a new server"


def test_a_deploy_is_ready_once_every_worker_ran_init(target: type[Webservice], tmp_path: Path, k_model: Model) -> None:
    """Not Healthy at half its workers: an edit made right after the deploy meets no worker still starting."""
    app = tmp_path / "slow-second"
    app.mkdir()
    (app / "score.py").write_text(textwrap.dedent("""
        import os, time

        def init():
            if os.environ.get("MLDEPLOY_WORKER_ID") == "2":
                time.sleep(3)  # the second worker's model load is slower

        def run(raw_data):
            return {"worker": os.environ.get("MLDEPLOY_WORKER_ID")}
    """))
    service = _deploy("all-workers", target, app, k_model, workers=2)
    try:
        with ScoringClient(str(service._base_url)) as client:
            assert metric_value(client.metrics(), "mldeploy_workers_ready") == 2
    finally:
        service.delete()


def metric_value(text: str, name: str) -> float:
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(f"{name} ")))


def test_failing_new_init_keeps_the_old_version_serving(
    target: type[Webservice], swap_app: Path, k_model: Model
) -> None:
    service = _deploy("swap-fail", target, swap_app, k_model, workers=2)
    with Load(str(service._base_url), clients=4) as load:
        load.wait_for(20)
        write(swap_app, 2, fail='raise RuntimeError("the new model file is missing")')
        started = time.monotonic()
        with pytest.raises(InitError) as info:
            service.reload()
        assert time.monotonic() - started < 60  # at once, not after a readiness timeout
        load.wait_for(sum(map(len, load.answers)) + 20)
    message = str(info.value)
    assert "the previous version keeps serving" in message
    assert "RuntimeError: the new model file is missing" in message
    assert f'score.py", line {FAIL_LINE}, in init' in message  # the traceback, pointing at the user's line
    assert load.failures == []
    assert {a["version"] for answers in load.answers for a in answers} == {1}
    assert service.state == WebserviceState.HEALTHY, _server_lines(service)
    assert service.run({"data": [2]}) == {"version": 1, "init": 1, "y": [6.0]}
    write(swap_app, 2)  # fixed: the swap goes through
    service.reload()
    assert service.run({"data": [2]})["version"] == 2


@pytest.mark.docker
def test_after_a_failing_swap_a_replacement_worker_runs_the_version_that_serves(
    docker_home: Path, swap_app: Path, k_model: Model
) -> None:
    """The mounted ``src/`` goes back to the serving files: a worker started later (a crash, a hang) runs them."""
    service = _deploy("swap-fail-replace", LocalWebservice, swap_app, k_model, workers=2)
    try:
        write(swap_app, 2, fail='raise RuntimeError("the new model file is missing")')
        with pytest.raises(InitError):
            service.reload()
        src = service._record.folder / "src"
        assert "VERSION = 1" in (src / "score.py").read_text()
        assert sorted(p.name for p in src.parent.iterdir() if p.name.startswith("src")) == ["src"]
        init = int(service._engine().container_attrs(service._container)["State"]["Pid"])  # docker-init
        (server,) = children(init)  # the scoring server, whose children are its workers
        workers = children(server)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)  # as root: the container's worker, seen from this machine

        deadline = time.monotonic() + 120
        while "worker 3: ready in" not in service.get_logs() and time.monotonic() < deadline:
            assert "worker 3: the entry script" not in service.get_logs(), "the replacement loaded the failed version"
            time.sleep(0.2)
        logs = service.get_logs()
        assert "worker 3: ready in" in logs, logs[-3000:]
        assert workers[0] not in children(server) and len(children(server)) == 2
        versions = set()
        for _ in range(20):  # a connection each: both workers answer
            with ScoringClient(str(service._base_url)) as client:
                versions.add(json.loads(client.request("POST", "/score", b'{"data": [1]}').body).get("version", 503))
        assert versions == {1}, _server_lines(service)  # both workers: the serving version
        write(swap_app, 2)  # fixed: the next swap takes the new files again
        service.reload()
        assert service.run({"data": [1]})["version"] == 2
    finally:
        service.delete()


def test_new_model_is_swapped_in_under_load_and_a_failing_one_keeps_the_old(
    target: type[Webservice], swap_app: Path, k_model: Model, tmp_path: Path
) -> None:
    service = _deploy("swap-model", target, swap_app, k_model, workers=2)
    (tmp_path / "k.txt").write_text("5")
    v2 = Model.register(str(tmp_path / "k.txt"), "k")
    with Load(str(service._base_url)) as load:
        load.wait_for(50)
        service.update(models=[v2])  # init() runs again beside the old version, which keeps serving
        assert service.run({"data": [1]})["y"] == [5.0]
        load.wait_for(sum(map(len, load.answers)) + 50)
    assert load.failures == [], f"{len(load.failures)} of {load.sent} requests failed: {load.failures[:5]}"
    for answers in load.answers:
        ys = [a["y"][0] for a in answers]
        assert set(ys) <= {3.0, 5.0} and ys == sorted(ys), "a client saw the old model after the new one"
    assert service.models == ["k:2"]
    assert service.progress is not None
    said = [e.text for e in service.progress.events_since(0)]
    assert any("no restart: new model(s) k:2" in line for line in said), said
    assert "code swap (new model(s) k:2)" in [p for p in service.progress.phases if p.name == "init"][0].detail
    assert not [p for p in service.progress.phases if p.name in ("build", "start")], "new models restarted"

    # a model version whose init() fails (no k.txt): the previous model keeps answering
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "other.txt").write_text("x")
    v3 = Model.register(str(tmp_path / "empty" / "other.txt"), "k")
    with pytest.raises(InitError, match="previous version keeps serving"):
        service.update(models=[v3])
    assert service.run({"data": [1]})["y"] == [5.0]
    assert service.models == ["k:2"]  # the record names the version that serves, not the one that failed
    assert Webservice(name="swap-model").models == ["k:2"]  # ... on disk too (a new kernel finds k:2)


ENV_SCRIPT = textwrap.dedent(
    """
    import json, os
    import six
    {imports}
    VERSION = {version}


    def init():
        global k
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())


    def run(raw_data):
        y = [x * k for x in json.loads(raw_data)["data"]]
        return {{"version": VERSION, "init": VERSION, "y": y, "packages": sorted({packages})}}
    """
)


def test_an_environment_that_only_adds_a_package_is_swapped_in_under_load(
    target: type[Webservice], swap_app: Path, k_model: Model, tmp_path: Path
) -> None:
    from jupyter_mldeploy import Environment

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six\n")
    (swap_app / "score.py").write_text(ENV_SCRIPT.format(imports="", version=1, packages='["six"]'))
    service = deploy("swap-env", [k_model], InferenceConfig(
        "score.py", source_directory=str(swap_app), environment=Environment.from_pip_requirements("swap-env", str(requirements))),
        target.deploy_configuration(workers=2))
    service.wait_for_deployment(timeout_sec=600)
    assert service.run({"data": [1]})["version"] == 1
    started = {p.name for p in service.progress.phases}

    # the usual edit: one package more in the requirements, and score.py starts using it
    requirements.write_text("six\ntoolz\n")
    (swap_app / "score.py").write_text(ENV_SCRIPT.format(imports="import toolz", version=2,
                                                         packages='["six", "toolz:" + toolz.__version__]'))
    with Load(str(service._base_url)) as load:
        load.wait_for(50)
        service.update(inference_config=InferenceConfig(
            "score.py", source_directory=str(swap_app),
            environment=Environment.from_pip_requirements("swap-env", str(requirements))))
        answer = service.run({"data": [1]})
        load.wait_for(sum(map(len, load.answers)) + 50)
    assert answer["version"] == 2 and answer["packages"][1].startswith("toolz:")
    assert load.failures == [], f"{len(load.failures)} of {load.sent} requests failed: {load.failures[:5]}"
    for answers in load.answers:
        versions = [a["version"] for a in answers]
        assert versions == sorted(versions), "a client saw the old version after the new one"
    assert {a["version"] for answers in load.answers for a in answers} == {1, 2}
    init = [p for p in service.progress.phases if p.name == "init"][0].detail
    assert "code swap (the environment adds toolz==" in init and "2 worker(s)" in init, init
    assert not [p for p in service.progress.phases if p.name in ("build", "start")], "the added package restarted"
    assert "start" in started  # (the first deploy did start one: the assertion above can fail)

    # a worker started after the swap (a crash, a timeout) serves the new environment too
    service.update(deployment_config=target.deploy_configuration(workers=2, timeout_ms=60_000))
    assert service.run({"data": [1]})["packages"][1].startswith("toolz:")

    # a change that is not only an addition restarts, and says which package moved
    requirements.write_text("toolz\n")
    (swap_app / "score.py").write_text(ENV_SCRIPT.format(imports="import toolz", version=3, packages='["toolz"]')
                                       .replace("import six\n", ""))
    service.update(inference_config=InferenceConfig(
        "score.py", source_directory=str(swap_app),
        environment=Environment.from_pip_requirements("swap-env", str(requirements))))
    assert service.run({"data": [1]})["version"] == 3
    said = [e.text for e in service.progress.events_since(0)]
    assert any("restarting the server: the environment changed six removed" in line for line in said), said
    assert "start" in [p.name for p in service.progress.phases]


def test_debugger_attaches_and_stops_a_request_at_a_breakpoint(
    target: type[Webservice], swap_app: Path, k_model: Model
) -> None:
    service = _deploy("debugged", target, swap_app, k_model)
    entry = service.debug(show=False)
    assert entry is not None and entry["request"] == "attach" and entry["connect"]["host"] == "127.0.0.1"
    assert service.debugger == entry
    mapping = entry["pathMappings"][0]
    assert mapping["localRoot"] == str(swap_app)
    remote_script = f"{mapping['remoteRoot']}/score.py"
    dap = DapClient(entry["connect"]["port"])
    try:
        dap.attach({remote_script: [ANSWER_LINE]}, entry["pathMappings"])
        outcome: dict[str, Any] = {}

        def score() -> None:
            try:
                outcome["answer"] = service.run({"data": [1]})
            except Exception as err:  # noqa: BLE001 - shown by the assertion below
                outcome["answer"] = err

        request = threading.Thread(target=score, daemon=True)
        request.start()
        stopped = dap.wait(event="stopped", timeout=60)
        assert stopped["body"]["reason"] == "breakpoint"
        thread_id = stopped["body"]["threadId"]
        frame = dap.request("stackTrace", threadId=thread_id)["body"]["stackFrames"][0]
        assert frame["line"] == ANSWER_LINE and frame["name"] == "run"
        assert Path(frame["source"]["path"]).name == "score.py"
        assert request.is_alive(), "the request finished although run() is paused"
        dap.request("continue", threadId=thread_id)
        request.join(timeout=30)
        assert outcome["answer"] == {"version": 1, "init": 1, "y": [3.0]}
    finally:
        dap.close()
    service.debug(False, show=False)
    assert service.debugger is None
    assert service.run({"data": [1]})["y"] == [3.0]


def test_debug_from_the_cli_and_the_panel(
    swap_app: Path, k_model: Model, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyter_mldeploy.cli import main
    from jupyter_mldeploy.widgets.deployment_panel import DeploymentPanel

    service = _deploy("debug-faces", ProcessWebservice, swap_app, k_model)
    assert main(["debug", "debug-faces"]) == 0
    printed = capsys.readouterr().out
    entry = Webservice("debug-faces").debugger
    assert entry is not None and f'"port": {entry["connect"]["port"]}' in printed and '"request": "attach"' in printed
    DapClient(entry["connect"]["port"]).close()  # something really listens there
    assert main(["debug", "debug-faces", "--off"]) == 0
    assert Webservice("debug-faces").debugger is None

    panel = DeploymentPanel(service, refresh_s=0.1)
    try:
        panel.debug_button.click()
        service.wait_for_deployment()
        assert service.debugger is not None
        assert "attach" in panel.status.value and "debugpy on 127.0.0.1" in panel.status.value and panel.debug_button.description == "Stop debug"
        panel.debug_button.click()
        service.wait_for_deployment()
        assert service.debugger is None and panel.debug_button.description == "Debug"
    finally:
        panel.close()
    assert service.run({"data": [1]})["y"] == [3.0]
