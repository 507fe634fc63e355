"""Importing the environment API stays light: no server, Docker or widget libraries, no uv run."""

from __future__ import annotations

import json
import subprocess
import sys


def test_environment_api_imports_no_heavy_modules() -> None:
    code = (
        "import json, sys\n"
        "from jupyter_mldeploy import Environment, CondaDependencies, InferenceConfig\n"
        "import jupyter_mldeploy.cli.environments\n"
        "heavy = ['docker', 'uvicorn', 'starlette', 'tornado', 'ipywidgets', 'uvloop', 'inference_schema']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == []
