"""What the deployment and package panels share: the phase table, the progress bar, titles, log boxes.

:class:`ProgressView` follows a :class:`~jupyter_mldeploy.deploy.progress.DeploymentProgress`
and turns its events into the phase table and a progress bar moved by the build output
(``deploy.progress.line_fraction``); the rest are small HTML helpers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..deploy.progress import DeploymentProgress, Event, line_fraction, overall_fraction
from ._base import esc, human_seconds, set_value, show

__all__ = ["ProgressView"]


_LOG_BOX = (
    "max-height:18em;overflow:auto;display:flex;flex-direction:column-reverse;"
    "background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:4px 6px"
)

_PRE = "flex:none;overflow:visible;margin:0;font-size:85%;line-height:1.35;white-space:pre-wrap;word-break:break-all"

_HIDDEN = "none"

_TD = "padding:1px 10px 1px 0;border:none;line-height:1.4;"

def _phase_rows(phases: list[dict[str, Any]], running_ok: bool = True) -> str:
    """An HTML table of phases: mark, name, time, detail (a failed one in red)."""
    if not phases:
        return '<div style="color:#57606a">No operation yet.</div>'
    rows = []
    for phase in phases:
        ok = phase.get("ok")
        if ok is False:
            mark, colour = "✗", "#cf222e"
        elif ok is None and running_ok:
            mark, colour = "▶", "#9a6700"
        else:
            mark, colour = "✓", "#1a7f37"
        detail = str(phase.get("detail") or "")
        first = detail.splitlines()[0] if detail else ""
        shown = first if len(first) <= 160 else first[:159] + "…"
        rows.append(
            f'<tr style="color:{colour if ok is not True else "inherit"}">'
            f'<td style="{_TD}color:{colour}">{mark}</td>'
            f'<td style="{_TD}font-weight:600">{esc(phase.get("name", "?"))}</td>'
            f'<td style="{_TD}text-align:right;white-space:nowrap">'
            f"{esc(human_seconds(float(phase.get('seconds') or 0)))}"
            f"{' (running)' if ok is None and running_ok else ''}</td>"
            f'<td style="{_TD}white-space:pre-wrap">{esc(shown)}</td></tr>'
        )
    return f'<table class="mldeploy-phases" style="border-collapse:collapse;font-size:90%">{"".join(rows)}</table>'

def _title_html(title: str, subtitle: str = "") -> str:
    """The panel's title line: a name, and what it is in grey."""
    return f'<span style="font-size:120%;font-weight:600">{esc(title)}</span>' + (
        f' <span style="color:#57606a">{esc(subtitle)}</span>' if subtitle else ""
    )

def _title_row(title: widgets.HTML, state_badge: widgets.HTML) -> widgets.HBox:
    """The title and the state badge on one line (both panels start with it)."""
    return widgets.HBox([title, state_badge], layout=widgets.Layout(align_items="center"))

def _log_html(lines: list[str], empty: str = "(no log lines yet)") -> str:
    """A scrolled log box (the newest line at the bottom, kept in view) holding ``lines``."""
    body = (
        esc("\n".join(lines)) if lines else f'<span style="color:#57606a">{esc(empty)}</span>'
    )
    return f'<div class="mldeploy-log" style="{_LOG_BOX}"><pre style="{_PRE}">{body}</pre></div>'

class ProgressView:
    """Phases with timings, a progress bar and the last output line of one ``DeploymentProgress``.

    It follows one progress at a time (:meth:`follow`), through a listener (live, from the
    deployment's own thread) and :meth:`pump` calls (from the panel's ticker); both read
    ``events_since`` under one lock, so no event is lost or handled twice.
    """

    def __init__(
        self, on_error: Callable[[BaseException], None], on_finish: Callable[[], None] | None = None
    ) -> None:
        self._on_error = on_error
        self._on_finish = on_finish
        #: the phases table (HTML)
        self.phases = widgets.HTML()
        #: phases done out of PHASES, plus the running phase's fraction from its output lines
        self.bar = widgets.FloatProgress(
            value=0.0,
            min=0.0,
            max=1.0,
            description="Deploying",
            bar_style="info",
            layout=widgets.Layout(width="60%", display=_HIDDEN),
        )
        #: the last output line (build output, uv, notes)
        self.last_line = widgets.HTML(layout=widgets.Layout(display=_HIDDEN))
        self.progress: DeploymentProgress | None = None
        self.fractions: list[float] = []  #: every bar value shown for the followed progress
        self._lock = threading.RLock()
        self._seen = 0
        self._phase = ""
        self._within = 0.0
        self._unsubscribe: Callable[[], None] | None = None

    def follow(self, progress: DeploymentProgress | None) -> None:
        """Show ``progress`` from its start (replaying what happened so far) and live from now on."""
        with self._lock:
            if progress is self.progress:
                return
            self.stop()
            self.progress, self._seen, self._phase, self._within = progress, 0, "", 0.0
            self.fractions = []
            if progress is None:
                return
            self.bar.value, self.bar.bar_style, self.bar.description = 0.0, "info", "Deploying"
            show(self.bar)
            self._unsubscribe = progress.subscribe(self._listener)
        self.pump()

    def show_saved(self, phases: list[dict[str, Any]]) -> None:
        """Show phases saved with a service (no live progress to follow)."""
        with self._lock:
            if self.progress is None:
                set_value(self.phases, _phase_rows(phases, running_ok=False))

    def stop(self) -> None:
        """Stop listening to the followed progress (the widgets keep what they show)."""
        with self._lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

    def _listener(self, event: Event) -> None:
        try:
            self.pump()
            if event.kind == "finished" and self._on_finish is not None:
                self._on_finish()
        except Exception as err:  # noqa: BLE001 - a listener must never raise into the deployment
            self._on_error(err)

    def pump(self) -> None:
        """Handle the events not seen yet and redraw (the running phase's time too)."""
        with self._lock:
            progress = self.progress
            if progress is None:
                return
            events = progress.events_since(self._seen)
            for event in events:
                self._handle(event)
            if events:
                self._seen = events[-1].seq + 1
            phases = [p.to_dict() for p in list(progress.phases)]
            set_value(self.phases, _phase_rows(phases))
            if progress.done:
                failed = progress.error is not None
                self.bar.bar_style = "danger" if failed else "success"
                self.bar.description = "Failed" if failed else "Done"
                if not failed:
                    self._show_fraction(1.0)
                    show(self.last_line, False)  # done: the last output line is old news

    def _handle(self, event: Event) -> None:
        if event.kind == "phase-start":
            self._phase, self._within = event.phase, 0.0
            self._show_fraction(overall_fraction(event.phase, 0.0))
        elif event.kind == "phase-end":
            self._show_fraction(overall_fraction(event.phase, 1.0))
        elif event.kind == "line":
            fraction = line_fraction(event.phase, event.text)
            if fraction is not None and event.phase == self._phase and fraction > self._within:
                self._within = fraction
                self._show_fraction(overall_fraction(event.phase, fraction))
            text = event.text.strip()
            if text:
                show(self.last_line)
                set_value(
                    self.last_line,
                    f'<div style="font-family:monospace;font-size:85%;color:#57606a;white-space:nowrap;'
                    f'overflow:hidden;text-overflow:ellipsis">{esc(event.phase)}: {esc(text[:300])}</div>',
                )

    def _show_fraction(self, value: float) -> None:
        if value > self.bar.value:  # never backwards within one operation
            self.bar.value = value
            self.fractions.append(value)
