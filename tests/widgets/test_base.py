"""The panel base: callback errors shown in the panel, tickers that stop, formatting."""

from __future__ import annotations

import threading

import ipywidgets as widgets
import pytest

from jupyter_mldeploy.errors import ModelNotFoundError
from jupyter_mldeploy.widgets._base import Panel, human_bytes, human_seconds, visible_text


def _panel_with_button(callback):
    panel = Panel()
    panel.button = widgets.Button(description="Go")
    panel.button.on_click(panel.guard(callback))
    panel.children = [panel.button, *panel._footer()]
    return panel


def test_mldeploy_error_in_a_callback_is_one_line_in_the_panel() -> None:
    def fail(_):
        raise ModelNotFoundError("model 'x' is not registered; register it first.")

    panel = _panel_with_button(fail)
    panel.button.click()  # must not raise
    text = visible_text(panel)
    assert "Error:" in text and "model 'x' is not registered; register it first." in text
    assert "Traceback" not in text
    panel.clear_status()
    assert "Error" not in visible_text(panel)


def test_unexpected_error_in_a_callback_shows_its_traceback() -> None:
    def fail(_):
        raise ZeroDivisionError("boom")

    panel = _panel_with_button(fail)
    panel.button.click()
    text = visible_text(panel)
    assert "ZeroDivisionError" in text and "boom" in text
    assert "Traceback (most recent call last)" in text and "in fail" in text


def test_ticker_runs_until_work_says_stop_and_close_stops_the_rest() -> None:
    panel = Panel()
    calls = []
    done = threading.Event()

    def three_times() -> bool:
        calls.append(1)
        if len(calls) == 3:
            done.set()
            return False
        return True

    ticker = panel.every(0.01, three_times)
    assert done.wait(10)
    ticker.stop()
    assert len(calls) == 3 and not ticker.running

    forever = panel.every(0.01, lambda: None)
    assert forever.running
    panel.close()
    assert not forever.running


def test_ticker_error_is_shown_and_stops_it() -> None:
    panel = Panel()
    panel.children = panel._footer()

    def broken() -> None:
        raise RuntimeError("probe failed")

    ticker = panel.every(0.01, broken)
    ticker._thread.join(10)
    assert not ticker.running
    assert "probe failed" in visible_text(panel)


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")]
)
def test_human_bytes(size: int, text: str) -> None:
    assert human_bytes(size) == text


@pytest.mark.parametrize(("seconds", "text"), [(0.0123, "12.3 ms"), (3.2, "3.20 s"), (125, "2 min 5 s")])
def test_human_seconds(seconds: float, text: str) -> None:
    assert human_seconds(seconds) == text


def test_visible_text_skips_hidden_widgets_and_lists_tab_pages() -> None:
    hidden = widgets.HTML("<b>secret</b>", layout=widgets.Layout(display="none"))
    tab = widgets.Tab(children=[widgets.Label("first page"), widgets.Label("second page")])
    tab.set_title(0, "One")
    tab.set_title(1, "Two")
    text = visible_text(widgets.VBox([hidden, tab]))
    assert "secret" not in text
    assert "== One ==\nfirst page\n== Two ==\nsecond page" in text


def test_poke_runs_the_next_call_early() -> None:
    panel = Panel()
    calls: list[float] = []
    second = threading.Event()

    def work() -> None:
        calls.append(1)
        if len(calls) == 2:
            second.set()

    ticker = panel.every(3600, work)  # an hour between calls, unless poked
    try:
        ticker.poke()
        assert second.wait(10)
    finally:
        panel.close()
    assert not ticker.running
