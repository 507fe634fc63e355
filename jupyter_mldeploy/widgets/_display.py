"""How services and packages display: their panel in a Jupyter kernel, readable text in a terminal.

``Webservice._repr_mimebundle_`` and ``ModelPackage._repr_mimebundle_`` call
:func:`mimebundle`. It always returns ``text/plain`` (several readable lines) and,
only when a kernel with a widget frontend is there, adds the panel's widget view.
This module never imports ipywidgets itself: a terminal never loads it.

One panel per *service* (its ``MLDEPLOY_HOME`` and name), not per object: re-running a
cell ``Webservice("scale")`` makes a fresh object each time, and all of them show views
of one panel with one refresh ticker. A panel is made again only once it was closed or
its refresh stopped (the service was deleted). A ``ModelPackage`` has one panel per
object (its refresh stops when the build ends). An object shown by ``%deploy_local``
(:func:`show_panel`) displays as its one-line ``repr`` for the rest of that cell, so that
the magic's return value does not draw a second panel under the first.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable, Container
from typing import Any

__all__ = [
    "in_widget_kernel",
    "mimebundle",
    "package_text",
    "panel_for",
    "service_text",
    "show_panel",
]

#: The mimetype of an ipywidgets view.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


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


def _cell_number() -> int | None:
    shell = _shell()
    return getattr(shell, "execution_count", None) if shell is not None else None


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
            from .deployment_panel import PackagePanel

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
    obj.__dict__["_mldeploy_shown_in"] = _cell_number()
    return True


def mimebundle(
    obj: Any,
    text: Callable[[Any], str],
    include: Container[str] | None = None,
    exclude: Container[str] | None = None,
    panel: Callable[[Any], Any] = panel_for,
) -> dict[str, Any]:
    """The display data of ``obj``: ``text(obj)`` as ``text/plain``, plus ``panel(obj)``'s view in a kernel.

    Never raises for the panel: without ipywidgets the text is all there is, and a panel
    that cannot be built adds one line saying why to the text.
    """
    shown = getattr(obj, "__dict__", {}).get("_mldeploy_shown_in", object())
    if in_widget_kernel() and shown == _cell_number():
        bundle: dict[str, Any] = {"text/plain": repr(obj)}  # its panel is right above
    else:
        bundle = {"text/plain": text(obj)}
        wanted = (include is None or WIDGET_VIEW in include) and not (
            exclude and WIDGET_VIEW in exclude
        )
        if wanted and in_widget_kernel():
            try:
                view = panel(obj)._repr_mimebundle_()
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


def _phase_lines(phases: list[dict[str, Any]]) -> list[str]:
    lines = []
    for phase in phases:
        ok = phase.get("ok")
        mark = "ok" if ok is True else "FAILED" if ok is False else "running"
        detail = str(phase.get("detail") or "").splitlines()[0:1]
        lines.append(
            f"    {phase.get('name', '?'):<12} {float(phase.get('seconds') or 0):7.2f}s  {mark:<7}"
            + (f" {detail[0][:100]}" if detail else "")
        )
    return lines


def service_text(service: Any) -> str:
    """A service as readable lines: name, target, state, URIs, models, auth, phases with timings, error.

    Examples
    --------
    >>> print(service_text(service))        # doctest: +SKIP
    ProcessWebservice 'scale' (process): Healthy
      scoring URI: http://127.0.0.1:41234/score
      ...
    """
    state = service.state
    lines = [
        f"{type(service).__name__} {service.name!r} ({service.compute_type}): {state}",
        f"  scoring URI: {service.scoring_uri or '(no port yet)'}",
        f"  swagger:     {service.swagger_uri or '(no port yet)'}",
        f"  models:      {', '.join(service.models) or '(none)'}",
        f"  auth:        {'on (keys: service.get_keys())' if service.auth_enabled else 'off'}",
    ]
    phases = service.phases
    if phases:
        lines.append("  phases:")
        lines.extend(_phase_lines(phases))
    if state in ("Failed", "Unhealthy") and service.error:
        lines.append(f"  error:       {service.error.splitlines()[0]}")
        lines.append("  (service.get_logs() has the server's log)")
    return "\n".join(lines)


def package_text(package: Any) -> str:
    """A model package as readable lines: image tag or Dockerfile context, state, phases, error."""
    where = (
        f"Dockerfile context (write it with package.save(FOLDER)) for {package.location}"
        if package.generate_dockerfile
        else f"image {package.location}"
    )
    lines = [f"ModelPackage {where}: {package.state}"]
    phases = [p.to_dict() for p in list(package.progress.phases)]
    if phases:
        lines.append("  phases:")
        lines.extend(_phase_lines(phases))
    error = package.progress.error
    if error is not None:
        lines.append(f"  error: {(str(error) or type(error).__name__).splitlines()[0]}")
    return "\n".join(lines)
