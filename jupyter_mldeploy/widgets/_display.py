"""The panels as the kernel views of services, packages and models (registered with the core's display hooks).

``jupyter_mldeploy.widgets.install()`` registers :func:`panel_for` with
:mod:`jupyter_mldeploy.display`; importing ``jupyter_mldeploy.widgets`` and
``%load_ext jupyter_mldeploy`` call it. This module never imports ipywidgets itself
(the panels load when first drawn).

One panel per *service* (its ``MLDEPLOY_HOME`` and name), not per object: re-running a
cell ``Webservice("scale")`` makes a fresh object each time, and all of them show views
of one panel with one refresh ticker. A panel is made again only once it was closed or
its refresh stopped (the service was deleted). A ``ModelPackage`` has one panel per
object (its refresh stops when the build ends). An object shown by ``%deploy_local``
(:func:`show_panel`) displays as its one-line ``repr`` for the rest of that cell, so that
the magic's return value does not draw a second panel under the first.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from ..display import WIDGET_VIEW, in_widget_kernel, mark_shown

__all__ = ["WIDGET_VIEW", "panel_for", "show_panel"]


#: The live DeploymentPanel of each service, by (MLDEPLOY_HOME, service name).
_SERVICE_PANELS: dict[tuple[str, str], weakref.ref[Any]] = {}
_SERVICE_PANELS_LOCK = threading.Lock()


def _is_open(panel: Any) -> bool:
    return panel is not None and getattr(panel, "comm", None) is not None


def _service_key(service: Any) -> tuple[str, str]:
    from .._config import mldeploy_home

    return str(mldeploy_home().resolve()), str(service.name)


def panel_for(obj: Any) -> Any:
    """The panel of a ``Webservice`` (one per service) or a ``ModelPackage`` (one per object).

    A service's panel is reused, by every object of that service, while it is open and
    refreshing; it then follows the object displayed last. A closed panel, or one whose
    refresh stopped (the service was deleted), is replaced by a new one.
    """
    if hasattr(obj, "wait_for_creation"):  # a ModelPackage
        panel = obj.__dict__.get("_mldeploy_panel")
        if not _is_open(panel):
            from .package_panel import PackagePanel

            panel = PackagePanel(obj)
            obj.__dict__["_mldeploy_panel"] = panel
        return panel
    key = _service_key(obj)
    with _SERVICE_PANELS_LOCK:
        ref = _SERVICE_PANELS.get(key)
        panel = ref() if ref is not None else None
        if panel is not None and _is_open(panel) and panel.ticker.running:
            panel.adopt(obj)
        else:
            from .deployment_panel import DeploymentPanel

            panel = DeploymentPanel(obj)
            _SERVICE_PANELS[key] = weakref.ref(panel)
    obj.__dict__["_mldeploy_panel"] = panel
    return panel


def show_panel(obj: Any) -> bool:
    """Display ``obj``'s panel now (in a kernel); the object then shows as one line for the rest of the cell.

    Returns whether a panel was displayed (False in a terminal or without ipywidgets).
    """
    if not in_widget_kernel():
        return False
    try:
        panel = panel_for(obj)
    except ImportError:
        return False
    from IPython.display import display

    display(panel)
    mark_shown(obj)
    return True

