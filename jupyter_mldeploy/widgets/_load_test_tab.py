"""The Load test tab of the test-request panel: N requests at concurrency C, percentiles, errors, histogram.

A mixin of :class:`~jupyter_mldeploy.widgets.request_panel.TestRequestPanel`: the run is
:func:`~jupyter_mldeploy.client.loadtest.load_test` in a background thread, with a
progress bar and Stop, and its result drawn as a table and a PNG histogram.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..client.loadtest import LoadTestResult, load_test, status_label
from ..errors import InvalidArgumentError
from ._base import badge, esc, show
from ._bodies import _Prepared

__all__ = ["LoadTestTab"]

#: Size of the latency histogram picture (pixels).
PLOT_SIZE = (640, 280)
_WIDE = {"description_width": "initial"}


class LoadTestTab:
    """The load test's widgets and actions (the panel supplies ``_prepare``, ``guard`` and its threads)."""

    # what the panel provides
    service: Any
    timeout: float
    _sends: int
    _cancel: threading.Event
    _load_thread: threading.Thread | None
    last_load_test: LoadTestResult | None
    guard: Callable[..., Any]
    clear_status: Callable[[], None]
    _prepare: Callable[[], _Prepared]
    _settle_example: Callable[[], None]

    def _build_load_tab(self) -> widgets.Widget:
        self.lt_requests = widgets.BoundedIntText(
            value=200,
            min=1,
            max=100_000,
            description="Requests",
            style=_WIDE,
            layout=widgets.Layout(width="200px"),
        )
        self.lt_concurrency = widgets.BoundedIntText(
            value=8,
            min=1,
            max=256,
            description="Concurrency",
            style=_WIDE,
            layout=widgets.Layout(width="200px"),
        )
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.lt_progress = widgets.FloatProgress(
            value=0.0,
            min=0.0,
            max=1.0,
            description="Progress",
            layout=widgets.Layout(display="none"),
        )
        self.lt_result = widgets.HTML(
            "<i>Sends the Request tab's body (POST) N times from C workers.</i>"
        )
        #: the latency histogram, shown at its natural size (PLOT_SIZE pixels, narrower if need be)
        self.lt_image = widgets.Image(
            format="png",
            layout=widgets.Layout(
                display="none", width=f"{PLOT_SIZE[0]}px", max_width="100%", height="auto"
            ),
        )
        self.run_button.on_click(self.guard(lambda _: self.run_load_test()))
        self.stop_button.on_click(self.guard(lambda _: self.stop_load_test()))
        return widgets.VBox(
            [
                widgets.HBox(
                    [self.lt_requests, self.lt_concurrency, self.run_button, self.stop_button]
                ),
                self.lt_progress,
                self.lt_result,
                self.lt_image,
            ]
        )

    def run_load_test(self) -> None:
        """Start a load test in the background with the editor's request (N, C from the tab)."""
        if self._load_thread is not None and self._load_thread.is_alive():
            raise InvalidArgumentError("a load test is running already; wait for it or click Stop")
        self._settle_example()
        prepared = self._prepare()
        if prepared.method != "POST":
            raise InvalidArgumentError(
                "a load test sends POST requests; pick POST in the Request tab"
            )
        requests, concurrency = int(self.lt_requests.value), int(self.lt_concurrency.value)
        self._sends += 1
        self.clear_status()
        self._cancel = threading.Event()
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.lt_progress.value = 0.0
        show(self.lt_progress)
        self.lt_result.value = f"Sending {requests} requests from {concurrency} workers..."
        self._load_thread = threading.Thread(
            target=self.guard(self._load_now),
            args=(prepared, requests, concurrency),
            name="mldeploy-loadtest",
            daemon=True,
        )
        self._load_thread.start()

    def stop_load_test(self) -> None:
        """Stop the running load test (requests in flight finish)."""
        self._cancel.set()
        self.stop_button.disabled = True

    def _on_progress(self, done: int, total: int) -> bool:
        self.lt_progress.value = done / total if total else 0.0
        return not self._cancel.is_set()

    def _load_now(self, prepared: _Prepared, requests: int, concurrency: int) -> None:
        try:
            result = load_test(  # the same headers as Send: a typed Content-Type wins
                self.service,
                prepared.body or b"",
                requests=requests,
                concurrency=concurrency,
                headers=prepared.headers,
                timeout=self.timeout,
                on_progress=self._on_progress,
                content_type=prepared.entry.content_type,
                cancel=self._cancel,
            )
        except BaseException:
            self.lt_result.value = "<i>The load test did not run (see the message below).</i>"
            raise
        finally:
            self.run_button.disabled, self.stop_button.disabled = False, True
        self.last_load_test = result
        self.lt_result.value = self._result_html(result)
        self.lt_image.value = result.plot_png(*PLOT_SIZE)
        show(self.lt_image)

    @staticmethod
    def _result_html(result: LoadTestResult) -> str:
        def ms(value: float) -> str:
            return "-" if math.isnan(value) else f"{value * 1000:.2f} ms"  # NaN: nothing answered

        cell = "padding:2px 12px 2px 0;text-align:left"
        counts = [
            ("sent", f"{result.sent} of {result.requests}"),
            ("ok", str(result.ok)),
            ("errors", str(result.errors)),
            ("throughput", f"{result.throughput:.1f} req/s"),
        ]
        rows = [("all answers", result.percentile)]
        if result.errors:  # fast error answers would set the percentiles: show the 2xx apart
            rows.append(("2xx answers", result.ok_percentile))
        head = "".join(
            f"<th style='{cell}'>{esc(k)}</th>"
            for k in ("latency of", "p50", "p95", "p99", "min", "max")
        )
        body = "".join(
            f"<tr><td style='{cell}'>{esc(label)}</td>"
            + "".join(f"<td style='{cell}'>{esc(ms(pick(p)))}</td>" for p in (50, 95, 99, 0, 100))
            + "</tr>"
            for label, pick in rows
        )
        stopped = (
            f"<div><b>Stopped</b> ({esc(result.stopped)}) after {result.sent} requests.</div>"
            if result.stopped
            else ""
        )
        summary = (
            f"{stopped}<div>"
            + " · ".join(f"<b>{esc(k)}</b> {esc(v)}" for k, v in counts)
            + f"</div><table><tr>{head}</tr>{body}</table>"
            f"<div style='color:#57606a'>{result.wall_s:.2f} s wall time, concurrency "
            f"{result.concurrency}</div>"
        )
        if not result.errors_by_status:
            return f"{summary}<b>Errors by status</b>: none"
        errors = "".join(
            f"<tr><td style='{cell}'>{badge(status_label(status), '#cf222e')}</td>"
            f"<td style='{cell}'>{count} x</td>"
            f"<td><code>{esc(result.error_samples.get(status, '')[:160])}</code></td></tr>"
            for status, count in sorted(result.errors_by_status.items())
        )
        return f"{summary}<b>Errors by status</b><table>{errors}</table>"
