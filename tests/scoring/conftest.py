"""Fixtures for scoring tests: the sample entry scripts and Azure-style model folder layouts.

``SCRIPTS`` is the folder of sample entry scripts every scoring test uses
(``tests/scoring/scripts``). :func:`write_azure_models` builds the folder
layout an Azure ML deployment mounts under ``AZUREML_MODEL_DIR``, so that
``Model.get_model_path`` in scripts can be tested against real folders.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from entry_helpers import MULTI_MODEL_LAYOUT, SCRIPTS, script_path, write_azure_models

__all__ = ["MULTI_MODEL_LAYOUT", "SCRIPTS", "script_path", "write_azure_models"]


@pytest.fixture
def load_script() -> Iterator[Callable[..., Any]]:
    """Load sample scripts (by name or path) in this process; undo sys.path/sys.modules changes afterwards."""
    from jupyter_mldeploy.scoring.entry_script import load_entry_script

    saved_path = list(sys.path)
    loaded: list[Any] = []

    def load(name: str | Path, *, init: bool = True, **kwargs: Any) -> Any:
        path = name if isinstance(name, Path) else script_path(name)
        script = load_entry_script(path, **kwargs)
        loaded.append(script)
        if init:
            script.init()
        return script

    yield load
    for script in loaded:
        sys.modules.pop(script.module.__name__, None)
    sys.path[:] = saved_path


@pytest.fixture
def multi_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Build the several-models layout for ``multi_model.py`` and point ``AZUREML_MODEL_DIR`` at it.

    ``[1, 1]`` scores ``1*1 + 2*1 + 0.5 + 10 = 13.5``.
    """
    root = write_azure_models(tmp_path / "azureml-models", MULTI_MODEL_LAYOUT)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(root))
    return root
