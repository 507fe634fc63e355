"""The pre-build check: modules an entry script imports that its image will not have."""

from __future__ import annotations

import zipfile
from pathlib import Path

from jupyter_mldeploy.images.imports import missing_imports, missing_imports_note, wheel_modules


def _wheel(folder: Path, name: str, entries: list[str]) -> None:
    with zipfile.ZipFile(folder / f"{name}-1.0-py3-none-any.whl", "w") as archive:
        for entry in [*entries, f"{name}-1.0.dist-info/METADATA"]:
            archive.writestr(entry, "")


def test_wheel_modules_reads_packages_single_modules_and_compiled_modules(tmp_path: Path) -> None:
    _wheel(tmp_path, "scikit_learn", ["sklearn/__init__.py", "sklearn/linear_model/_ridge.py",
                                      "scikit_learn.libs/libgomp.so"])
    _wheel(tmp_path, "six", ["six.py"])
    _wheel(tmp_path, "ujson", ["ujson.cpython-311-x86_64-linux-gnu.so"])
    _wheel(tmp_path, "data_only", ["data_only-1.0.data/scripts/tool"])
    (tmp_path / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    assert wheel_modules(tmp_path) >= {"sklearn", "six", "ujson"}
    assert "data_only-1.0.data" not in wheel_modules(tmp_path)


def test_missing_imports_skip_stdlib_runtime_local_and_relative_imports(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "helpers").mkdir(parents=True)
    (app / "helpers" / "__init__.py").write_text("import yaml\n")
    (app / "features.py").write_text("from . import helpers\nimport pandas as pd\n")
    script = app / "score.py"
    script.write_text(
        "from __future__ import annotations\n"
        "import json, os, sys\n"
        "import joblib\n"
        "from sklearn.linear_model import Ridge\n"
        "from azureml.core.model import Model\n"
        "from jupyter_mldeploy import rawhttp\n"
        "import features, helpers\n"
        "def init():\n"
        "    import numpy\n"
    )
    assert missing_imports(script, app, {"numpy", "yaml"}) == ["joblib", "pandas", "sklearn"]
    assert missing_imports(script, None, {"numpy"}) == ["features", "helpers", "joblib", "sklearn"]
    (script).write_text("def run(:\n")  # a syntax error is the script check's business
    assert missing_imports(script, None, set()) == []


def test_the_note_names_the_modules_and_the_fix(tmp_path: Path) -> None:
    _wheel(tmp_path, "numpy", ["numpy/__init__.py"])
    script = tmp_path / "score.py"
    script.write_text("import numpy\nimport sklearn\n")
    note = missing_imports_note(script, None, tmp_path)
    assert note is not None
    assert "score.py imports sklearn, which the image will not have" in note
    assert "--env requirements.txt" in note
    script.write_text("import numpy\n")
    assert missing_imports_note(script, None, tmp_path) is None


def test_kernel_requirements_pin_what_the_script_imports_as_installed_here(tmp_path: Path) -> None:
    from importlib import metadata

    from jupyter_mldeploy.images.imports import kernel_requirements

    app = tmp_path / "app"
    app.mkdir()
    (app / "helpers.py").write_text("import json\n")
    script = app / "score.py"
    script.write_text(
        "import os, helpers\n"
        "import packaging.version\n"
        "from jupyter_mldeploy import rawhttp\n"
        "try:\n"
        "    import mldeploy_optional_not_installed\n"
        "except ImportError:\n"
        "    pass\n"
        "def init():\n"
        "    import mldeploy_required_not_installed\n"
    )
    found = kernel_requirements(script, app)
    assert found.requirements == (f"packaging=={metadata.version('packaging')}",)  # stdlib, local, runtime left out
    assert found.not_installed == ("mldeploy_required_not_installed",)  # the one inside try is optional


def test_a_docker_default_environment_names_an_import_nothing_installs(tmp_path: Path) -> None:
    import pytest

    from jupyter_mldeploy.deploy.service_image import default_environment
    from jupyter_mldeploy.errors import EnvironmentSpecError

    script = tmp_path / "score.py"
    script.write_text("import mldeploy_required_not_installed\ndef init(): pass\ndef run(x): return x\n")
    with pytest.raises(EnvironmentSpecError) as info:
        default_environment("svc", script, tmp_path, tmp_path / "svc", print)
    message = str(info.value)
    assert "score.py imports mldeploy_required_not_installed" in message
    assert "not installed in this kernel" in message and "environment=Environment.from_pip_requirements" in message

    said: list[str] = []
    script.write_text("import packaging\ndef init(): pass\ndef run(x): return x\n")
    env = default_environment("svc", script, tmp_path, tmp_path / "svc", said.append)
    assert env.name == "svc-inferred"
    assert [line.split("==")[0] for line in env.get_pip_requirements()] == ["packaging"]
    assert "as installed in this kernel: packaging==" in said[0]
