"""Loading entry scripts: fresh modules, precise errors for broken scripts, init() failures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from entry_helpers import make_request, response_json, script_path

from jupyter_mldeploy.errors import EntryScriptError, EntryScriptLoadError, InitError, MLDeployError
from jupyter_mldeploy.scoring.entry_script import load_entry_script


def test_init_raising_gives_init_error_with_script_traceback(load_script):
    script = load_script("init_raises", init=False)
    with pytest.raises(InitError) as info:
        script.init()
    err = info.value
    assert isinstance(err, MLDeployError)
    message = str(err)
    assert "init() in" in message and "init_raises.py" in message
    assert "FileNotFoundError: model weights not found at /nonexistent/weights.bin" in message
    assert f"{script_path('init_raises')}:5" in message  # the line that raised
    tb = err.traceback_text
    assert tb.startswith("Traceback (most recent call last):")
    assert 'init_raises.py", line 9, in init' in tb and "in load_weights" in tb
    assert "entry_script.py" not in tb


def test_syntax_error_names_file_line_and_code(load_script):
    with pytest.raises(EntryScriptLoadError) as info:
        load_script("syntax_error")
    message = str(info.value)
    assert "syntax error at line 5" in message and "'[' was never closed" in message
    assert "return [1, 2," in message
    assert "SyntaxError" in info.value.traceback_text and "syntax_error.py" in info.value.traceback_text
    assert not any(name.startswith("mldeploy_entry_") and name.endswith("syntax_error") for name in sys.modules)


def test_missing_package_says_to_add_it(load_script):
    with pytest.raises(EntryScriptLoadError) as info:
        load_script("init_import_error")
    message = str(info.value)
    assert "ModuleNotFoundError: No module named 'mldeploy_no_such_package'" in message
    assert "Add the missing package" in message
    assert "init_import_error.py:5" in message
    assert 'init_import_error.py", line 5, in <module>' in info.value.traceback_text


def test_exception_at_import_time(tmp_path: Path, load_script):
    script_file = tmp_path / "boom.py"
    script_file.write_text("raise RuntimeError('config file missing')\n\ndef run(x):\n    return x\n")
    with pytest.raises(EntryScriptLoadError, match="RuntimeError: config file missing") as info:
        load_script(script_file)
    assert "boom.py\", line 1, in <module>" in info.value.traceback_text


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("def init():\n    pass\n", "has no run() function"),
        ("run = 5\n", "has no run() function"),
        ("def run():\n    return 1\n", "takes no argument for the input data"),
        ("def run(request_headers):\n    return 1\n", "request_headers alone is not enough"),
        ("init = 3\ndef run(x):\n    return x\n", "init is not a function"),
        (
            (
                "from azureml.contrib.services.aml_request import rawhttp\n"
                "from inference_schema.schema_decorators import input_schema\n"
                "from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType\n"
                "@rawhttp\n@input_schema('x', StandardPythonParameterType(1))\ndef run(x):\n    return x\n"
            ),
            "both @rawhttp and @input_schema",
        ),
    ],
)
def test_unusable_run_is_an_entry_script_error(tmp_path: Path, load_script, source, fragment):
    script_file = tmp_path / "bad.py"
    script_file.write_text(source)
    with pytest.raises(EntryScriptError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_script(script_file)


def test_missing_file_and_folder(tmp_path: Path):
    with pytest.raises(EntryScriptError, match="Entry script not found: .*nope.py does not exist"):
        load_entry_script(tmp_path / "nope.py")
    with pytest.raises(EntryScriptError, match="is a folder, not an entry script"):
        load_entry_script(tmp_path)


def test_no_init_is_allowed(tmp_path: Path, load_script):
    script_file = tmp_path / "noinit.py"
    script_file.write_text("def run(data):\n    return {'n': len(data)}\n")
    script = load_script(script_file)
    assert response_json(script.handle(make_request(body=b"abc"))) == {"n": 3}


def test_loading_twice_gives_independent_modules(load_script):
    first = load_script("plain_json")
    second = load_script("plain_json")
    assert first.module is not second.module
    second.module.model["bias"] = 100.0
    body = b'{"data": [[0, 0, 0]]}'
    assert response_json(first.handle(make_request(body=body))) == {"predictions": [0.5]}
    assert response_json(second.handle(make_request(body=body))) == {"predictions": [100.0]}


def test_source_dir_goes_first_on_sys_path(tmp_path: Path, load_script):
    code = tmp_path / "code"
    code.mkdir()
    (code / "mldeploy_helper_mod.py").write_text("FACTOR = 7\n")
    (code / "score.py").write_text(
        "import mldeploy_helper_mod\n\ndef init():\n    pass\n\ndef run(raw):\n    return mldeploy_helper_mod.FACTOR\n"
    )
    try:
        script = load_script(code / "score.py")
        assert sys.path[0] == str(code)
        assert response_json(script.handle(make_request(body=b"x"))) == 7
    finally:
        sys.modules.pop("mldeploy_helper_mod", None)


def test_driver_module_run_is_used(tmp_path: Path, load_script):
    (tmp_path / "real_score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return 'real'\n")
    (tmp_path / "driver.py").write_text(
        "import real_score as driver_module\n\ndef init():\n    driver_module.init()\n\n"
        "def run(raw):\n    return 'driver'\n"
    )
    try:
        script = load_script(tmp_path / "driver.py")
        assert response_json(script.handle(make_request(body=b"x"))) == "real"
    finally:
        sys.modules.pop("real_score", None)


def test_multi_model_script_loads_models_with_get_model_path(multi_model_dir: Path, load_script):
    script = load_script("multi_model")
    resp = script.handle(make_request(body=b'{"data": [[1, 1], [0, 0]]}'))
    assert resp.status == 200, resp.body
    data = response_json(resp)
    assert data["predictions"] == [13.5, 10.5]
    assert data["paths"] == {
        "linear": str(multi_model_dir / "linear" / "2" / "model.json"),
        "offset": str(multi_model_dir / "offset" / "3"),
    }


def test_a_same_size_edit_in_the_same_second_is_not_hidden_by_a_stale_pycache(tmp_path: Path) -> None:
    """Python trusts a .pyc whose source mtime (whole seconds) and size match: user code must not."""
    import os
    import py_compile
    import sys

    from jupyter_mldeploy.scoring.entry_script import load_entry_script

    script, helper = tmp_path / "score.py", tmp_path / "stalehelper.py"
    script.write_text("import stalehelper\ndef init(): pass\ndef run(raw_data): return [1, stalehelper.V]\n")
    helper.write_text("V = 1\n")
    for path in (script, helper):  # what a kernel that imported the old code leaves behind
        py_compile.compile(str(path), cfile=None, doraise=True)
    stamp = (script.stat().st_atime, script.stat().st_mtime)
    script.write_text(script.read_text().replace("[1,", "[2,"))  # same size, same second
    helper.write_text("V = 2\n")
    for path in (script, helper):
        os.utime(path, stamp)
    sys.modules.pop("stalehelper", None)
    caches = {p: p.stat().st_mtime_ns for p in (tmp_path / "__pycache__").iterdir()}
    entry = load_entry_script(script)
    try:
        assert entry.module.run("{}") == [2, 2]
        assert {p: p.stat().st_mtime_ns for p in (tmp_path / "__pycache__").iterdir()} == caches  # none written
    finally:
        sys.modules.pop("stalehelper", None)
