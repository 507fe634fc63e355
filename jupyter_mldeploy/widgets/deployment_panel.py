"""The deployment panel: a service's state, phases, build progress, log tail and actions.

:class:`DeploymentPanel` follows one ``Webservice``: a state badge probed every
``refresh_s``, the phases of the current operation with their timings, a progress
bar driven by the streamed build output (``Step N/M`` of a Docker build, uv's
``Resolved``/``Prepared``/``Installed`` lines), the last ``log_lines`` lines of the
server log, ``init()`` failures with their traceback, and Reload / Delete buttons; for
Kubernetes services, the replicas (desired / ready) and the autoscaler's utilisation.
:class:`~jupyter_mldeploy.widgets.package_panel.PackagePanel` shows a ``ModelPackage`` being built.

Both panels only use the public API (``Webservice``, ``ModelPackage``,
``DeploymentProgress``); their refresh stops when the panel is closed, the
service deleted or the package finished.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from typing import Any

import ipywidgets as widgets

from ..deploy.progress import DeploymentProgress
from ..errors import DeploymentError, MLDeployError, ServiceNotFoundError
from ..scoring.logs import last_traceback
from ._base import Panel, badge, esc, human_seconds, set_value, show
from ._progress_view import (
    _HIDDEN,
    _LOG_BOX,
    _PRE,
    ProgressView,
    _log_html,
    _title_html,
    _title_row,
)
from ._scale_view import ScaleView

__all__ = ["DeploymentPanel"]

#: Seconds between state probes of a Failed service (each probe adds a line to its log).
FAILED_PROBE_S = 10.0
#: Longest wait between retries after refreshes that failed (the wait doubles from ``refresh_s``).
MAX_RETRY_S = 15.0
#: Seconds the swagger.json button waits for the server.
SWAGGER_TIMEOUT_S = 5.0


class DeploymentPanel(Panel):
    """A deployed service at a glance: state, phases, build progress, live log, Reload and Delete.

    Parameters
    ----------
    service
        A ``Webservice`` (from ``Model.deploy``, ``%deploy_local`` or ``Webservice(name)``).
    log_lines
        How many of the last server log lines the log box shows.
    refresh_s
        Seconds between refreshes of the state badge and the log (the phases and the
        progress bar update at once, as events arrive).

    Examples
    --------
    >>> from jupyter_mldeploy.widgets import DeploymentPanel
    >>> panel = DeploymentPanel(Webservice("scale"))      # doctest: +SKIP
    >>> panel                                             # doctest: +SKIP
    >>> panel.reload_button.click()                       # re-runs init()          # doctest: +SKIP
    >>> panel.close()                                     # stops the refresh       # doctest: +SKIP
    """

    def __init__(self, service: Any, log_lines: int = 40, refresh_s: float = 1.0) -> None:
        super().__init__()
        self.add_class("mldeploy-deployment-panel")
        self.service = service
        self.log_lines = int(log_lines)
        self.refresh_s = float(refresh_s)
        #: the last state probed (``""`` before the first refresh)
        self.state = ""
        self.title = widgets.HTML()
        self.state_badge = widgets.HTML(badge("…", "#57606a"))
        #: the scoring URI, and a swagger.json link when auth is off
        self.links = widgets.HTML()
        #: with auth on, the link would answer 401: this button fetches swagger.json with the key
        self.swagger_button = widgets.ToggleButton(
            value=False,
            description="swagger.json",
            icon="file-code-o",
            tooltip="Fetch swagger.json with the service's key and show it here",
            layout=widgets.Layout(display=_HIDDEN, width="auto"),
        )
        #: the swagger.json fetched by the button (hidden until then)
        self.swagger_view = widgets.HTML(layout=widgets.Layout(display=_HIDDEN))
        self.details = widgets.HTML()
        #: replicas and the autoscaler (Kubernetes services only; hidden otherwise)
        self.scale_view = ScaleView()
        self.scale = self.scale_view.html
        self.progress_view = ProgressView(self.show_error, on_finish=self._soon)
        self.phases = self.progress_view.phases
        self.progress_bar = self.progress_view.bar
        self.last_line = self.progress_view.last_line
        #: the failure: message and init() traceback (hidden unless it failed)
        self.failure = widgets.HTML(layout=widgets.Layout(display=_HIDDEN))
        self.log_view = widgets.HTML()
        self.pause = widgets.ToggleButton(
            value=False,
            description="Pause log",
            icon="pause",
            tooltip="Stop / resume refreshing the log",
        )
        self.reload_button = widgets.Button(
            description="Reload",
            icon="refresh",
            tooltip="Swap the current code into the running server (re-runs init(); the old version serves meanwhile)",
        )
        self.debug_button = widgets.Button(
            description="Debug",
            icon="bug",
            tooltip="Restart with debugpy on 127.0.0.1 and show the VS Code attach entry (again: without)",
        )
        self.delete_button = widgets.Button(
            description="Delete",
            icon="trash",
            button_style="danger",
            tooltip="Stop the service and free its port",
        )
        self.confirm_delete = widgets.Button(
            description="Confirm delete",
            button_style="danger",
            layout=widgets.Layout(display=_HIDDEN),
        )
        self.cancel_delete = widgets.Button(
            description="Cancel", layout=widgets.Layout(display=_HIDDEN)
        )
        self.pause.observe(self.guard(self._on_pause), names="value")
        self.swagger_button.observe(self.guard(self._on_swagger), names="value")
        self.reload_button.on_click(self.guard(self._on_reload))
        self.debug_button.on_click(self.guard(self._on_debug))
        self.delete_button.on_click(self.guard(self._on_delete))
        self.confirm_delete.on_click(self.guard(self._on_confirm_delete))
        self.cancel_delete.on_click(self.guard(self._on_cancel_delete))
        #: the background thread of the last Delete (None before)
        self.worker: threading.Thread | None = None
        self._failure_key: tuple[Any, ...] | None = None
        self._next_failed_probe = 0.0
        self._probe_key: tuple[int, bool | None] | None = None
        self._failures = 0  # refreshes that failed in a row
        self._retry_at = 0.0
        self._refresh_error: tuple[str, str] | None = None  # the refresh error shown, if any
        self._lock = threading.RLock()
        self.children = [
            _title_row(self.title, self.state_badge),
            widgets.HBox([self.links, self.swagger_button], layout=widgets.Layout(align_items="center")),
            self.swagger_view,
            self.details,
            self.scale,
            self.phases,
            self.progress_bar,
            self.last_line,
            self.failure,
            widgets.HTML("<b>Log</b>"),
            self.log_view,
            widgets.HBox(
                [
                    self.reload_button,
                    self.debug_button,
                    self.delete_button,
                    self.confirm_delete,
                    self.cancel_delete,
                    self.pause,
                ]
            ),
            *self._footer(),
        ]
        self._show_header()
        if service.progress is not None:
            self.progress_view.follow(service.progress)
        else:
            self.progress_view.show_saved(service.phases)
        #: the refresh (state, log, failure); stops on close() or when the service is deleted
        self.ticker = self.every(self.refresh_s, self.refresh, name=f"panel-{service.name}")

    def __repr__(self) -> str:
        return f"DeploymentPanel(service={self.service.name!r}, state={self.state or '?'!r})"

    # --- refresh ------------------------------------------------------------------------------

    def adopt(self, service: Any) -> None:
        """Follow ``service``, another object of the same service (displayed later): its operations show here."""
        with self._lock:
            if service is self.service:
                return
            self.service = service
            if service.progress is not None:
                self.progress_view.follow(service.progress)
        self.ticker.poke()

    def refresh(self) -> bool:
        """Probe the state and redraw; returns False (stop refreshing) once the service is deleted.

        Whatever a refresh raises (the Docker engine restarting, a network error) is shown in
        the panel, the badge says ``Unknown`` when the state could not be probed, and the
        refresh tries again, waiting longer after each failure (up to ``MAX_RETRY_S``).
        """
        with self._lock:
            if self.state == "Deleted":
                return False
            if time.monotonic() < self._retry_at:
                return True  # waiting after failed refreshes
            probed = False
            try:
                progress = self.service.progress
                if progress is not None:
                    self.progress_view.follow(progress)
                self.progress_view.pump()
                state = self._probe_when_due(progress)
                if state == "Deleted":
                    self._on_deleted()
                    return False
                self._show_state(state)
                probed = True
                self._show_header()
                self.scale_view.update(self.service)
                if not self.pause.value:
                    self._show_logs()
                self._show_failure(state)
            except Exception as err:  # noqa: BLE001 - shown in the panel; the refresh keeps trying
                self._refresh_failed(err, probed)
                return True
            if self._refresh_error is not None:  # it works again: the error is old news
                self.clear_status()
            self._failures, self._retry_at, self._refresh_error = 0, 0.0, None
            return True

    def _refresh_failed(self, err: BaseException, probed: bool) -> None:
        self._failures += 1
        wait = min(self.refresh_s * 2 ** (self._failures - 1), MAX_RETRY_S)
        self._retry_at = time.monotonic() + wait
        if not probed:
            self._show_state("Unknown")  # not a stale Healthy
        message = (str(err) or type(err).__name__).strip()
        key = (type(err).__name__, message)
        if key == self._refresh_error:
            return  # shown already (a traceback is not repeated every retry)
        self._refresh_error = key
        self.clear_status()
        kind = "Error" if isinstance(err, MLDeployError) else type(err).__name__
        self._set_status(
            f"<b>Refresh failed</b> ({esc(kind)}): {esc(message)}\n"
            f'<span style="color:#57606a">The panel keeps trying (every {human_seconds(wait)} '
            f"at first, then less often, at most every {MAX_RETRY_S:.0f} s).</span>",
            "#cf222e",
        )
        if not isinstance(err, MLDeployError):
            show(self.errors)
            self.errors.append_stdout(
                "".join(traceback.format_exception(type(err), err, err.__traceback__))
            )

    def _soon(self) -> None:
        """Refresh shortly after an operation finished (its thread has ended by then), not a tick later."""
        self.ticker.poke(after=0.05)

    def _probe_when_due(self, progress: DeploymentProgress | None) -> str:
        """The state, probed every tick; a Failed service with no operation running only every 10 s.

        (A failed server logs every probe it answers 503: probing it each second would push the
        init() traceback out of the log tail.)
        """
        now = time.monotonic()
        key = (id(progress), progress.done if progress is not None else None)
        if self.state == "Failed" and key == self._probe_key and now < self._next_failed_probe:
            # nothing started or ended since the last probe: only look whether it was deleted
            return "Deleted" if self._gone() else self.state
        state = self._probe()
        self._probe_key, self._next_failed_probe = key, now + FAILED_PROBE_S
        return state

    def _probe(self) -> str:
        state = str(self.service.state)
        if state in ("Failed", "Unhealthy") and self._gone():
            return "Deleted"  # removed by another object, the CLI or another kernel
        return state

    def _gone(self) -> bool:
        """Whether the service was deleted (its record is gone; a file read while it exists)."""
        from ..deploy.service import Webservice

        try:
            Webservice(self.service.name)
        except ServiceNotFoundError:
            return True
        return False

    def _show_state(self, state: str) -> None:
        self.state = state
        set_value(self.state_badge, badge(state))

    def _show_header(self) -> None:
        service = self.service
        set_value(
            self.title,
            _title_html(service.name, f"{type(service).__name__} · {service.compute_type}"),
        )
        auth = bool(service.auth_enabled)
        if service.scoring_uri and not auth:
            links = (
                f'<code>{esc(service.scoring_uri)}</code> · <a href="{esc(service.swagger_uri)}" '
                f'target="_blank" rel="noopener" style="color:#0969da">swagger.json</a>'
            )
        elif service.scoring_uri:  # a plain link would answer 401: the button sends the key
            links = f"<code>{esc(service.scoring_uri)}</code> ·"
        else:
            links = '<span style="color:#57606a">no port yet</span>'
        set_value(self.links, links)
        show(self.swagger_button, auth and bool(service.scoring_uri))
        if not auth and self.swagger_button.value:
            self.swagger_button.value = False
        models = ", ".join(service.models) or "(none)"
        set_value(
            self.details,
            f"models: <b>{esc(models)}</b> · auth: <b>{'on' if service.auth_enabled else 'off'}</b>"
            + (" · debug: <b>on</b> <span title=\"run() tracebacks go into 500 answers; "
               "deploy_configuration(debug=False) turns it off\">(tracebacks in 500 answers)</span>"
               if getattr(service, "debug_tracebacks", False) else ""),
        )

    def _show_logs(self) -> None:
        text = self.service.get_logs(self.log_lines)
        set_value(self.log_view, _log_html(text.splitlines()[-self.log_lines :]))

    def _show_failure(self, state: str) -> None:
        """Show why the service is not working: the operation's error or the service's, with the traceback."""
        progress = self.progress_view.progress
        error = progress.error if progress is not None and progress.done else None
        unhealthy = state == "Unhealthy" and bool(self.service.error)
        if state != "Failed" and error is None and not unhealthy:
            self._failure_key = None
            show(self.failure, False)
            return
        key = (id(progress), state, error is None)
        if key == self._failure_key:
            return  # shown already: no need to read the logs again
        if error is not None:
            message = (str(error) or type(error).__name__).splitlines()[0]
            logs = error.logs if isinstance(error, DeploymentError) and error.logs else ""
        else:
            message = (self.service.error or "the service failed; see its log").splitlines()[0]
            logs = ""
        trace = last_traceback(logs) or last_traceback(self.service.get_logs(200))
        label = "Unhealthy" if unhealthy and error is None else "Failed"
        if trace:
            hint = "Fix the entry script, then press Reload (no rebuild needed)."
        elif label == "Unhealthy":
            hint = "Press Reload to restart the server, or look at the log below."
        else:
            hint = ""  # the message says what to do
        self.failure.value = (
            '<div style="border-left:4px solid #cf222e;padding:4px 8px;background:#fff5f5;line-height:1.45">'
            f'<div style="color:#cf222e;white-space:pre-wrap"><b>{label}:</b> {esc(message)}</div>'
            + (f'<pre style="{_PRE};color:#24292f">{esc(trace)}</pre>' if trace else "")
            + (f'<div style="color:#57606a">{esc(hint)}</div>' if hint else "")
            + "</div>"
        )
        show(self.failure)
        self._failure_key = key

    def _on_deleted(self) -> None:
        self._show_state("Deleted")
        self.progress_view.stop()
        for button in (
            self.reload_button,
            self.debug_button,
            self.delete_button,
            self.confirm_delete,
            self.cancel_delete,
            self.pause,
        ):
            button.disabled = True
        show(self.confirm_delete, False)
        show(self.cancel_delete, False)
        show(self.failure, False)
        set_value(self.links, '<span style="color:#57606a">deleted: its port is free</span>')

    # --- actions ------------------------------------------------------------------------------

    def _on_pause(self, change: dict[str, Any]) -> None:
        paused = bool(change["new"])
        self.pause.description = "Resume log" if paused else "Pause log"
        self.pause.icon = "play" if paused else "pause"

    def _on_swagger(self, change: dict[str, Any]) -> None:
        """Show (fetched with the key) or fold away the service's swagger.json."""
        if not change["new"]:
            show(self.swagger_view, False)
            return
        from ..client.client import ScoringClient

        service = self.service
        try:
            with ScoringClient(
                str(service.scoring_uri), auth_key=service.get_keys()[0], timeout=SWAGGER_TIMEOUT_S
            ) as client:
                spec = client.swagger()
        except BaseException:
            self.swagger_button.value = False  # pressed again, it tries again
            raise
        text = json.dumps(spec, indent=2, ensure_ascii=False)
        self.swagger_view.value = (
            f'<div style="{_LOG_BOX};max-height:24em"><pre style="{_PRE}">{esc(text)}</pre></div>'
            f'<div style="color:#57606a;font-size:90%">swagger.json of {esc(service.name)}, fetched '
            "with its primary key (press the button again to fold it away)</div>"
        )
        show(self.swagger_view)

    def _on_reload(self, _: Any = None) -> None:
        with self._lock:  # not while a refresh draws: it could show the old failure again
            self.clear_status()
            self.service.reload(wait=False)
            self.progress_view.follow(self.service.progress)
            self._failure_key = None
            show(self.failure, False)
            self.show_note(
                f"Reloading {self.service.name}: init() of the current code runs beside the serving version, "
                "which it then replaces."
            )

    def _on_debug(self, _: Any = None) -> None:
        """Turn the debug run on (showing the launch.json entry to paste) or off."""
        with self._lock:
            self.clear_status()
            entry = self.service.debug(self.service.debugger is None, wait=False, show=False)
            self.progress_view.follow(self.service.progress)
            self.debug_button.description = "Stop debug" if entry else "Debug"
            if entry is None:
                self.show_note(f"Restarting {self.service.name} without the debugger.")
            else:
                self.show_note(
                    f"Restarting {self.service.name} with debugpy on 127.0.0.1:{entry['connect']['port']}. "
                    "In VS Code, add this to launch.json's \"configurations\", then Run > Start Debugging: "
                    + json.dumps(entry)
                )

    def _on_delete(self, _: Any = None) -> None:
        self.clear_status()
        self.show_note(
            f"Delete service {self.service.name!r}? Its server stops and its port is freed."
        )
        show(self.confirm_delete)
        show(self.cancel_delete)

    def _on_cancel_delete(self, _: Any = None) -> None:
        show(self.confirm_delete, False)
        show(self.cancel_delete, False)
        self.clear_status()

    def _on_confirm_delete(self, _: Any = None) -> None:
        buttons = (self.reload_button, self.delete_button, self.confirm_delete, self.cancel_delete)
        for button in buttons:
            button.disabled = True
        self.show_note(f"Deleting {self.service.name} ...")

        def work() -> None:
            try:
                self.service.delete()
            except BaseException:
                with self._lock:  # usable again: the error shows below, Delete can be tried again
                    for button in buttons:
                        button.disabled = False
                    show(self.confirm_delete, False)
                    show(self.cancel_delete, False)
                    self.clear_status()
                raise
            self.ticker.stop()
            with self._lock:
                self._on_deleted()
            self.show_note(f"Deleted {self.service.name}.")

        self.worker = threading.Thread(
            target=self.guard(work), name=f"mldeploy-delete-{self.service.name}", daemon=True
        )
        self.worker.start()

    def close(self) -> None:
        """Stop the refresh and stop following the progress, then close the widgets."""
        self.progress_view.stop()
        super().close()


