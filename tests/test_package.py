"""Package-level promises: light import, lazy API names, the CLI's error contract, CI's no-skip rule."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jupyter_mldeploy
from jupyter_mldeploy import errors
from jupyter_mldeploy.cli import main

HEAVY = ("docker", "ipywidgets", "tornado", "uvicorn", "starlette", "IPython", "numpy", "pandas")


def test_import_is_light() -> None:
    code = (
        "import sys, jupyter_mldeploy, jupyter_mldeploy.errors;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        jupyter_mldeploy.Nope  # noqa: B018


def test_all_lists_every_lazy_name_and_each_resolves() -> None:
    assert set(jupyter_mldeploy._LAZY) <= set(jupyter_mldeploy.__all__)
    for name in jupyter_mldeploy.__all__:
        assert getattr(jupyter_mldeploy, name) is not None, name


def test_every_error_derives_from_the_base() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.MLDeployError), name


def test_cli_turns_api_errors_into_one_line(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_mldeploy.cli import doctor as doctor_cli

    def boom(args: object) -> int:
        raise errors.InvalidNameError("invalid model name 'a/b': use letters")

    monkeypatch.setattr(doctor_cli, "run", boom)
    assert main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert err == "mldeploy: error: invalid model name 'a/b': use letters\n"


def test_cli_hides_internal_tracebacks(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_mldeploy.cli import doctor as doctor_cli

    def boom(args: object) -> int:
        raise RuntimeError("kaput")

    monkeypatch.setattr(doctor_cli, "run", boom)
    monkeypatch.delenv("MLDEPLOY_DEBUG", raising=False)
    assert main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: kaput" in err and "Traceback" not in err


def test_console_script_runs() -> None:
    exe = Path(sys.executable).with_name("mldeploy")
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"mldeploy {jupyter_mldeploy.__version__}"


def test_ci_turns_skipped_docker_tests_into_failures(tmp_path: Path) -> None:
    """With CI=true a skipped test marked 'docker' fails the run; without CI it is a skip."""
    root = Path(__file__).resolve().parent.parent
    (tmp_path / "conftest.py").write_text((root / "tests" / "conftest.py").read_text())
    (tmp_path / "test_x.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.docker
        def test_needs_docker():
            pytest.skip("no engine here")

        def test_other():
            pytest.skip("ordinary skips stay skips")
    """))
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\nmarkers =\n    docker: needs docker\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    local = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert local.returncode == 0, local.stdout
    assert "2 skipped" in local.stdout
    ci = subprocess.run(cmd, cwd=tmp_path, env={**env, "CI": "true"}, capture_output=True, text=True)
    assert ci.returncode == 1, ci.stdout
    assert "1 failed" in ci.stdout and "1 skipped" in ci.stdout
    assert "a test that needs Docker was skipped" in ci.stdout


@pytest.mark.parametrize("bad", ["ridge\n", "a/b", "..", "", " x", "x" * 256, "-x", 3])
def test_names_are_validated_whole(bad: object) -> None:
    from jupyter_mldeploy._names import validate_name

    with pytest.raises(errors.InvalidNameError, match="invalid model name"):
        validate_name(bad)


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[0] for line in block] == ["scripts/lab", "scripts/test"]
    for line in block:
        assert os.access(root / line.split()[0], os.X_OK), line
    assert block[1] in (root / ".ci" / "run").read_text().splitlines()
