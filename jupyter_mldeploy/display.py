"""How core objects display: readable text everywhere, and a face's panel inside a Jupyter kernel.

``Webservice``, ``ModelPackage`` and ``Model`` call :func:`mimebundle` from their
``_repr_mimebundle_``. The text always comes from the object itself; a richer view
(an ipywidgets panel) comes from a factory that a face registered for the object's
kind with :func:`register_panel`, for example ``jupyter_mldeploy.widgets`` when it is
imported or the IPython extension when it loads. The core never imports a face, so
a terminal never loads a widget library, and a kernel without a registered panel
shows the text.

An object a face has just displayed in the current cell (``%deploy_local`` shows the
deployment panel at once) is marked with :func:`mark_shown` and then shows as its
one-line ``repr`` for the rest of that cell, so the panel is not drawn twice.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Container
from typing import Any

__all__ = ["WIDGET_VIEW", "in_widget_kernel", "mark_shown", "mimebundle", "panel_factory", "register_panel"]

#: The mimetype of an ipywidgets view.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

PanelFactory = Callable[[Any], Any]

#: kind ("service", "package", "model") -> the factory of its panel, filled by a face.
_PANELS: dict[str, PanelFactory] = {}

_SHOWN_ATTR = "_mldeploy_shown_in"


def register_panel(kind: str, factory: PanelFactory) -> None:
    """Use ``factory(obj)`` as the kernel view of objects of ``kind`` (the last registration wins)."""
    _PANELS[kind] = factory


def panel_factory(kind: str) -> PanelFactory | None:
    """The registered panel factory of ``kind``, if a face registered one."""
    return _PANELS.get(kind)


def _shell() -> Any:
    """The running IPython shell, if IPython is loaded at all (never imports it)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    return ipython.get_ipython()


def in_widget_kernel() -> bool:
    """Whether we run in a Jupyter kernel (where widgets display) rather than a terminal.

    Detected the way ipywidgets does it: the IPython shell has a ``kernel``.

    Examples
    --------
    >>> in_widget_kernel()   # a plain Python process
    False
    """
    shell = _shell()
    return shell is not None and getattr(shell, "kernel", None) is not None


def cell_number() -> int | None:
    """The execution count of the running cell (``None`` outside IPython)."""
    shell = _shell()
    return getattr(shell, "execution_count", None) if shell is not None else None


def mark_shown(obj: Any) -> None:
    """Note that a face displayed ``obj``'s panel in this cell: it shows as one line until the cell ends."""
    obj.__dict__[_SHOWN_ATTR] = cell_number()


def mimebundle(
    obj: Any,
    kind: str,
    text: Callable[[Any], str],
    include: Container[str] | None = None,
    exclude: Container[str] | None = None,
) -> dict[str, Any]:
    """The display data of ``obj``: ``text(obj)`` as ``text/plain``, plus its panel's view in a kernel.

    Never raises for the panel: without a registered panel (or without ipywidgets) the
    text is all there is, and a panel that cannot be built adds one line saying why.
    """
    shown = getattr(obj, "__dict__", {}).get(_SHOWN_ATTR, object())
    if in_widget_kernel() and shown == cell_number():
        bundle: dict[str, Any] = {"text/plain": repr(obj)}  # its panel is right above
    else:
        bundle = {"text/plain": text(obj)}
        wanted = (include is None or WIDGET_VIEW in include) and not (exclude and WIDGET_VIEW in exclude)
        factory = panel_factory(kind)
        if wanted and factory is not None and in_widget_kernel():
            try:
                view = factory(obj)._repr_mimebundle_()
            except ImportError:  # no ipywidgets: the text is all there is
                view = {}
            except Exception as err:  # noqa: BLE001 - a display hook must not fail: say why in the text
                view = {}
                first = (str(err) or type(err).__name__).splitlines()[0]
                bundle["text/plain"] += f"\n(no panel: {first})"
            if WIDGET_VIEW in view:
                bundle[WIDGET_VIEW] = view[WIDGET_VIEW]
    return {
        k: v
        for k, v in bundle.items()
        if (include is None or k in include) and not (exclude and k in exclude)
    }
