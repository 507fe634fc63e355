"""The deployment panel's scale row: replicas desired / ready and the autoscaler's current and target utilisation.

Shown only for services that have ``scale_status()`` (Kubernetes); it reads that public
method (no Kubernetes client here) at most every ``probe_s`` seconds, since each look is
two API calls to the cluster.
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets

from ..errors import MLDeployError
from ._base import esc, set_value, show
from ._progress_view import _HIDDEN

__all__ = ["ScaleView", "scale_html"]

#: Seconds between two looks at a service's replicas.
SCALE_PROBE_S = 5.0


def scale_html(status: Any) -> str:
    """One line of HTML from a ``ScaleStatus``: ready / desired replicas, rollout, autoscaler bounds and CPU."""
    parts = [f"replicas: <b>{status.ready}/{status.desired}</b> ready"]
    if status.updated < status.desired:
        parts.append(f"rolling out: {status.updated}/{status.desired} updated")
    if status.target_utilization is not None:
        now = "?" if status.current_utilization is None else f"{status.current_utilization}%"
        parts.append(f"autoscaler {status.min_replicas}-{status.max_replicas} replicas")
        parts.append(f"CPU <b>{esc(now)}</b> (target {status.target_utilization}%)")
    return " · ".join(parts)


class ScaleView:
    """An ``HTML`` row (hidden for targets without replicas) that :meth:`update` fills from ``scale_status()``."""

    def __init__(self, probe_s: float = SCALE_PROBE_S) -> None:
        #: seconds from one look to the next; a change counts from the last look already made
        self.probe_s = float(probe_s)
        #: the row: replicas and the autoscaler's utilisation
        self.html = widgets.HTML(layout=widgets.Layout(display=_HIDDEN))
        #: the last ``ScaleStatus`` read (None before, or when it could not be read)
        self.status: Any = None
        self._looked_at: float | None = None  # time.monotonic() of the last look

    def update(self, service: Any, force: bool = False) -> None:
        """Read the service's replicas when due (or ``force``) and show them; a failed read shows why."""
        probe = getattr(service, "scale_status", None)
        if probe is None:
            show(self.html, False)
            return
        now = time.monotonic()
        if not force and self._looked_at is not None and now < self._looked_at + self.probe_s:
            return
        self._looked_at = now
        try:
            self.status = probe()
        except MLDeployError as err:
            self.status = None
            first = (str(err) or type(err).__name__).splitlines()[0]
            set_value(self.html, f'<span style="color:#57606a">replicas: unknown ({esc(first)})</span>')
        else:
            set_value(self.html, scale_html(self.status))
        show(self.html)
