"""The panel base: callback errors shown in the panel, tickers that stop, formatting."""

from __future__ import annotations

import threading

import ipywidgets as widgets
import pytest

from jupyter_mldeploy.errors import ModelNotFoundError
from jupyter_mldeploy.widgets._base import (
    Panel,
    human_bytes,
    human_seconds,
    set_value,
    show,
    visible_text,
)


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
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1023.6, "1.0 KiB"),  # rounds to 1024 B: shown in the next unit
        (1536, "1.5 KiB"),
        (1048575, "1.0 MiB"),  # 1023.999 KiB would read '1024.0 KiB'
        (1024**2 - 1024 * 0.04, "1.0 MiB"),
        (1024**2 - 1024 * 0.06, "1023.9 KiB"),
        (5 * 1024**3, "5.0 GiB"),
        (3 * 1024**4, "3072.0 GiB"),  # the last unit keeps counting
    ],
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


def test_show_hides_and_shows_and_sends_nothing_when_unchanged() -> None:
    label = widgets.HTML("<b>hello</b>")
    box = widgets.VBox([label])
    changes: list[object] = []
    label.layout.observe(lambda change: changes.append(change["new"]), names="display")
    show(label, False)
    assert "hello" not in visible_text(box) and label.layout.display == "none"
    show(label, False)
    show(label)
    show(label)
    assert "hello" in visible_text(box)
    assert changes == ["none", None]  # one change each way, none for repeats

    values: list[object] = []
    label.observe(lambda change: values.append(change["new"]), names="value")
    set_value(label, "<b>hello</b>")
    set_value(label, "bye")
    assert values == ["bye"]
