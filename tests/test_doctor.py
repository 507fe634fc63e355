"""``mldeploy doctor`` against this machine's real Docker engine, ports and registry."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from jupyter_mldeploy import doctor
from jupyter_mldeploy.cli import main


def test_port_check_names_a_taken_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        check = doctor.check_ports((port,))
        assert not check.ok
        assert f"{port} taken" in check.detail
        assert "--port" in check.fix
    assert doctor.check_ports((port,)).ok  # freed again


def test_unwritable_registry_is_a_required_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MLDEPLOY_HOME", str(blocker / "home"))
    check = doctor.check_registry()
    assert not check.ok and check.required
    assert "MLDEPLOY_HOME" in check.fix
    # the CLI still prints every other check and exits 1, without a traceback
    rc = main(["doctor"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "Registry" in out and "Ports" in out and "Traceback" not in out


def test_no_docker_engine_gives_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port where nothing answers
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    check = doctor.check_docker()
    assert not check.ok
    assert "no engine answers" in check.detail
    assert "docker" in check.fix.lower()


def test_json_output_lists_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    main(["doctor", "--json"])
    checks = json.loads(capsys.readouterr().out)
    names = [c["name"] for c in checks]
    assert names[:3] == ["Python", "Registry", "uv"]
    assert any(n.startswith("Base image") for n in names)
    assert all(set(c) == {"name", "ok", "detail", "fix", "required"} for c in checks)


@pytest.mark.docker
def test_real_engine_and_base_image(docker_client: object, base_image: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    engine = doctor.check_docker()
    assert engine.ok, engine.detail
    assert "API 1." in engine.detail
    monkeypatch.setenv("MLDEPLOY_BASE_IMAGE", base_image)
    present = doctor.check_base_image()
    assert present.ok and present.name == f"Base image {base_image}"
    monkeypatch.setenv("MLDEPLOY_BASE_IMAGE", "mldeploy/no-such-image:never")
    missing = doctor.check_base_image()
    assert not missing.ok
    assert "docker pull mldeploy/no-such-image:never" in missing.fix
    assert "MLDEPLOY_BASE_IMAGE" in missing.fix
