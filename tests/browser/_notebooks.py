"""The notebooks the Lab tests open, built with nbformat into the Lab server's root folder.

- ``harness.ipynb``: plain ipywidgets (a Button whose click changes a Label): proves the
  Lab + widget manager + Chromium harness without our panels; its second cell shows a
  widget with no front-end code, which the harness's error checks must catch.
- ``panels.ipynb``: registers a one-file model (and a two-file one), deploys a tiny process-target service and
  displays ``RegistryBrowser()``, ``DeploymentPanel(service)`` and ``TestRequestPanel(service)``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

#: The entry script the panels notebook deploys: multiplies by the number in k.txt.
SCORE_PY = textwrap.dedent(
    """\
    import json, os

    def init():
        global k
        k = float(open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "k.txt")).read())
        print("init loaded k =", k)

    def run(raw_data):
        return {"predictions": [x * k for x in json.loads(raw_data)["data"]]}
    """
)

HARNESS = [
    new_markdown_cell("# Harness check: a plain ipywidgets button"),
    new_code_cell(
        textwrap.dedent(
            """\
            import ipywidgets as widgets

            clicks = 0
            label = widgets.Label("not pressed")
            button = widgets.Button(description="Press me")

            def on_click(_):
                global clicks
                clicks += 1
                label.value = f"pressed {clicks} time(s) in the kernel"

            button.on_click(on_click)
            box = widgets.VBox([button, label])
            box.add_class("harness-box")
            box"""
        )
    ),
    new_code_cell(
        textwrap.dedent(
            """\
            # a widget whose front-end code does not exist: the harness must notice it
            from traitlets import Unicode

            class Broken(widgets.DOMWidget):
                _view_name = Unicode("NoSuchView").tag(sync=True)
                _view_module = Unicode("no-such-module").tag(sync=True)
                _view_module_version = Unicode("1.0.0").tag(sync=True)

            Broken()"""
        )
    ),
]

PANELS = [
    new_markdown_cell("# The mldeploy panels in JupyterLab"),
    new_code_cell(
        "import pathlib\n"
        "from jupyter_mldeploy import InferenceConfig, Model, ProcessWebservice\n"
        f"pathlib.Path('score.py').write_text({SCORE_PY!r})\n"
        "pathlib.Path('k.txt').write_text('3')\n"
        "model = Model.register('k.txt', 'browser-k', tags={'team': 'lab'},"
        " description='a one-number model')\n"
        "extra = pathlib.Path('extra'); extra.mkdir(exist_ok=True)\n"
        "(extra / 'weights.bin').write_bytes(bytes(range(256)) * 8)\n"
        "(extra / 'vocab.txt').write_text('a\\nb\\nc\\n')\n"
        "Model.register('extra', 'zz-extra', tags={'stage': 'dev'})\n"
        "config = InferenceConfig(entry_script='score.py')\n"
        "service = Model.deploy('browser-svc', [model], config,"
        " ProcessWebservice.deploy_configuration())\n"
        "service.wait_for_deployment(timeout_sec=120)\n"
        "service.state"
    ),
    new_code_cell("from jupyter_mldeploy.widgets import RegistryBrowser\nRegistryBrowser()"),
    new_code_cell("from jupyter_mldeploy.widgets import DeploymentPanel\nDeploymentPanel(service)"),
    new_code_cell(
        "from jupyter_mldeploy.widgets import TestRequestPanel\n"
        "TestRequestPanel(service, sample={'data': [1, 2, 3]})"
    ),
]


def _notebook(cells: list[object]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write_all(root: Path) -> list[Path]:
    """Write every test notebook into ``root``; returns their paths."""
    paths = []
    for name, cells in (("harness.ipynb", HARNESS), ("panels.ipynb", PANELS)):
        path = root / name
        nbformat.write(_notebook(cells), path)
        paths.append(path)
    return paths
