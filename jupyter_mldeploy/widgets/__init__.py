"""ipywidgets panels over the Python API: registry browser, deployment panel, test-request panel.

Importing this package registers the panels as the kernel views of ``Webservice``,
``ModelPackage`` and ``Model`` (:mod:`jupyter_mldeploy.display`). Needs the ``jupyter`` extra (``pip install "jupyter-mldeploy[jupyter]"``). Importing
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

from ..display import register_panel
from ._display import panel_for

__all__ = ["DeploymentPanel", "PackagePanel", "RegistryBrowser", "TestRequestPanel", "install"]

_HOMES = {
    "RegistryBrowser": ".registry_browser",
    "DeploymentPanel": ".deployment_panel",
    "PackagePanel": ".package_panel",
    "TestRequestPanel": ".request_panel",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)


def _model_panel(model: Any) -> Any:
    """A registered model's kernel view: the registry browser, compact, on that version."""
    from .registry_browser import RegistryBrowser

    return RegistryBrowser.for_model(model, compact=True)


def install() -> None:
    """Register the panels as the kernel views of services, packages and models (idempotent)."""
    register_panel("service", panel_for)
    register_panel("package", panel_for)
    register_panel("model", _model_panel)


install()  # importing the widgets makes them the kernel views
