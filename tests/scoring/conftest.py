"""Fixtures for scoring tests: the sample entry scripts and Azure-style model folder layouts.

``SCRIPTS`` is the folder of sample entry scripts every scoring test uses
(``tests/scoring/scripts``). :func:`write_azure_models` builds the folder
layout an Azure ML deployment mounts under ``AZUREML_MODEL_DIR``, so that
``Model.get_model_path`` in scripts can be tested against real folders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent / "scripts"


def script_path(name: str) -> Path:
    """Return the path of a sample script in tests/scoring/scripts (``name`` with or without .py)."""
    path = SCRIPTS / (name if name.endswith(".py") else f"{name}.py")
    assert path.is_file(), f"no sample script {path}"
    return path


def write_azure_models(root: Path, layout: Mapping[str, Mapping[int, Mapping[str, str]]]) -> Path:
    """Write ``{name: {version: {relative file: text}}}`` as ``root/NAME/VERSION/FILE`` and return ``root``."""
    for name, versions in layout.items():
        for version, files in versions.items():
            for rel, text in files.items():
                path = root / name / str(version) / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    return root


#: The models ``scripts/multi_model.py`` loads: linear (versions 1 and 2, one file each)
#: and offset (version 3, a folder with two files).
MULTI_MODEL_LAYOUT: dict[str, dict[int, dict[str, str]]] = {
    "linear": {
        1: {"model.json": json.dumps({"coef": [0.0, 0.0], "intercept": -100.0})},
        2: {"model.json": json.dumps({"coef": [1.0, 2.0], "intercept": 0.5})},
    },
    "offset": {3: {"offset.json": json.dumps({"offset": 10.0}), "README": "folder model"}},
}


@pytest.fixture
def multi_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Build the several-models layout for ``multi_model.py`` and point ``AZUREML_MODEL_DIR`` at it.

    ``[1, 1]`` scores ``1*1 + 2*1 + 0.5 + 10 = 13.5``.
    """
    root = write_azure_models(tmp_path / "azureml-models", MULTI_MODEL_LAYOUT)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(root))
    return root
