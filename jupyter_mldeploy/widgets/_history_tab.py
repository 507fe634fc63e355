"""The History tab of the test-request panel: the requests sent to the service, newest first, and Replay.

A mixin of :class:`~jupyter_mldeploy.widgets.request_panel.TestRequestPanel`; the entries
live in the service's :class:`~jupyter_mldeploy.client.history.RequestHistory`, so every
panel of a service, in any kernel, shows the same list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..client.history import HistoryEntry, RequestHistory
from ..errors import InvalidArgumentError

__all__ = ["HistoryTab"]


class HistoryTab:
    """The history's widgets and actions (the panel supplies ``history``, the editor and ``send``)."""

    # what the panel provides
    history: RequestHistory
    tabs: widgets.Tab
    method: widgets.Dropdown
    content_type: widgets.Dropdown
    encoding: widgets.Dropdown
    headers_text: widgets.Textarea
    editor: widgets.Textarea
    guard: Callable[..., Any]
    send: Callable[..., None]

    def _build_history_tab(self) -> widgets.Widget:
        self.history_list = widgets.Select(options=[], rows=10, layout=widgets.Layout(width="100%"))
        self.history_list.add_class("mldeploy-mono")
        self.history_note = widgets.HTML()
        self.replay_button = widgets.Button(
            description="Replay",
            icon="repeat",
            tooltip="Load the selected request into the editor and send it",
        )
        self.replay_button.on_click(self.guard(lambda _: self.replay()))
        return widgets.VBox([self.history_note, self.history_list, self.replay_button])

    def _remember(self, entry: HistoryEntry) -> None:
        self.history.append(entry)
        self._refresh_history()

    def _refresh_history(self) -> None:
        self._shown = list(reversed(self.history.entries()))
        self.history_list.options = [(e.label(), i) for i, e in enumerate(self._shown)]
        self.history_list.value = 0 if self._shown else None
        count = len(self._shown)
        self.history_note.value = (
            f"{count} request{'s' if count != 1 else ''} sent to this service from its panels "
            f"(newest first, last {self.history.size} kept)."
            if count
            else "No requests sent yet."
        )

    def _load_entry(self, entry: HistoryEntry) -> None:
        self.method.value = entry.method
        self.content_type.value = entry.content_type
        self.encoding.value = entry.encoding
        self.headers_text.value = entry.headers_text
        self.editor.value = entry.body_text

    def replay(self, wait: bool = False) -> None:
        """Load the request selected in History into the editor and send it again."""
        index = self.history_list.value
        if index is None or not 0 <= index < len(self._shown):
            raise InvalidArgumentError(
                "pick a request in the History list first, then click Replay"
            )
        self._load_entry(self._shown[index])
        self.tabs.selected_index = 0
        self.send(wait=wait)
