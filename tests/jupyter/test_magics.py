"""The notebook magics through a real IPython shell, and the same behaviours through the plain API.

Deployments use the process target (real scoring servers on 127.0.0.1 ephemeral ports).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from scale_script import SCALE_SCRIPT

from jupyter_mldeploy import Model
from jupyter_mldeploy.client.check import check_entry_script, try_entry_script
from jupyter_mldeploy.errors import (
    EntryScriptError,
    EntryScriptLoadError,
    InitError,
    InvalidArgumentError,
    ModelNotFoundError,
)

NO_RUN = "def init():\n    pass\n"
SYNTAX = "import json\n\ndef run(raw_data:\n    return 1\n"
INIT_FAILS = "def init():\n    print('loading...')\n    raise ValueError('no weights here')\n\ndef run(raw_data):\n    return 1\n"
INIT_ARGS = "def init(model):\n    pass\n\ndef run(raw_data):\n    return 1\n"


# --- loading and help ------------------------------------------------------------------------


def test_import_stays_light_and_load_ext_registers_documented_magics(shell: object) -> None:
    code = "import sys, jupyter_mldeploy; print('IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    magics = shell.magics_manager.magics  # type: ignore[attr-defined]
    assert {"score_script"} <= set(magics["cell"])
    assert {"deploy_local", "mldeploy"} <= set(magics["line"])
    doc = magics["line"]["deploy_local"].__doc__  # what %deploy_local? shows
    for option in ("--model", "--target", "--no-wait", "--entry-script"):
        assert option in doc
    assert "--test-file" in magics["cell"]["score_script"].__doc__


# --- %%score_script: write and check -------------------------------------------------------


def test_score_script_writes_and_checks(
    shell: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shell.run_cell_magic("score_script", "", SCALE_SCRIPT) is None  # type: ignore[attr-defined]
    assert (tmp_path / "score.py").read_text() == SCALE_SCRIPT
    out = capsys.readouterr().out
    assert f"Wrote {tmp_path / 'score.py'}" in out
    assert "OK: run() takes plain input, init() found" in out
    # the same through the API
    checked = check_entry_script(tmp_path / "score.py")
    assert (checked.kind, checked.has_init) == ("plain", True)


def test_score_script_creates_the_folder_or_says_why_it_cannot(
    shell: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run_cell_magic("score_script", "src/app/score.py", SCALE_SCRIPT)  # type: ignore[attr-defined]
    assert (tmp_path / "src" / "app" / "score.py").read_text() == SCALE_SCRIPT
    assert f"(created the folder {tmp_path / 'src' / 'app'})" in capsys.readouterr().out
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(UsageError, match=r"cannot write .*blocker/score.py: .*folder you can write to"):
        shell.run_cell_magic("score_script", "blocker/score.py", SCALE_SCRIPT)  # type: ignore[attr-defined]


def test_syntax_error_shows_its_line_as_one_usage_error(
    shell: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError, match=r"syntax error at line 3") as info:
        shell.run_cell_magic("score_script", "bad.py", SYNTAX)  # type: ignore[attr-defined]
    assert "def run(raw_data:" in str(info.value)
    assert (tmp_path / "bad.py").read_text() == SYNTAX  # written anyway, like %%writefile

    # in a cell: the UsageError line, no traceback
    shell.run_cell("%%score_script bad.py\n" + SYNTAX)  # type: ignore[attr-defined]
    captured = capsys.readouterr()
    assert "UsageError: Entry script" in captured.err and "line 3" in captured.err
    assert "Traceback" not in captured.out + captured.err

    with pytest.raises(EntryScriptLoadError, match="line 3"):
        check_entry_script(tmp_path / "bad.py")


def test_missing_run_and_bad_init_are_named(shell: object, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"has no run\(\) function"):
        shell.run_cell_magic("score_script", "norun.py", NO_RUN)  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match=r"init\(\) in .* takes required arguments \(model\)"):
        shell.run_cell_magic("score_script", "initargs.py", INIT_ARGS)  # type: ignore[attr-defined]
    with pytest.raises(EntryScriptError, match=r"no run\(\)"):
        check_entry_script(tmp_path / "norun.py")
    with pytest.raises(EntryScriptError, match=r"takes required arguments"):
        check_entry_script(tmp_path / "initargs.py")


def test_schema_script_is_recognised_and_bad_decorators_are_reported(
    shell: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = textwrap.dedent(
        """
        from inference_schema.schema_decorators import input_schema, output_schema
        from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

        @input_schema("data", StandardPythonParameterType([1.0, 2.0]))
        @output_schema(StandardPythonParameterType([1.0]))
        def run(data):
            return [sum(data)]
        """
    )
    shell.run_cell_magic("score_script", "schema.py --test '{\"data\": [1.5, 2.5]}'", schema)  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "OK: run() takes schema input, no init()" in out
    assert "[4.0]" in out
    both = "from jupyter_mldeploy import rawhttp\n" + schema.replace("def run", "@rawhttp\ndef run")
    with pytest.raises(UsageError, match="both @rawhttp and @input_schema"):
        shell.run_cell_magic("score_script", "both.py", both)  # type: ignore[attr-defined]


# --- %%score_script --test --------------------------------------------------------------------


def test_test_runs_init_and_run_with_the_models_laid_out(
    shell: object, tmp_path: Path, k_model: Model, capsys: pytest.CaptureFixture[str]
) -> None:
    result = shell.run_cell_magic(  # type: ignore[attr-defined]
        "score_script", "score.py --model k --test '{\"data\": [1, 2]}'", SCALE_SCRIPT
    )
    assert result.status == 200 and result.result == [3.0, 6.0]
    assert result.models == ["k:1"]
    out = capsys.readouterr().out
    assert "init loaded k = 3.0" in out
    assert "--- result (HTTP 200) ---\n[3.0, 6.0]" in out
    assert "init " in out and " ms, run " in out

    (tmp_path / "sample.json").write_text('{"data": [10]}')
    result = shell.run_cell_magic(  # type: ignore[attr-defined]
        "score_script",
        f"score.py --model {tmp_path / 'k.txt'} --test-file sample.json",
        SCALE_SCRIPT,
    )
    assert result.result == [30.0]

    # the plain API: a registered model, a fresh process each time (the kernel never imports the script)
    tried = try_entry_script(tmp_path / "score.py", '{"data": [2]}', [Model.get("k")])
    assert (tried.status, tried.result, tried.models) == (200, [6.0], ["k:1"])
    assert "init loaded k = 3.0" in tried.output
    assert not any("score" in m and "mldeploy_entry" in m for m in sys.modules)


def test_test_reports_bad_input_and_failing_init(
    shell: object, tmp_path: Path, k_model: Model, capsys: pytest.CaptureFixture[str]
) -> None:
    result = shell.run_cell_magic(  # type: ignore[attr-defined]
        "score_script", "score.py --model k --test '{\"data\": [1'", SCALE_SCRIPT
    )
    assert result.status == 400 and "Invalid JSON" in result.result["error"]["message"]
    assert "--- result (HTTP 400) ---" in capsys.readouterr().out

    with pytest.raises(
        UsageError, match=r"init\(\) in .* failed with ValueError: no weights here"
    ) as info:
        shell.run_cell_magic("score_script", "fails.py --test '{}'", INIT_FAILS)  # type: ignore[attr-defined]
    assert "loading..." in str(info.value)  # the script's output comes with the error
    with pytest.raises(InitError, match="no weights here"):
        try_entry_script(tmp_path / "fails.py", "{}")
    with pytest.raises(InvalidArgumentError, match="JSON text"):
        try_entry_script(tmp_path / "fails.py", {"data": 1})  # type: ignore[arg-type]


def test_bad_model_arguments_are_one_usage_error_line(shell: object, k_model: Model) -> None:
    with pytest.raises(UsageError, match="VERSION must be a number") as info:
        shell.run_cell_magic("score_script", "--model k:x --test '{}'", SCALE_SCRIPT)  # type: ignore[attr-defined]
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError, match="nope"):
        shell.run_cell_magic("score_script", "--model nope --test '{}'", SCALE_SCRIPT)  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="unrecognized arguments: --colour"):
        shell.run_cell_magic("score_script", "--colour red", SCALE_SCRIPT)  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="--test-file missing.json: cannot read it"):
        shell.run_cell_magic("score_script", "--test-file missing.json", SCALE_SCRIPT)  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="not both"):
        shell.run_cell_magic("score_script", "--test '{}' --test-file x.json", SCALE_SCRIPT)  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="ghost"):
        shell.run_cell_magic("score_script", "--service ghost", SCALE_SCRIPT)  # type: ignore[attr-defined]
    with pytest.raises(ModelNotFoundError):
        from jupyter_mldeploy.deploy import models_from_specs

        models_from_specs(["nope"])


# --- %deploy_local, live reload, %mldeploy ------------------------------------------------------


def test_deploy_local_then_edit_reloads_the_service(
    shell: object, tmp_path: Path, k_model: Model, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "score.py").write_text(SCALE_SCRIPT)
    service = shell.run_line_magic("deploy_local", "scale --model k --target process")  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    for phase in ("[resolve]", "[environment]", "[start]", "[init]", "[ready]"):
        assert phase in out
    assert "ProcessWebservice(name='scale', state='Healthy'" in out
    assert service.run({"data": [2]}) == [6.0]

    with pytest.raises(UsageError, match="exists already"):
        shell.run_line_magic("deploy_local", "scale --model k --target process")  # type: ignore[attr-defined]

    # editing the deployed file reloads the running service (no --service needed)
    doubled = SCALE_SCRIPT.replace("x * k", "x * k * 2")
    shell.run_cell_magic("score_script", "score.py", doubled)  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "Reloading service 'scale' on score.py (no rebuild)" in out
    assert service.run({"data": [2]}) == [12.0]

    # --service on a service running another file: one clear line
    with pytest.raises(UsageError, match=r"service 'scale' runs .*score.py, not .*other.py"):
        shell.run_cell_magic("score_script", "other.py --service scale", SCALE_SCRIPT)  # type: ignore[attr-defined]

    # %mldeploy services / test / logs / delete
    services = shell.run_line_magic("mldeploy", "services")  # type: ignore[attr-defined]
    assert [s.name for s in services] == ["scale"] and services[0].run({"data": [1]}) == [6.0]
    assert "scale" in repr(services) and "Healthy" in repr(services)  # shown as the CLI's table
    answer = shell.run_line_magic("mldeploy", "test scale '{\"data\": [1]}'")  # type: ignore[attr-defined]
    assert answer == [6.0]
    shell.run_line_magic("mldeploy", "logs scale --tail 50")  # type: ignore[attr-defined]
    assert "init loaded k = 3.0" in capsys.readouterr().out
    shell.run_line_magic("mldeploy", "delete scale")  # type: ignore[attr-defined]
    assert "deleted scale" in capsys.readouterr().out
    with pytest.raises(UsageError, match="scale"):
        shell.run_line_magic("mldeploy", "test scale '{}'")  # type: ignore[attr-defined]


def test_deploy_local_no_wait_returns_the_service_at_once(
    shell: object, tmp_path: Path, k_model: Model
) -> None:
    (tmp_path / "score.py").write_text(SCALE_SCRIPT)
    shell.run_cell("svc = %deploy_local quick --model k --target process --no-wait")  # type: ignore[attr-defined]
    service = shell.user_ns["svc"]  # type: ignore[attr-defined]
    assert service.name == "quick"
    service.wait_for_deployment(timeout_sec=120)
    assert service.run({"data": [1]}) == [3.0]


def test_deploy_local_errors_are_usage_errors(
    shell: object, tmp_path: Path, k_model: Model
) -> None:
    with pytest.raises(UsageError, match="give at least one --model"):
        shell.run_line_magic("deploy_local", "svc --target process")  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="invalid choice: 'cloud'"):
        shell.run_line_magic("deploy_local", "svc --model k --target cloud")  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="entry script .missing.py. not found"):
        shell.run_line_magic(  # type: ignore[attr-defined]
            "deploy_local", "svc --model k --target process --entry-script missing.py"
        )


def test_mldeploy_register_and_models(
    shell: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "w.bin").write_bytes(b"weights")
    model = shell.run_line_magic("mldeploy", "register w.bin --name ridge --tag stage=dev")  # type: ignore[attr-defined]
    assert "registered ridge:1" in capsys.readouterr().out and model.id == "ridge:1"
    models = shell.run_line_magic("mldeploy", "models")  # type: ignore[attr-defined]
    assert [m.id for m in models] == ["ridge:1"] and "ridge" in repr(models)
    assert Model.get("ridge").tags == {"stage": "dev"}  # the same registry as the API

    with pytest.raises(UsageError, match="invalid choice: 'frobnicate'"):
        shell.run_line_magic("mldeploy", "frobnicate")  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="required: --name"):
        shell.run_line_magic("mldeploy", "register w.bin")  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="give the request body"):
        shell.run_line_magic("mldeploy", "test ridge")  # type: ignore[attr-defined]


def test_mldeploy_package_writes_a_dockerfile(
    shell: object, tmp_path: Path, k_model: Model, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "score.py").write_text(SCALE_SCRIPT)
    pkg = shell.run_line_magic(  # type: ignore[attr-defined]
        "mldeploy",
        f"package --model k --entry-script score.py --dockerfile-only {tmp_path / 'pkg'} --quiet",
    )
    assert "dockerfile:" in capsys.readouterr().out and pkg.generate_dockerfile
    assert (tmp_path / "pkg" / "Dockerfile").is_file()


def test_command_help_is_printed_and_bad_quotes_are_one_line(
    shell: object, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run_line_magic("mldeploy", "register -h")  # type: ignore[attr-defined]
    assert "--name" in capsys.readouterr().out
    with pytest.raises(UsageError, match="close every quote"):
        shell.run_line_magic("mldeploy", 'test svc \'{"data": 1}')  # type: ignore[attr-defined]
