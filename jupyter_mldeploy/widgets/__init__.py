"""ipywidgets panels over the Python API: registry browser, deployment panel, test-request panel.

Needs the ``jupyter`` extra (``pip install "jupyter-mldeploy[jupyter]"``). Importing
``jupyter_mldeploy`` alone never imports ipywidgets; the panels load on first use.

Examples
--------
>>> from jupyter_mldeploy.widgets import RegistryBrowser, DeploymentPanel, TestRequestPanel
>>> RegistryBrowser()                         # doctest: +SKIP
>>> DeploymentPanel(service)                  # doctest: +SKIP
>>> TestRequestPanel(service)                 # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["DeploymentPanel", "PackagePanel", "RegistryBrowser", "TestRequestPanel"]

_HOMES = {
    "RegistryBrowser": ".registry_browser",
    "DeploymentPanel": ".deployment_panel",
    "PackagePanel": ".deployment_panel",
    "TestRequestPanel": ".request_panel",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
