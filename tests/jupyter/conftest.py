"""Fixtures for the notebook magics: an IPython shell with the extension loaded, a model, no leaked services."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_leaked_services(no_leaked_services: None) -> None:
    """Every test here deploys: delete what it leaves (see tests/conftest.py)."""


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """The IPython shell with ``%load_ext jupyter_mldeploy`` run, working in ``tmp_path``."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.chdir(tmp_path)
    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # no history database in the user's home
    ip = InteractiveShell.instance(config=config)
    ip.run_line_magic("load_ext", "jupyter_mldeploy")
    return ip
