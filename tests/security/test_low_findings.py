"""The security review's low findings, each reproduced and now refused, limited or said plainly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import InferenceConfig, Model, Webservice
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.deploy.docker import LocalWebservice, image_tag
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.errors import InvalidArgumentError, ServiceExistsError

SCRIPT = "def init():\n    pass\n\ndef run(raw_data):\n    return [1]\n"


@pytest.fixture(autouse=True)
def _no_leaked_services(no_leaked_services: None) -> None:
    """These tests deploy: delete what they leave (see tests/conftest.py)."""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "score.py").write_text(SCRIPT)
    return folder


def test_a_255_character_service_name_deploys(app: Path, k_model: Model) -> None:
    name = "n" * 255  # valid names go up to 255 characters: the lock file name must not break
    service = deploy(name, [k_model], InferenceConfig("score.py", source_directory=str(app)),
                     ProcessWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=120)
    assert service.run("{}") == [1]
    assert Webservice(name).state == "Healthy"


def test_a_huge_version_number_is_a_clear_error(k_model: Model) -> None:
    from jupyter_mldeploy.cli import main

    with pytest.raises(InvalidArgumentError, match="at most 9223372036854775807"):
        Model.get("k", 99999999999999999999999)
    assert main(["models", "show", "k:99999999999999999999999"]) == 1  # one line, no OverflowError


def test_the_doctor_says_when_the_registry_is_not_a_database(mldeploy_home: Path, k_model: Model) -> None:
    for leftover in ("registry.db-wal", "registry.db-shm"):
        (mldeploy_home / leftover).unlink(missing_ok=True)
    (mldeploy_home / "registry.db").write_bytes(b"this is not a database" * 100)
    out = subprocess.run([sys.executable, "-m", "jupyter_mldeploy", "doctor"], check=False, capture_output=True, text=True,
                         timeout=120)
    (line,) = [line for line in out.stdout.splitlines() if "Registry" in line]
    assert not line.startswith("[ok") and "not an SQLite database" in line, out.stdout
    assert "restore registry.db from a backup" in out.stdout


def test_an_emptied_database_beside_stored_models_is_refused_not_taken_for_new(
    mldeploy_home: Path, k_model: Model
) -> None:
    code = textwrap.dedent("""
        import sys
        from jupyter_mldeploy import Model
        try:
            Model.list()
        except Exception as err:
            print(type(err).__name__, err)
        else:
            print("listed")
    """)
    for extra in ("registry.db-wal", "registry.db-shm"):
        (mldeploy_home / extra).unlink(missing_ok=True)
    (mldeploy_home / "registry.db").write_bytes(b"")  # the records are lost, the stored files are not
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.startswith("RegistryError") and "records were lost" in out.stdout


def test_a_failed_deploy_does_not_keep_its_name_and_the_hint_names_the_flag(app: Path, k_model: Model) -> None:
    (app / "broken.py").write_text("def init():\n    raise RuntimeError('no weights')\n\ndef run(d):\n    return 1\n")
    config = ProcessWebservice.deploy_configuration()
    failed = deploy("again", [k_model], InferenceConfig("broken.py", source_directory=str(app)), config)
    with pytest.raises(Exception, match="no weights"):
        failed.wait_for_deployment(timeout_sec=120)
    fixed = deploy("again", [k_model], InferenceConfig("score.py", source_directory=str(app)), config)
    fixed.wait_for_deployment(timeout_sec=120)  # the failed one is replaced, no overwrite needed
    assert fixed.run("{}") == [1]
    with pytest.raises(ServiceExistsError, match=r"overwrite=True \(--overwrite in the CLI"):
        deploy("again", [k_model], InferenceConfig("score.py", source_directory=str(app)), config)


def test_names_differing_only_in_case_get_their_own_images() -> None:
    assert image_tag("Ridge") != image_tag("ridge") == "mldeploy/service-ridge:latest"
    assert len(image_tag("R" * 255).split(":")[0]) <= 255


def test_serve_on_all_interfaces_without_a_key_warns(tmp_path: Path) -> None:
    from jupyter_mldeploy.scoring.settings import ServeSettings

    open_wide = ServeSettings(entry_script="score.py", host="0.0.0.0", debug=True)
    warnings = open_wide.exposure_warnings()
    assert any("--auth-key" in w for w in warnings) and any("--debug" in w for w in warnings)
    assert ServeSettings(entry_script="score.py").exposure_warnings() == []
    keyed = ServeSettings(entry_script="score.py", host="0.0.0.0", auth_keys=("k" * 16,))
    assert keyed.exposure_warnings() == []


def test_debug_mode_is_said_where_the_service_is_shown(app: Path, k_model: Model) -> None:
    service = deploy("shown", [k_model], InferenceConfig("score.py", source_directory=str(app)),
                     ProcessWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=120)
    text = service._repr_mimebundle_()["text/plain"]
    assert "debug:       on: run() tracebacks go into 500 answers" in text
    assert service.to_dict()["debug"] is True


@pytest.mark.docker
def test_containers_have_process_and_asked_for_resource_limits(
    docker_home: Path, app: Path, k_model: Model, docker_client: Any
) -> None:
    service = deploy("limited", [k_model], InferenceConfig("score.py", source_directory=str(app)),
                     LocalWebservice.deploy_configuration(memory_gb=0.5, cpu_cores=1))
    service.wait_for_deployment(timeout_sec=600)
    host = docker_client.containers.get("mldeploy-limited").attrs["HostConfig"]
    assert host["PidsLimit"] == 1024 and host["Memory"] == 512 * 1024 * 1024 and host["NanoCpus"] == 10**9
    assert service.run("{}") == [1]
    service.delete(delete_image=True)
    with pytest.raises(InvalidArgumentError, match="memory_gb must be a positive number"):
        LocalWebservice.deploy_configuration(memory_gb=0)


PEEKING_SCRIPT = textwrap.dedent(
    """
    import glob, os

    def init():
        pass

    def run(raw_data):
        seen = [f"{k}={v}" for k, v in os.environ.items()]
        for pid in ("self", str(os.getppid())):
            try:
                with open(f"/proc/{pid}/environ", "rb") as handle:
                    seen.append(handle.read().decode("utf-8", "replace"))
            except OSError:
                pass
        for path in glob.glob("/tmp/*") + glob.glob(os.path.join(os.getcwd(), "*")):
            try:
                with open(path, errors="replace") as handle:
                    seen.append(handle.read(4096))
            except OSError:
                pass
        return {"seen": "\\n".join(seen)}
    """
)


def _peeking_app(root: Path) -> Path:
    folder = root / "peek"
    folder.mkdir()
    (folder / "score.py").write_text(PEEKING_SCRIPT)
    return folder


def test_a_process_services_keys_are_not_where_its_script_can_read_them(tmp_path: Path, k_model: Model) -> None:
    service = deploy("keyed", [k_model], InferenceConfig("score.py", source_directory=str(_peeking_app(tmp_path))),
                     ProcessWebservice.deploy_configuration(auth_enabled=True))
    service.wait_for_deployment(timeout_sec=120)
    primary, secondary = service.get_keys()
    seen = service.run("{}")["seen"]
    assert primary not in seen and secondary not in seen  # not in its environment, its parent's, or files
    assert not (service._record.folder / "auth-keys").exists()  # read, then deleted
    service.regen_key("Primary")
    assert service.run("{}")["seen"] and service.get_keys()[0] != primary


@pytest.mark.docker
def test_a_containers_keys_are_not_in_docker_inspect_or_its_script(
    docker_home: Path, tmp_path: Path, k_model: Model, docker_client: Any
) -> None:
    service = deploy("dkeyed", [k_model], InferenceConfig("score.py", source_directory=str(_peeking_app(tmp_path))),
                     LocalWebservice.deploy_configuration(auth_enabled=True))
    service.wait_for_deployment(timeout_sec=600)
    try:
        primary, secondary = service.get_keys()
        inspected = str(docker_client.containers.get("mldeploy-dkeyed").attrs)
        assert primary not in inspected and secondary not in inspected  # env, labels, command: none has them
        seen = service.run("{}")["seen"]
        assert primary not in seen and secondary not in seen
        with pytest.raises(Exception, match="401"):
            from jupyter_mldeploy.client.client import ScoringClient

            with ScoringClient(f"http://127.0.0.1:{service.port}") as anonymous:
                anonymous.score("{}")
    finally:
        service.delete(delete_image=True)
