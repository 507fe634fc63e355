"""azureml import shims (in fresh interpreters) and Model.get_model_path against real folder layouts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from entry_helpers import MULTI_MODEL_LAYOUT, SCRIPTS, write_azure_models

from jupyter_mldeploy.errors import InvalidArgumentError, ModelNotFoundError
from jupyter_mldeploy.scoring.model_path import Model, get_model_path


def _python(code: str, *, extra_path: Path | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line, which is returned."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AZUREML_") and k != "AML_APP_ROOT"}
    full_env.update(env or {})
    if extra_path is not None:
        full_env["PYTHONPATH"] = str(extra_path)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False, capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_azureml_imports_resolve_without_azure_installed():
    out = _python("""
        import importlib.util, json
        assert importlib.util.find_spec("azureml") is None, "a real azureml is installed in the test venv"
        from jupyter_mldeploy.scoring import azureml_shim
        azureml_shim.install(); azureml_shim.install()
        from azureml.contrib.services.aml_request import AMLRequest, rawhttp
        from azureml.contrib.services.aml_response import AMLResponse
        from azureml.core.model import Model
        from azureml.core import Model as CoreModel
        from azureml_inference_server_http.api.aml_request import rawhttp as rawhttp2
        from azureml_inference_server_http.api.aml_response import AMLResponse as AMLResponse2
        import jupyter_mldeploy, azureml, sys
        print(json.dumps({
            "same_request": AMLRequest is jupyter_mldeploy.AMLRequest,
            "same_response": AMLResponse is jupyter_mldeploy.AMLResponse is AMLResponse2,
            "same_rawhttp": rawhttp is jupyter_mldeploy.rawhttp is rawhttp2,
            "model": Model is CoreModel and hasattr(Model, "get_model_path"),
            "shim": azureml_shim.is_shim(azureml),
            "finders_after_install": sum(type(f).__name__ == "AzureMLShimFinder" for f in sys.meta_path),
            "last": type(sys.meta_path[-1]).__name__,
            "gone_after_uninstall": (azureml_shim.uninstall(), importlib.util.find_spec("azureml"))[1] is None,
        }))
    """)
    assert out == {"same_request": True, "same_response": True, "same_rawhttp": True, "model": True,
                   "shim": True, "finders_after_install": 1, "last": "AzureMLShimFinder",
                   "gone_after_uninstall": True}


def test_shim_is_not_installed_by_importing_the_package():
    out = _python("""
        import json, sys, jupyter_mldeploy, jupyter_mldeploy.scoring.aml
        try:
            import azureml.contrib.services.aml_request
            found = True
        except ImportError:
            found = False
        print(json.dumps({"found": found}))
    """)
    assert out == {"found": False}


def _fake_real_azureml(root: Path) -> Path:
    pkg = root / "azureml"
    (pkg / "contrib" / "services").mkdir(parents=True)
    (pkg / "core").mkdir()
    for folder in (pkg, pkg / "contrib", pkg / "contrib" / "services", pkg / "core"):
        (folder / "__init__.py").write_text("")
    (pkg / "contrib" / "services" / "aml_request.py").write_text(
        "_rawHttpRequested = False\nREAL = True\n\nclass AMLRequest:\n    pass\n\n"
        "def rawhttp(func):\n    global _rawHttpRequested\n    _rawHttpRequested = True\n    return func\n"
    )
    (pkg / "contrib" / "services" / "aml_response.py").write_text(
        "REAL = True\n\nclass AMLResponse:  # Flask-like, as the real one\n"
        "    def __init__(self, message, status_code, response_headers=None, json_str=False):\n"
        "        self.status_code, self.headers, self._data = status_code, dict(response_headers or {}), message\n\n"
        "    def get_data(self):\n        return self._data\n"
    )
    (pkg / "core" / "model.py").write_text(
        "class Model:\n    @staticmethod\n    def get_model_path(name, version=None, _workspace=None):\n"
        "        return 'real:' + name\n"
    )
    return root


def test_shims_step_aside_when_the_real_package_is_installed(tmp_path: Path):
    site = _fake_real_azureml(tmp_path / "site")
    out = _python(f"""
        import json
        from jupyter_mldeploy.scoring import azureml_shim
        from jupyter_mldeploy.scoring.entry_script import load_entry_script
        from jupyter_mldeploy.scoring.contract import ScoringRequest
        azureml_shim.install()
        import azureml.contrib.services.aml_request as req_mod
        from azureml.core.model import Model
        script = load_entry_script({str(SCRIPTS / "rawhttp_bytes.py")!r})
        resp = script.handle(ScoringRequest("POST", "/score", "", [("content-type", "text/plain")], b"hi", "r"))
        plain = load_entry_script({str(SCRIPTS / "plain_json.py")!r})
        print(json.dumps({{
            "real_request": getattr(req_mod, "REAL", False),
            "shim": azureml_shim.is_shim(req_mod),
            "model": Model.get_model_path("m"),
            "rawhttp_detected": script.is_rawhttp,
            "plain_not_raw": not plain.is_rawhttp,
            "status": resp.status,
            "body": resp.body.decode(),
            "content_type": resp.content_type,
        }}))
    """, extra_path=site)
    assert out["real_request"] is True and out["shim"] is False
    assert out["model"] == "real:m"
    assert out["rawhttp_detected"] is True and out["plain_not_raw"] is True
    # the real (Flask-style) AMLResponse the script returned is sent as it says
    assert (out["status"], out["body"], out["content_type"]) == (200, "hi", "text/plain")


def test_shim_fills_in_only_missing_submodules(tmp_path: Path):
    # a real `azureml` namespace without contrib (e.g. only azureml-mlflow installed)
    site = tmp_path / "site"
    (site / "azureml" / "mlflow").mkdir(parents=True)
    (site / "azureml" / "mlflow" / "__init__.py").write_text("REAL = True\n")
    out = _python("""
        import json
        from jupyter_mldeploy.scoring import azureml_shim
        azureml_shim.install()
        import azureml, azureml.mlflow
        from azureml.contrib.services.aml_request import rawhttp
        import azureml.contrib.services.aml_request as shim_mod
        print(json.dumps({"real_parent": not azureml_shim.is_shim(azureml), "mlflow": azureml.mlflow.REAL,
                          "child_is_shim": azureml_shim.is_shim(shim_mod)}))
    """, extra_path=site)
    assert out == {"real_parent": True, "mlflow": True, "child_is_shim": True}


# --- get_model_path ------------------------------------------------------------------------------


@pytest.fixture
def clean_model_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("AZUREML_MODEL_DIR", raising=False)
    monkeypatch.delenv("AML_APP_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_single_model_dir_points_at_the_version_folder(clean_model_env: Path, monkeypatch):
    root = write_azure_models(clean_model_env / "azureml-models", {"ridge": {2: {"old.pkl": "x"}, 3: {"model.pkl": "x"}}})
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(root / "ridge" / "3"))
    assert get_model_path("ridge", 2) == str(root / "ridge" / "2" / "old.pkl")  # a sibling version
    assert get_model_path("ridge") == str(root / "ridge" / "3" / "model.pkl")
    assert Model.get_model_path("ridge", version=3) == str(root / "ridge" / "3" / "model.pkl")
    assert Model.get_model_path(model_name="ridge", version="3", _workspace=None).endswith("model.pkl")


def test_several_models_and_highest_version(clean_model_env: Path, monkeypatch):
    root = write_azure_models(clean_model_env / "models", MULTI_MODEL_LAYOUT)
    write_azure_models(root, {"linear": {10: {"model.json": "{}"}}})  # 10 > 2 numerically, not as text
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(root))
    assert get_model_path("linear") == str(root / "linear" / "10" / "model.json")
    assert get_model_path("linear", 1) == str(root / "linear" / "1" / "model.json")
    assert get_model_path("offset") == str(root / "offset" / "3")  # several files: the folder


def test_folder_model_with_one_subfolder_returns_that_subfolder(clean_model_env: Path, monkeypatch):
    root = write_azure_models(clean_model_env / "m", {"bert": {1: {"bert_dir/config.json": "{}",
                                                                  "bert_dir/weights.bin": "w"}}})
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(root))
    assert get_model_path("bert") == str(root / "bert" / "1" / "bert_dir")


def test_aml_app_root_layout_and_cwd_fallback(clean_model_env: Path, monkeypatch):
    app = clean_model_env / "app"
    write_azure_models(app / "azureml-models", {"svm": {2: {"svm.pkl": "x"}}})
    monkeypatch.setenv("AML_APP_ROOT", str(app))
    assert get_model_path("svm") == str(app / "azureml-models" / "svm" / "2" / "svm.pkl")
    monkeypatch.delenv("AML_APP_ROOT")
    (clean_model_env / "local_model.pkl").write_text("x")
    assert get_model_path("local_model.pkl") == "local_model.pkl"  # Azure's last resort: ./NAME


def test_not_found_lists_what_is_there(clean_model_env: Path, monkeypatch):
    root = write_azure_models(clean_model_env / "models", MULTI_MODEL_LAYOUT)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(root))
    with pytest.raises(ModelNotFoundError) as info:
        get_model_path("forest")
    message = str(info.value)
    assert "Model 'forest' not found" in message
    assert "holds: linear/1, linear/2, offset/3" in message
    with pytest.raises(ModelNotFoundError, match="'linear' version 7 not found"):
        get_model_path("linear", 7)
    monkeypatch.delenv("AZUREML_MODEL_DIR")
    with pytest.raises(ModelNotFoundError, match="AZUREML_MODEL_DIR is not set"):
        get_model_path("linear")


def test_bad_arguments(clean_model_env: Path):
    with pytest.raises(InvalidArgumentError, match="version must be an integer"):
        get_model_path("x", "latest")
    with pytest.raises(InvalidArgumentError, match="model_name must be a non-empty string"):
        get_model_path("")
    with pytest.raises(InvalidArgumentError, match="get_model_path"):
        Model("workspace", "name")
