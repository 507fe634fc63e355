"""What every panel shares: error display for callbacks, a background ticker, and formatting.

Panels are ``VBox`` subclasses built from standard ipywidgets. Their child widgets are
public attributes so that code (and tests) can ``.click()`` them. A callback never
loses an error in the browser console: :meth:`Panel.guard` shows an
:class:`~jupyter_mldeploy.errors.MLDeployError` as one line in the panel's
``status`` area, and any other exception with its traceback in the panel's
``errors`` output.
"""

from __future__ import annotations

import functools
import html
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import ipywidgets as widgets

from ..errors import MLDeployError

__all__ = [
    "Panel",
    "Ticker",
    "badge",
    "esc",
    "human_bytes",
    "human_seconds",
    "set_value",
    "show",
    "visible_text",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Colours of the state badge, by Webservice state.
STATE_COLOURS: dict[str, str] = {
    "Healthy": "#1a7f37",
    "Transitioning": "#9a6700",
    "Unhealthy": "#cf222e",
    "Failed": "#cf222e",
    "Deleted": "#57606a",
}


def esc(text: object) -> str:
    """HTML-escape ``text`` (quotes too)."""
    return html.escape(str(text), quote=True)


def badge(text: str, colour: str | None = None) -> str:
    """A small coloured pill (HTML) showing ``text``; a Webservice state picks its own colour."""
    colour = colour or STATE_COLOURS.get(text, "#57606a")
    return (
        f'<span class="mldeploy-badge" style="background:{colour};color:white;'
        f'border-radius:9px;padding:1px 8px;font-size:90%;font-weight:600">{esc(text)}</span>'
    )


def human_bytes(size: float) -> str:
    """``1536`` -> ``'1.5 KiB'``; a value that rounds to 1024 shows in the next unit (``1048575`` -> ``'1.0 MiB'``)."""
    value = float(size)
    units = ("B", "KiB", "MiB", "GiB")
    for unit in units:
        shown = f"{value:.0f}" if unit == "B" else f"{value:.1f}"
        if float(shown) < 1024 or unit == units[-1]:
            return f"{shown} {unit}"
        value /= 1024
    raise AssertionError("unreachable: the last unit always returns")  # pragma: no cover


def human_seconds(seconds: float) -> str:
    """``0.0123`` -> ``'12.3 ms'``, ``3.2`` -> ``'3.20 s'``, ``125`` -> ``'2 min 5 s'``."""
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def show(widget: widgets.Widget, visible: bool = True) -> None:
    """Show (``visible``) or hide ``widget`` through its layout; no message to the browser when unchanged.

    Examples
    --------
    >>> button = widgets.Button()
    >>> show(button, False); button.layout.display
    'none'
    >>> show(button); button.layout.display is None
    True
    """
    wanted = None if visible else "none"
    if widget.layout.display != wanted:
        widget.layout.display = wanted


def set_value(widget: widgets.Widget, value: Any) -> None:
    """Set ``widget.value`` only when it changes (no message to the browser otherwise)."""
    if widget.value != value:
        widget.value = value


_TAGS = re.compile(r"<[^>]+>")


def visible_text(widget: widgets.Widget) -> str:
    """What a user reads in ``widget`` and its children: HTML as text, labels, values, button captions.

    Meant for tests and for the terminal: it walks the widget tree in display order and
    skips hidden widgets (``layout.display == 'none'``). Every tab page is included,
    under a ``== title ==`` line (it is one click away).
    """
    parts: list[str] = []
    _collect(widget, parts)
    return "\n".join(p for p in parts if p.strip())


def _collect(widget: Any, parts: list[str]) -> None:
    layout = getattr(widget, "layout", None)
    if layout is not None and getattr(layout, "display", None) == "none":
        return
    if isinstance(widget, widgets.Output):
        for output in widget.outputs:
            if "text" in output:
                parts.append(str(output["text"]))
            elif "data" in output:
                parts.append(str(output["data"].get("text/plain", "")))
            elif output.get("output_type") == "error":
                parts.append("\n".join(output.get("traceback", [])))
        return
    if isinstance(widget, (widgets.HTML, widgets.HTMLMath)):
        parts.append(html.unescape(_TAGS.sub(" ", widget.value)))
    elif isinstance(widget, (widgets.Button, widgets.ToggleButton)):
        parts.append(f"[{widget.description}]")
    elif isinstance(widget, (widgets.Label,)):
        parts.append(str(widget.value))
    elif isinstance(widget, (widgets.Text, widgets.Textarea, widgets.IntText, widgets.BoundedIntText)):
        if widget.description:
            parts.append(str(widget.description))
        parts.append(str(widget.value))
    elif isinstance(widget, (widgets.Dropdown, widgets.Select, widgets.ToggleButtons)):
        if widget.description:
            parts.append(str(widget.description))
        parts.append(str(widget.label if widget.label is not None else ""))
    elif isinstance(widget, widgets.FloatProgress):
        parts.append(f"{widget.description} {widget.value:.0%}" if widget.max == 1 else str(widget.value))
    elif isinstance(widget, widgets.Image):
        parts.append(f"<image {len(widget.value)} bytes>")
    children: Iterable[Any] = getattr(widget, "children", ()) or ()
    if isinstance(widget, widgets.Tab):
        titles = [widget.get_title(i) for i in range(len(widget.children))]
        for title, child in zip(titles, widget.children):
            parts.append(f"== {title} ==")
            _collect(child, parts)
        return
    for child in children:
        _collect(child, parts)


class Panel(widgets.VBox):
    """Base of the panels: a ``status`` line for errors and messages, an ``errors`` output, tickers.

    Subclasses build their children, then call ``self.children = [..., self.status, self.errors]``
    (or use :meth:`_footer`), and wrap every callback with :meth:`guard`.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._tickers: list[Ticker] = []  # before the widget exists: close() may run on a failed init
        super().__init__(**kwargs)
        self.add_class("mldeploy-panel")
        #: one-line messages: errors in red, notes in grey
        self.status = widgets.HTML(layout=widgets.Layout(display="none"))
        #: unexpected exceptions, with their traceback
        self.errors = widgets.Output(layout=widgets.Layout(display="none"))

    # --- messages ------------------------------------------------------------------------

    def show_error(self, err: BaseException) -> None:
        """Show ``err`` in the panel: an MLDeployError as its message, anything else with a traceback."""
        message = str(err) or type(err).__name__
        if isinstance(err, MLDeployError):
            self._set_status(f"<b>Error:</b> {esc(message)}", "#cf222e")
            return
        self._set_status(f"<b>{esc(type(err).__name__)}:</b> {esc(message)}", "#cf222e")
        show(self.errors)
        self.errors.append_stdout(
            "".join(traceback.format_exception(type(err), err, err.__traceback__))
        )

    def show_note(self, message: str) -> None:
        """Show a one-line note (grey) in the status area."""
        self._set_status(esc(message), "#57606a")

    def clear_status(self) -> None:
        """Hide the status line and the error output."""
        self.status.value = ""
        show(self.status, False)
        self.errors.outputs = ()  # not clear_output(): no terminal escape codes, safe from threads
        show(self.errors, False)

    def _set_status(self, inner_html: str, colour: str) -> None:
        self.status.value = (
            f'<div style="color:{colour};white-space:pre-wrap;line-height:1.4">{inner_html}</div>'
        )
        show(self.status)

    def guard(self, callback: F) -> F:
        """Wrap ``callback`` so that whatever it raises is shown in this panel (and not re-raised)."""

        @functools.wraps(callback)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - shown to the user in the panel
                self.show_error(err)
                return None

        return guarded  # type: ignore[return-value]

    def _footer(self) -> list[widgets.Widget]:
        return [self.status, self.errors]

    # --- background work ----------------------------------------------------------------

    def every(self, seconds: float, work: Callable[[], bool | None], name: str = "tick") -> Ticker:
        """Run ``work`` every ``seconds`` in a daemon thread until it returns ``False`` or the panel closes.

        Errors ``work`` raises are shown in the panel and stop the ticker.
        """
        ticker = Ticker(seconds, work, on_error=self.show_error, name=f"mldeploy-{name}")
        self._tickers.append(ticker)
        ticker.start()
        return ticker

    def close(self) -> None:
        """Stop every background ticker, then close the widgets."""
        for ticker in self._tickers:
            ticker.stop()
        for child in self.children:
            child.close()
        super().close()


class Ticker:
    """Calls ``work()`` every ``interval`` seconds in a daemon thread until stopped or ``work()`` returns False."""

    def __init__(
        self,
        interval: float,
        work: Callable[[], bool | None],
        on_error: Callable[[BaseException], None],
        name: str = "mldeploy-tick",
    ) -> None:
        self.interval = interval
        self._work = work
        self._on_error = on_error
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._poke_lock = threading.Lock()
        self._poke_at = float("inf")
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        """Start ticking (the first call is immediate)."""
        self._thread.start()

    def stop(self, wait: float = 2.0) -> None:
        """Stop ticking and wait (at most ``wait`` seconds) for the current call to end."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=wait)

    @property
    def running(self) -> bool:
        """Whether the ticker still runs."""
        return self._thread.is_alive() and not self._stop.is_set()

    def poke(self, after: float = 0.0) -> None:
        """Make the next call ``after`` seconds from now instead of at the next interval.

        A poke that arrives while ``work()`` runs is kept: the next call still comes early.
        """
        with self._poke_lock:
            self._poke_at = min(self._poke_at, time.monotonic() + after)
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            with self._poke_lock:
                if self._poke_at <= started:
                    self._poke_at = float("inf")  # this call answers it
            try:
                if self._work() is False:
                    return
            except Exception as err:  # noqa: BLE001 - shown in the panel, then stop
                self._on_error(err)
                return
            due = time.monotonic() + self.interval
            while not self._stop.is_set():
                with self._poke_lock:
                    left = min(due, self._poke_at) - time.monotonic()
                if left <= 0:
                    break
                self._wake.wait(left)
                self._wake.clear()
