"""The local process target end to end: real scoring servers on 127.0.0.1, real registry models."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jupyter_mldeploy import InferenceConfig, Model
from jupyter_mldeploy.deploy import deploy as api_deploy
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.deploy.service import Webservice, WebserviceState
from jupyter_mldeploy.errors import (
    DeploymentError,
    InvalidArgumentError,
    PortInUseError,
    ScoringRequestError,
    ServiceExistsError,
    ServiceNotFoundError,
)



def deploy(name: str, models: list, inference_config: object, deployment_config: object = None,
           overwrite: bool = False) -> Webservice:
    """These tests are about the process target: pin it (with no config the default may be Docker)."""
    return api_deploy(name, models, inference_config,
                      deployment_config or ProcessWebservice.deploy_configuration(), overwrite)

def _deploy(name: str, models: list, app_dir: Path, **config: object) -> Webservice:
    service = deploy(
        name, models, InferenceConfig("score.py", source_directory=str(app_dir)),
        ProcessWebservice.deploy_configuration(**config),
    )
    service.wait_for_deployment(timeout_sec=120)
    return service


def test_deploy_score_logs_and_delete(app_dir: Path, k_model: Model, capsys: pytest.CaptureFixture[str]) -> None:
    service = deploy("scale", [k_model], InferenceConfig("score.py", source_directory=str(app_dir)),
                     ProcessWebservice.deploy_configuration())
    service.wait_for_deployment(show_output=True, timeout_sec=120)
    shown = capsys.readouterr().out
    for phase in ("[resolve]", "[environment]", "[start]", "[init]", "[ready]"):
        assert phase in shown
    assert "Healthy at http://127.0.0.1:" in shown

    assert service.state == WebserviceState.HEALTHY
    assert service.scoring_uri == f"http://127.0.0.1:{service.port}/score"
    assert service.swagger_uri == f"http://127.0.0.1:{service.port}/swagger.json"
    assert service.models == ["k:1"]
    assert service.run({"data": [1, 2.5]}) == [3.0, 7.5]
    assert service.run('{"data": [2]}') == [6.0]
    # AZUREML_MODEL_DIR was the single model's version folder, as in Azure
    assert "azureml-models/k/1/k.txt" in service.get_logs()

    port = service.port
    service.delete()
    assert service.state == WebserviceState.DELETED
    assert Webservice.list() == []
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))
    with pytest.raises(ServiceNotFoundError, match="no service named 'scale'"):
        Webservice("scale")


def test_run_sends_bytes_as_json_as_azure_ml_v1_did(app_dir: Path, k_model: Model) -> None:
    """v1 code passes ``bytes(json.dumps(...), encoding="utf-8")``; a schema script must get it as JSON."""
    (app_dir / "score.py").write_text(textwrap.dedent("""
        from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
        from inference_schema.schema_decorators import input_schema

        def init():
            pass

        @input_schema("data", StandardPythonParameterType([[1.0, 2.0]]))
        def run(data):
            return [sum(row) for row in data]
    """))
    service = _deploy("bytes", [k_model], app_dir)
    assert service.run(bytes('{"data": [[1, 2], [3, 4.5]]}', encoding="utf-8")) == [3, 7.5]
    assert service.run('{"data": [[1, 1]]}') == [2]
    service.delete()


def test_failing_init_raises_with_traceback_quickly(app_dir: Path, k_model: Model) -> None:
    (app_dir / "score.py").write_text(textwrap.dedent("""
        def init():
            settings = {}
            return settings["threshold"]

        def run(raw_data):
            return raw_data
    """))
    service = deploy("broken", [k_model], InferenceConfig("score.py", source_directory=str(app_dir)),
                     ProcessWebservice.deploy_configuration())
    with pytest.raises(DeploymentError) as info:
        service.wait_for_deployment(timeout_sec=120)
    message = str(info.value)
    assert "init() of score.py failed" in message
    assert "KeyError" in message and "threshold" in message
    assert 'score.py", line 4, in init' in message
    assert "service.reload()" in message
    assert service.state == WebserviceState.FAILED
    init_phase = [p for p in service.progress.phases if p.name == "init"][0]
    assert init_phase.ok is False

    # fixing the script and reloading brings it up, no new deployment needed
    (app_dir / "score.py").write_text("def init():\n    pass\n\ndef run(raw_data):\n    return 'fixed'\n")
    service.reload()
    assert service.state == WebserviceState.HEALTHY
    assert service.run({"data": 1}) == "fixed"


def test_code_edit_then_reload_or_update_serves_new_code(app_dir: Path, k_model: Model) -> None:
    service = _deploy("edit", [k_model], app_dir)
    port = service.port
    script = app_dir / "score.py"
    script.write_text(script.read_text().replace("x * k", "x * k + 1"))
    service.reload()
    assert service.run({"data": [1]}) == [4.0]
    script.write_text(script.read_text().replace("x * k + 1", "-x"))
    service.update(inference_config=InferenceConfig("score.py", source_directory=str(app_dir)))
    assert service.run({"data": [1]}) == [-1]
    assert service.port == port  # same address after reload and update


def test_update_to_a_new_model_version(app_dir: Path, k_model: Model, tmp_path: Path) -> None:
    service = _deploy("models", [k_model], app_dir)
    (tmp_path / "k.txt").write_text("10")
    v2 = Model.register(str(tmp_path / "k.txt"), "k")
    service.update(models=[v2])
    assert service.models == ["k:2"]
    assert service.run({"data": [1]}) == [10.0]


def test_several_models_use_the_azure_multi_model_layout(app_dir: Path, k_model: Model, tmp_path: Path) -> None:
    (tmp_path / "other.bin").write_bytes(b"\x00\x01")
    other = Model.register(str(tmp_path / "other.bin"), "other")
    (app_dir / "score.py").write_text(textwrap.dedent("""
        import os
        def init():
            global found
            root = os.environ["AZUREML_MODEL_DIR"]
            found = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
        def run(raw_data):
            return found
    """))
    service = _deploy("multi", [k_model, other], app_dir)
    assert service.run("{}") == ["k/1/k.txt", "other/1/other.bin"]


def test_local_path_models(app_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "k.txt").write_text("2")
    service = _deploy("local", [str(tmp_path / "k.txt")], app_dir)
    assert service.models == ["k:1"]
    assert service.run({"data": [4]}) == [8.0]


def test_killed_server_shows_failed_and_reload_recovers(app_dir: Path, k_model: Model) -> None:
    service = _deploy("crashy", [k_model], app_dir)
    os.killpg(service._record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while service.state != WebserviceState.FAILED and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.state == WebserviceState.FAILED
    with pytest.raises(ScoringRequestError):
        service.run({"data": [1]})
    service.reload()
    assert service.state == WebserviceState.HEALTHY
    assert service.run({"data": [1]}) == [3.0]


def test_name_taken_needs_overwrite(app_dir: Path, k_model: Model) -> None:
    _deploy("same", [k_model], app_dir)
    with pytest.raises(ServiceExistsError, match="overwrite=True"):
        deploy("same", [k_model], InferenceConfig("score.py", source_directory=str(app_dir)))
    replaced = deploy("same", [k_model], InferenceConfig("score.py", source_directory=str(app_dir)),
                      overwrite=True)
    replaced.wait_for_deployment(timeout_sec=120)
    assert [s.name for s in Webservice.list()] == ["same"]
    assert replaced.run({"data": [1]}) == [3.0]


def test_port_conflicts_name_the_port_and_the_holder(app_dir: Path, k_model: Model) -> None:
    first = _deploy("first", [k_model], app_dir)
    second = deploy("second", [k_model], InferenceConfig("score.py", source_directory=str(app_dir)),
                    ProcessWebservice.deploy_configuration(port=first.port))
    with pytest.raises(PortInUseError) as info:
        second.wait_for_deployment(timeout_sec=60)
    assert f"port {first.port}" in str(info.value) and "'first'" in str(info.value)
    with socket.socket() as sock:  # a foreign program's port: named, no holder
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        third = deploy("third", [k_model], InferenceConfig("score.py", source_directory=str(app_dir)),
                       ProcessWebservice.deploy_configuration(port=port))
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is taken; choose another"):
            third.wait_for_deployment(timeout_sec=60)


def test_found_again_after_the_deploying_process_exits(app_dir: Path, k_model: Model) -> None:
    code = textwrap.dedent(f"""
        from jupyter_mldeploy import InferenceConfig, Model
        from jupyter_mldeploy import ProcessWebservice
        from jupyter_mldeploy.deploy import deploy
        s = deploy("survivor", [Model("k", 1)], InferenceConfig("score.py", source_directory={str(app_dir)!r}),
                   ProcessWebservice.deploy_configuration())
        s.wait_for_deployment(timeout_sec=120)
        print(s.port)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    port = int(out.stdout.strip())
    service = Webservice("survivor")
    assert isinstance(service, ProcessWebservice)
    assert service.port == port
    assert service.state == WebserviceState.HEALTHY
    assert service.run({"data": [2]}) == [6.0]
    assert [s.name for s in Webservice.list(compute_type="process")] == ["survivor"]
    assert Webservice.list(compute_type="docker") == []
    service.delete()
    assert Webservice.list() == []


def test_auth_keys(app_dir: Path, k_model: Model) -> None:
    from jupyter_mldeploy.client.client import ScoringClient

    service = _deploy("locked", [k_model], app_dir, auth_enabled=True)
    primary, secondary = service.get_keys()
    assert primary and secondary and primary != secondary
    assert service.run({"data": [1]}) == [3.0]  # run() sends the primary key
    with ScoringClient(f"http://127.0.0.1:{service.port}") as anonymous:
        with pytest.raises(ScoringRequestError) as info:
            anonymous.score({"data": [1]})
        assert info.value.status == 401
    service.regen_key("Primary")
    new_primary, same_secondary = service.get_keys()
    assert new_primary != primary and same_secondary == secondary
    with ScoringClient(f"http://127.0.0.1:{service.port}", auth_key=primary) as old:
        with pytest.raises(ScoringRequestError) as info:
            old.score({"data": [1]})
        assert info.value.status == 401
    with ScoringClient(f"http://127.0.0.1:{service.port}", auth_key=secondary) as second:
        assert second.score({"data": [1]}) == [3.0]


def test_keys_when_auth_is_off(app_dir: Path, k_model: Model) -> None:
    service = _deploy("open", [k_model], app_dir)
    with pytest.raises(InvalidArgumentError, match="auth_enabled=True"):
        service.get_keys()


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="port must be"):
        ProcessWebservice.deploy_configuration(port=70000)
    with pytest.raises(InvalidArgumentError, match="InferenceConfig"):
        deploy("x", [], None)
    with pytest.raises(InvalidArgumentError, match="service name"):
        deploy("bad/name", [], None)


@pytest.mark.slow
def test_deploy_in_its_own_environment(app_dir: Path, k_model: Model, tmp_path: Path) -> None:
    from jupyter_mldeploy import Environment

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six\n")
    env = Environment.from_pip_requirements("scale-env", str(requirements))
    (app_dir / "score.py").write_text(textwrap.dedent("""
        import sys
        import six

        def init():
            pass

        def run(raw_data):
            return {"python": sys.executable, "six": six.__version__}
    """))
    service = deploy("isolated", [k_model], InferenceConfig("score.py", source_directory=str(app_dir),
                                                            environment=env))
    service.wait_for_deployment(timeout_sec=300)
    answer = service.run("{}")
    assert answer["python"] != sys.executable
    assert "/envs/" in answer["python"]
    env_phase = [p for p in service.progress.phases if p.name == "environment"][0]
    assert "scale-env" in env_phase.detail
    # the same environment again is reused at once
    again = deploy("isolated-2", [k_model], InferenceConfig("score.py", source_directory=str(app_dir),
                                                            environment=env))
    again.wait_for_deployment(timeout_sec=300)
    assert "reused" in [p for p in again.progress.phases if p.name == "environment"][0].detail
    assert again.run("{}")["python"] == answer["python"]


def test_model_deploy_accepts_azure_call_shapes(app_dir: Path, k_model: Model) -> None:
    class Workspace:  # what Azure code passes first; ignored here
        name = "ws"

    config = InferenceConfig("score.py", source_directory=str(app_dir))
    service = Model.deploy(Workspace(), "azure-style", [k_model], config,
                           ProcessWebservice.deploy_configuration(), show_output=True)
    service.wait_for_deployment(timeout_sec=120)
    assert service.run({"data": [1]}) == [3.0]
    again = Model.deploy(name="azure-style", models=[k_model], inference_config=config,
                         deployment_config=ProcessWebservice.deploy_configuration(), overwrite=True)
    again.wait_for_deployment(timeout_sec=120)
    assert again.state == WebserviceState.HEALTHY
    with pytest.raises(InvalidArgumentError, match="deployment_target"):
        Model.deploy("x", [k_model], config, deployment_target=object())


def test_stale_objects_do_not_orphan_servers(app_dir: Path, k_model: Model) -> None:
    from jupyter_mldeploy.deploy._procs import group_members as _group_members

    first = _deploy("shared", [k_model], app_dir)
    other = Webservice("shared")  # e.g. another kernel or the CLI
    # a settings change starts a new server process (reload() would swap code in the same one);
    # `first` still holds the old pid
    other.update(deployment_config=ProcessWebservice.deploy_configuration(timeout_ms=30_000))
    new_pid = other._record.pid
    assert new_pid != first._record.pid
    port = first.port
    first.delete()  # must stop the server that runs now, not only the one it knew
    assert _group_members(new_pid) == []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_an_object_found_again_mid_deploy_follows_the_deploy(app_dir: Path, k_model: Model) -> None:
    deploying = deploy("followed", [k_model], InferenceConfig("score.py", source_directory=str(app_dir)))
    watcher = Webservice("followed")  # another kernel, the CLI, a panel: no operation of its own
    watcher.wait_for_deployment(timeout_sec=120)  # sees the process the deploy started
    assert watcher.state == WebserviceState.HEALTHY and watcher.port == deploying.port
    deploying.wait_for_deployment(timeout_sec=60)
    deploying.delete()
    assert watcher.state == WebserviceState.DELETED  # deleted elsewhere: Deleted, not Failed


def test_failed_model_update_keeps_the_service_serving(app_dir: Path, k_model: Model, tmp_path: Path) -> None:
    from jupyter_mldeploy.errors import ModelPathError

    service = _deploy("steady", [k_model], app_dir)
    with pytest.raises(ModelPathError, match="does not exist"):
        service.update(models=[str(tmp_path / "typo.txt")])
    assert service.state == WebserviceState.HEALTHY
    service.reload()  # the old models are still in place
    assert service.run({"data": [1]}) == [3.0]


def test_local_model_folder_with_a_link_outside_is_refused(app_dir: Path, tmp_path: Path) -> None:
    from jupyter_mldeploy.errors import PathEscapeError

    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.pem").write_text("private")
    model = tmp_path / "mymodel"
    model.mkdir()
    (model / "k.txt").write_text("1")
    (model / "link").symlink_to(secret)
    service = deploy("leaky", [str(model)], InferenceConfig("score.py", source_directory=str(app_dir)))
    with pytest.raises(PathEscapeError, match="links to .*secret, outside"):
        service.wait_for_deployment(timeout_sec=60)


def test_kernel_settings_do_not_leak_into_the_service(app_dir: Path, k_model: Model,
                                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "k.txt").write_text("100")
    monkeypatch.setenv("MLDEPLOY_MODEL_DIR", str(elsewhere))
    monkeypatch.setenv("MLDEPLOY_CORS_ORIGINS", "*")
    service = _deploy("own-settings", [k_model], app_dir)
    assert service.run({"data": [1]}) == [3.0]  # its own model, not the kernel's MLDEPLOY_MODEL_DIR
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    conn.request("POST", "/score", body='{"data": [1]}', headers={"Origin": "http://evil.example"})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    assert answer.getheader("access-control-allow-origin") is None


def test_log_file_is_private(app_dir: Path, k_model: Model) -> None:
    service = _deploy("private-log", [k_model], app_dir)
    assert service._record.log_path.stat().st_mode & 0o077 == 0


def test_model_package_accepts_azure_call_shapes(app_dir: Path, k_model: Model, tmp_path: Path) -> None:
    class Workspace:
        name = "ws"

    pkg = Model.package(Workspace(), [k_model], InferenceConfig("score.py", source_directory=str(app_dir)),
                        generate_dockerfile=True)
    pkg.wait_for_creation()
    out = pkg.save(tmp_path / "imagefiles")
    assert (out / "Dockerfile").read_text().startswith("# Written by jupyter-mldeploy")
    assert (out / "azureml-models" / "k" / "1" / "k.txt").read_text() == "3"
    assert (out / "src" / "score.py").is_file()

    # and without the workspace, as the Azure docs call it
    pkg = Model.package([k_model], InferenceConfig("score.py", source_directory=str(app_dir)),
                        generate_dockerfile=True)
    pkg.wait_for_creation()
    assert (pkg.save(tmp_path / "again") / "azureml-models" / "k" / "1" / "k.txt").read_text() == "3"


def test_package_without_an_environment_gets_the_kernels_packages_and_warns_about_the_rest(
    app_dir: Path, k_model: Model, tmp_path: Path
) -> None:
    from importlib import metadata

    (app_dir / "score.py").write_text((app_dir / "score.py").read_text() + textwrap.dedent("""
        import joblib  # noqa
        try:
            import mldeploy_optional_not_installed  # noqa
        except ImportError:
            pass
    """))
    pkg = Model.package([k_model], InferenceConfig("score.py", source_directory=str(app_dir)),
                        generate_dockerfile=True)
    pkg.wait_for_creation()
    logs = pkg.get_logs()
    assert f"as installed in this kernel: joblib=={metadata.version('joblib')}" in logs
    assert "warning: score.py imports mldeploy_optional_not_installed, which the image will not have" in logs
    assert "--env requirements.txt" in logs


def test_a_process_service_gets_a_clean_environment(
    tmp_path: Path, k_model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel's secrets never reach run(): only what a service needs, plus environment_variables."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "kernel-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-kernel")
    monkeypatch.setenv("MLDEPLOY_CORS_ORIGINS", "*")  # the kernel's own server settings stay out too
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    app = tmp_path / "envapp"
    app.mkdir()
    (app / "score.py").write_text(textwrap.dedent("""
        import os
        def init():
            pass
        def run(raw_data):
            return {k: os.environ.get(k) for k in
                    ("AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "MLDEPLOY_CORS_ORIGINS", "MY_SETTING", "LC_ALL", "PATH")}
    """))
    service = deploy("clean", [k_model], InferenceConfig("score.py", source_directory=str(app)),
                     ProcessWebservice.deploy_configuration(environment_variables={"MY_SETTING": "on"}))
    service.wait_for_deployment(timeout_sec=120)
    seen = service.run("{}")
    assert seen["AWS_SECRET_ACCESS_KEY"] is None and seen["GITHUB_TOKEN"] is None
    assert not seen["MLDEPLOY_CORS_ORIGINS"]  # the service's own (empty) setting, not the kernel's "*"
    assert seen["MY_SETTING"] == "on" and seen["LC_ALL"] == "C.UTF-8" and seen["PATH"]
