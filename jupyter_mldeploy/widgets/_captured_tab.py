"""The Captured tab of the test-request panel: the service's last captured requests and answers.

A mixin of :class:`~jupyter_mldeploy.widgets.request_panel.TestRequestPanel` over
``service.get_captured(n)`` (deployments with ``collect_model_data=True``); Refresh reads
the capture file again. A service that captures nothing says how to turn capture on; a
panel on a URL or a ``ScoringServer`` says capture is shown for deployed services.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..errors import InvalidArgumentError
from ._base import esc

__all__ = ["CapturedTab"]

#: how many captured exchanges the tab shows (newest first)
SHOWN = 20
_CELL = 90  # characters of a body shown in the table


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


class CapturedTab:
    """The captured exchanges' widgets (the panel supplies ``service`` and ``guard``)."""

    service: Any
    guard: Callable[..., Any]

    def _build_captured_tab(self) -> widgets.Widget:
        self.captured_note = widgets.HTML()
        self.captured_table = widgets.HTML()
        self.captured_refresh = widgets.Button(description="Refresh", icon="refresh",
                                               tooltip="Read the service's capture file again")
        self.captured_refresh.on_click(self.guard(lambda _: self.refresh_captured()))
        self.refresh_captured()
        return widgets.VBox([self.captured_note, self.captured_table, self.captured_refresh])

    def refresh_captured(self) -> None:
        """Show the last captured exchanges (newest first)."""
        get_captured = getattr(self.service, "get_captured", None)
        if get_captured is None:  # a URL or a ScoringServer: no capture file of its own here
            self.captured_note.value = ("<i>Captured requests are shown for deployed services "
                                        "(Webservice with collect_model_data=True).</i>")
            self.captured_table.value = ""
            return
        try:
            records = list(reversed(get_captured(SHOWN)))
        except InvalidArgumentError as err:
            self.captured_note.value = f"<i>{esc(err)}</i>"
            self.captured_table.value = ""
            return
        self.captured_note.value = (f"The last {len(records)} captured request{'s' if len(records) != 1 else ''}, "
                                    "newest first." if records else "Nothing captured yet.")
        rows = "".join(
            f"<tr><td>{esc(r.get('time', ''))}</td><td>{esc(r.get('status', ''))}</td>"
            f"<td>{esc(r.get('latency_ms', ''))} ms</td><td>{esc(r.get('route', ''))}</td>"
            f"<td class='mldeploy-mono'>{esc(_short(r.get('input')))}</td>"
            f"<td class='mldeploy-mono'>{esc(_short(r.get('output')))}</td></tr>"
            for r in records
        )
        self.captured_table.value = (
            "<table><tr><th>time</th><th>status</th><th>latency</th><th>route</th><th>input</th>"
            f"<th>output</th></tr>{rows}</table>" if records else ""
        )
