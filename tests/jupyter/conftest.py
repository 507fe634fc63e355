"""Fixtures for the notebook magics: an IPython shell with the extension loaded, a model, no leaked services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_leaked_services(mldeploy_home: Path) -> Iterator[None]:
    yield
    from jupyter_mldeploy.deploy.webservice import Webservice

    for service in Webservice.list():
        service.delete(delete_image=True)


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


@pytest.fixture
def k_model(tmp_path: Path) -> object:
    from jupyter_mldeploy import Model

    (tmp_path / "k.txt").write_text("3")
    return Model.register(str(tmp_path / "k.txt"), "k")
