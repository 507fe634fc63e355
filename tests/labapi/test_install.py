"""Installing the package is all a user does: Jupyter lists both extensions enabled, and the wheel ships them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import jupyter_mldeploy

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _jupyter(*args: str, home: Path) -> str:
    """``jupyter ARGS`` from the venv with a fresh user config/data dir (only what the install put in the venv counts)."""
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "HOME": str(home)}
    for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH"):
        env.pop(name, None)
    done = subprocess.run([str(BIN / "jupyter"), *args], capture_output=True, text=True, env=env, timeout=120, check=False)
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


def test_jupyter_lists_the_server_extension_and_the_labextension_enabled(tmp_path: Path) -> None:
    server = _jupyter("server", "extension", "list", home=tmp_path)
    assert re.search(r"jupyter_mldeploy +enabled", server), server
    assert re.search(rf"jupyter_mldeploy {re.escape(jupyter_mldeploy.__version__)} OK", server), server
    lab = _jupyter("labextension", "list", home=tmp_path)
    assert re.search(rf"jupyter-mldeploy v{re.escape(jupyter_mldeploy.__version__)} +enabled +OK", lab), lab


def test_the_wheel_ships_the_built_sidebar_and_the_config_that_enables_the_server_extension(tmp_path: Path) -> None:
    subprocess.run(
        [str(BIN / "uv"), "build", "--wheel", "--no-build-isolation", "-o", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=600,
    )
    [wheel] = tmp_path.glob("jupyter_mldeploy-*.whl")
    data = f"jupyter_mldeploy-{jupyter_mldeploy.__version__}.data/data/"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        config = json.loads(archive.read(data + "etc/jupyter/jupyter_server_config.d/jupyter_mldeploy.json"))
        manifest = json.loads(archive.read(data + "share/jupyter/labextensions/jupyter-mldeploy/package.json"))
        install = json.loads(archive.read(data + "share/jupyter/labextensions/jupyter-mldeploy/install.json"))
    assert config == {"ServerApp": {"jpserver_extensions": {"jupyter_mldeploy": True}}}
    assert manifest["name"] == "jupyter-mldeploy" and manifest["version"] == jupyter_mldeploy.__version__
    assert manifest["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")
    assert data + "share/jupyter/labextensions/jupyter-mldeploy/" + manifest["jupyterlab"]["_build"]["load"] in names
    assert install["packageName"] == "jupyter-mldeploy"
    assert not any("node_modules" in n or n.endswith((".ts", ".tsx")) for n in names)
