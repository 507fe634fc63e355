"""``TestRequestPanel``: send test requests to a service, see the answer, replay history, run a load test.

Three tabs:

* **Request**: a JSON editor prefilled with the last request sent to that service in this
  kernel, else the service's ``swagger.json`` example (fetched in the background), else
  ``{"data": []}``; extra headers, content type and method; **Send** shows the status,
  latency (client-measured, and the server's ``run()`` time), the response headers and the
  pretty body (a hex summary for binary bodies).
* **History**: the last 50 requests sent to the service from this kernel; **Replay** loads
  one into the editor and sends it again.
* **Load test**: N requests at concurrency C (:func:`~jupyter_mldeploy.client.loadtest.load_test`)
  with a progress bar and Stop; then p50/p95/p99 (of all answers, and of the 2xx answers
  when some failed), throughput, errors by status and the latency histogram.

Send, the load test and fetching the swagger example run in background threads, so a slow
or silent service never blocks the kernel; :meth:`TestRequestPanel.wait` waits for them
(handy in scripts and tests).
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from dataclasses import replace
from typing import Any

import ipywidgets as widgets

from ..client.bodies import json_body
from ..client.client import Response, ScoringClient
from ..client.history import HistoryEntry, RequestHistory
from ..client.loadtest import (
    LoadTestResult,
    resolve_target,
    swagger_example,
)
from ..client.sending import fetch_swagger
from ..errors import InvalidArgumentError, ScoringRequestError
from ._base import Panel, badge, esc, human_bytes, human_seconds, show
from ._bodies import (
    _body_html,
    _decode_bytes,
    _parse_headers,
    _Prepared,
    hex_dump,
)
from ._captured_tab import CapturedTab
from ._history_tab import HistoryTab
from ._load_test_tab import LoadTestTab

__all__ = ["TestRequestPanel", "hex_dump"]

_WIDE = {"description_width": "initial"}
CONTENT_TYPES = ("application/json", "text/plain", "application/octet-stream")
DEFAULT_BODY = '{"data": []}'
#: Seconds to wait for ``swagger.json`` when fetching the example (in the background).
EXAMPLE_TIMEOUT = 2.0

_STYLE = (
    "<style>.mldeploy-mono textarea{font-family:var(--jp-code-font-family,monospace);"
    "font-size:var(--jp-code-font-size,13px)}"
    ".mldeploy-test-request-panel pre{margin:0;max-height:24em;overflow:auto;"
    "background:var(--jp-layout-color2,#f6f8fa);padding:4px 6px}</style>"
)


def _history_of(service: Any) -> RequestHistory:
    """A deployed service's own history, or the history of a server's URL."""
    history = getattr(service, "request_history", None)
    return history if isinstance(history, RequestHistory) else RequestHistory.for_url(resolve_target(service)[0])


class TestRequestPanel(HistoryTab, LoadTestTab, CapturedTab, Panel):
    """Send test requests to a service and load-test it, from a notebook.

    Parameters
    ----------
    service
        A ``Webservice`` (its port and, when auth is on, its primary key are used), or a
        loopback URL such as ``"http://127.0.0.1:5001"`` (e.g. a ``ScoringServer``'s ``url``).
    sample
        What the editor starts with: a JSON-able object, a JSON string, or bytes (shown as
        hex, sent as ``application/octet-stream``). Default: the last request sent to this
        service in this kernel (so re-running the cell keeps an edited body), else the
        swagger example, else ``{"data": []}``. The swagger example is fetched in the
        background (at most ``EXAMPLE_TIMEOUT`` seconds) and fills the editor when it
        arrives, unless the request was edited or sent meanwhile.
    timeout
        Seconds Send waits for an answer (the server answers 504 after its own ``run()``
        timeout, 60 s by default, before this).

    Examples
    --------
    >>> from jupyter_mldeploy.widgets import TestRequestPanel      # doctest: +SKIP
    >>> panel = TestRequestPanel(service)                          # doctest: +SKIP
    >>> panel                                                      # doctest: +SKIP
    >>> panel.send_button.click(); panel.wait()                    # doctest: +SKIP
    >>> panel.last_response.status                                 # doctest: +SKIP
    200
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, service: Any, sample: Any = None, timeout: float = 70.0) -> None:
        super().__init__()
        self.add_class("mldeploy-test-request-panel")
        self.service = service
        self.timeout = float(timeout)
        self.history = _history_of(service)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="mldeploy-send"
        )
        self._client: ScoringClient | None = None
        self._pending: concurrent.futures.Future[Any] | None = None
        self._load_thread: threading.Thread | None = None
        self._example_thread: threading.Thread | None = None
        self._example_before: tuple[str, str, str, int] | None = None
        self._sends = 0  # Send/Run clicks: a later example leaves the body alone
        self._closed = False
        self._cancel = threading.Event()
        self._shown: list[HistoryEntry] = []
        #: the last answer Send got (``None`` before the first, or after a connection error)
        self.last_response: Response | None = None
        #: the last load test's result
        self.last_load_test: LoadTestResult | None = None

        self.title = widgets.HTML()
        self._style = widgets.HTML(_STYLE, layout=widgets.Layout(display="none"))
        self.tabs = widgets.Tab()
        self.tabs.children = [
            self._build_request_tab(),
            self._build_history_tab(),
            self._build_load_tab(),
            self._build_captured_tab(),
        ]
        self.tabs.titles = ("Request", "History", "Load test", "Captured")
        self.children = [self._style, self.title, self.tabs, *self._footer()]
        self._show_title()
        self._prefill(sample)
        self._refresh_history()

    # --- building ------------------------------------------------------------------------

    def _build_request_tab(self) -> widgets.Widget:
        self.method = widgets.Dropdown(
            options=["POST", "GET"],
            value="POST",
            description="Method",
            style=_WIDE,
            layout=widgets.Layout(width="170px"),
        )
        self.content_type = widgets.Dropdown(
            options=list(CONTENT_TYPES),
            value=CONTENT_TYPES[0],
            description="Content-Type",
            style=_WIDE,
            layout=widgets.Layout(width="330px"),
        )
        self.encoding = widgets.Dropdown(
            options=["hex", "base64"],
            value="hex",
            description="Bytes as",
            style=_WIDE,
            layout=widgets.Layout(width="170px", display="none"),
        )
        self.editor = widgets.Textarea(rows=10, layout=widgets.Layout(width="100%"))
        self.editor.add_class("mldeploy-mono")
        self.headers_text = widgets.Textarea(
            rows=2,
            placeholder="Extra headers, one per line: X-Trace: 42",
            layout=widgets.Layout(width="100%"),
        )
        self.headers_text.add_class("mldeploy-mono")
        self.send_button = widgets.Button(
            description="Send", button_style="primary", icon="paper-plane"
        )
        self.example_button = widgets.Button(
            description="Example",
            icon="undo",
            tooltip="Load the service's swagger example into the editor",
        )
        self.response_status = widgets.HTML()
        self.response_headers = widgets.HTML()
        self.headers_box = widgets.Accordion(
            children=[self.response_headers],
            titles=("Response headers",),
            selected_index=None,
            layout=widgets.Layout(display="none"),
        )
        self.response_body = widgets.HTML()
        self.content_type.observe(self.guard(self._on_content_type), names="value")
        self.send_button.on_click(self.guard(lambda _: self.send()))
        self.example_button.on_click(self.guard(lambda _: self.load_example()))
        return widgets.VBox(
            [
                widgets.HBox([self.method, self.content_type, self.encoding]),
                self.editor,
                self.headers_text,
                widgets.HBox([self.send_button, self.example_button]),
                self.response_status,
                self.headers_box,
                self.response_body,
            ]
        )


    def _show_title(self) -> None:
        name = getattr(self.service, "name", None)
        uri = getattr(self.service, "scoring_uri", None) or f"{resolve_target(self.service)[0]}/score"
        label = f"{esc(name)} · " if name else ""
        self.title.value = f"<b>Test requests</b> · {label}<code>{esc(uri)}</code>"

    # --- the editor ----------------------------------------------------------------------

    def _prefill(self, sample: Any) -> None:
        if sample is not None:
            self._set_editor_value(sample)
            return
        history = self.history.entries()
        if history:  # the last request wins: re-running the cell keeps an edited body
            self._load_entry(history[-1])
            return
        self.editor.value = DEFAULT_BODY
        self._fetch_example(explicit=False)

    def _set_editor_value(self, value: Any) -> None:
        if isinstance(value, (bytes, bytearray)):
            self.content_type.value = "application/octet-stream"
            self.encoding.value = "hex"
            self.editor.value = bytes(value).hex(" ")
        elif isinstance(value, str):
            self.editor.value = value
        else:
            self.editor.value = json.dumps(value, indent=2)

    def _request_state(self) -> tuple[str, str, str, int]:
        """What the user can change before an example arrives: body, content type, method, sends."""
        return (self.editor.value, self.content_type.value, self.method.value, self._sends)

    def load_example(self, wait: bool = False) -> None:
        """Fetch the service's swagger example in the background and put it into the editor.

        What the **Example** button does. The editor is left alone if the request is edited
        or sent before the example arrives (a note says so).

        Raises
        ------
        InvalidArgumentError
            An example is being fetched already.
        """
        self._fetch_example(explicit=True)
        if wait and self._example_thread is not None:
            self._example_thread.join(EXAMPLE_TIMEOUT + 10)

    def _fetch_example(self, explicit: bool) -> None:
        if self._example_thread is not None and self._example_thread.is_alive():
            raise InvalidArgumentError(
                "the swagger example is being fetched already; it fills the editor when it arrives"
            )
        before = self._example_before = self._request_state()
        self.example_button.disabled = True
        self._example_thread = threading.Thread(
            target=self.guard(self._example_now),
            args=(before, explicit),
            name="mldeploy-swagger-example",
            daemon=True,
        )
        self._example_thread.start()

    def _settle_example(self) -> None:
        """Send/Run right after the panel shows: let an example on its way land first (bounded)."""
        thread = self._example_thread
        if (
            thread is not None
            and thread.is_alive()
            and threading.current_thread() is not thread
            and self._request_state() == self._example_before  # untouched: it would fill it
        ):
            thread.join(EXAMPLE_TIMEOUT + 1)

    def _example_now(self, before: tuple[str, str, str, int], explicit: bool) -> None:
        """Fetch the example (in a background thread); fill the editor unless the request changed."""
        try:
            example = self._example()
        except (ScoringRequestError, InvalidArgumentError) as err:
            if explicit:
                raise
            if not self._closed and self.status.layout.display == "none":  # keep any error shown
                self.show_note(f"No swagger example ({err}).")
            return
        finally:
            self.example_button.disabled = False
        if self._closed:
            return
        if example is None:
            if explicit:
                raise InvalidArgumentError(
                    "the service's swagger.json has no input example (decorate run() with "
                    "inference_schema's @input_schema to get one); type the body in the editor"
                )
            return
        if self._request_state() != before:
            if explicit:
                self.show_note(
                    "The swagger example arrived after the request was edited or sent; "
                    "click Example again to load it."
                )
            return
        self.content_type.value = "application/json"
        self.method.value = "POST"
        self._set_editor_value(example)
        if explicit:
            self.clear_status()

    def _example(self) -> Any | None:
        """The swagger example of the service's input, or None (call it off the kernel thread)."""
        return swagger_example(fetch_swagger(self.service, EXAMPLE_TIMEOUT))

    def _on_content_type(self, change: dict[str, Any]) -> None:
        binary = change["new"] == "application/octet-stream"
        show(self.encoding, binary)

    def _prepare(self) -> _Prepared:
        """Build the request from the editor; raise InvalidArgumentError (nothing sent) when it cannot."""
        method, content_type, text = self.method.value, self.content_type.value, self.editor.value
        headers = _parse_headers(self.headers_text.value)
        body: bytes | None
        if method == "GET":
            body = None
        elif content_type == "application/json":
            body = json_body(text)
        elif content_type == "application/octet-stream":
            body = _decode_bytes(text, self.encoding.value)
        else:
            body = text.encode("utf-8")
        if body is not None and not any(k.lower() == "content-type" for k in headers):
            headers = {"Content-Type": content_type, **headers}
        entry = HistoryEntry(
            when=time.strftime("%H:%M:%S"),
            method=method,
            content_type=content_type,
            encoding=self.encoding.value,
            headers_text=self.headers_text.value,
            body_text=text,
        )
        return _Prepared(method, body, headers, entry)

    # --- sending -------------------------------------------------------------------------

    def send(self, wait: bool = False) -> None:
        """Send the editor's request in the background (``wait=True``: until answered).

        Raises
        ------
        InvalidArgumentError
            The editor's body or headers cannot be sent (bad JSON: line and column named).
        """
        self._settle_example()
        prepared = self._prepare()
        self._sends += 1
        self.clear_status()
        self.send_button.disabled = True
        self.send_button.description = "Sending..."
        self.response_status.value = f"{badge('sending', '#57606a')} {esc(prepared.method)} /score"
        self._pending = self._executor.submit(self.guard(self._send_now), prepared)
        if wait:
            self._pending.result(timeout=self.timeout + 10)

    def _send_now(self, prepared: _Prepared) -> None:
        answer: Response | None = None
        try:
            answer = self._request(prepared)
            self.last_response = answer
            self._remember(
                replace(
                    prepared.entry,
                    status=answer.status,
                    latency_ms=answer.latency_ms,
                    size=len(answer.body),
                )
            )
            self._show_response(answer)
        finally:  # whatever went wrong: no grey "sending" left behind, and the try is in History
            if answer is None:
                self.last_response = None
                self.response_status.value = badge("no answer", "#cf222e")
                self.response_body.value = ""
                show(self.headers_box, False)
                self._remember(prepared.entry)
            self.send_button.disabled = False
            self.send_button.description = "Send"

    def _request(self, prepared: _Prepared) -> Response:
        """Send ``prepared`` on this panel's connection (in the send thread) and return the answer."""
        base_url, key = resolve_target(self.service)  # the port may change on redeploy
        if self._client is None or (self._client.base_url, self._client.auth_key) != (
            base_url,
            key,
        ):
            if self._client is not None:
                self._client.close()
            self._client = ScoringClient(base_url, auth_key=key, timeout=self.timeout)
        try:
            return self._client.request(prepared.method, "/score", prepared.body, prepared.headers)
        except ScoringRequestError as err:
            raise self._explain(err) from err

    def _explain(self, err: ScoringRequestError) -> ScoringRequestError:
        """Say why a service gave no answer when its state tells (deleted, failed, restarting)."""
        name = getattr(self.service, "name", None)
        state = getattr(self.service, "state", None) if name else None
        if state == "Deleted":
            return ScoringRequestError(
                f"service {name!r} was deleted; deploy it again to send it requests"
            )
        if state in (None, "Healthy"):
            return err
        return ScoringRequestError(
            f"service {name!r} is {state} and did not answer ({err}); see service.get_logs(), "
            "and send again once it is Healthy"
        )

    def _show_response(self, answer: Response) -> None:
        ok = 200 <= answer.status < 300
        colour = "#1a7f37" if ok else "#cf222e"
        content_type = answer.headers.get("content-type", "")
        server = answer.headers.get("x-ms-run-fn-exec-ms")
        server_text = f" (run() {float(server):.2f} ms on the server)" if server else ""
        self.response_status.value = (
            f"{badge(f'{answer.status}', colour)} <b>{esc(human_seconds(answer.latency_ms / 1000))}</b>"
            f"{esc(server_text)} · {esc(human_bytes(len(answer.body)))} · {esc(content_type or 'no content type')}"
        )
        rows = "".join(
            f"<tr><td style='padding-right:1em'><code>{esc(k)}</code></td><td><code>{esc(v)}</code></td></tr>"
            for k, v in sorted(answer.headers.items())
        )
        self.response_headers.value = f"<table>{rows}</table>"
        show(self.headers_box)
        self.response_body.value = _body_html(
            answer.body, content_type.split(";")[0].strip().lower()
        )

    # --- history -------------------------------------------------------------------------


    # --- load test -----------------------------------------------------------------------


    # --- life cycle ----------------------------------------------------------------------

    def wait(self, timeout: float = 120.0) -> bool:
        """Wait until Send, the load test and an example fetch are done; False if still busy after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        if self._example_thread is not None:
            self._example_thread.join(max(0.0, deadline - time.monotonic()))
            if self._example_thread.is_alive():
                return False
        if self._pending is not None:
            try:
                self._pending.result(timeout=max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                return False
        if self._load_thread is not None:
            self._load_thread.join(max(0.0, deadline - time.monotonic()))
            if self._load_thread.is_alive():
                return False
        return True

    def close(self) -> None:
        """Stop a running load test, close the send thread's connection and close the widgets."""
        self._closed = True
        self._cancel.set()
        client, self._client = self._client, None
        if client is not None:
            try:
                self._executor.submit(client.close)  # the connection lives in the send thread
            except (
                RuntimeError
            ):  # closed before (ipywidgets calls close() again on garbage collection)
                pass
        self._executor.shutdown(wait=False, cancel_futures=False)
        super().close()
