"""The scoring server's log stream: cheap access lines, and the script's own output tagged with request ids.

Every line goes through one :class:`LogWriter` per process: callers append a
finished line to a list (no syscall, no lock on the request path) and a
background thread writes what piled up every few milliseconds in one
``os.write``. Lines are short and written whole, so several worker processes
can share one stdout without interleaving inside a line.

Line formats::

    2026-01-02T03:04:05.678Z access POST /score 200 1.84ms rid=1f0c... worker=1
    2026-01-02T03:04:05.679Z script rid=1f0c... run: got 22 characters
    2026-01-02T03:04:05.680Z WARNING score rid=1f0c... run: logged warning
    2026-01-02T03:04:05.681Z server INFO worker 1 ready (init 0.12s)
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from typing import TextIO

from .contract import current_request_id

_FLUSH_INTERVAL_S = 0.02


_second: tuple[int, str] = (-1, "")


def timestamp(now: float | None = None) -> str:
    """UTC ISO-8601 time with milliseconds, as every log line starts (the seconds part is cached)."""
    global _second
    now = time.time() if now is None else now
    secs = int(now)
    cached = _second  # one read of an immutable pair: safe across threads
    if cached[0] != secs:
        cached = _second = (secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)))
    return f"{cached[1]}.{int((now - secs) * 1000):03d}Z"


def precise_timestamp(now: float) -> str:
    """UTC ISO-8601 time with microseconds: records whose order must survive several writers (capture)."""
    secs = int(now)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(secs))}.{int((now - secs) * 1_000_000):06d}Z"


class LogWriter:
    """Buffered, thread-safe line writer for one file descriptor.

    Parameters
    ----------
    fd
        File descriptor to write to (default: the process's stdout, fd 1).

    Examples
    --------
    >>> w = LogWriter(fd=1)          # doctest: +SKIP
    >>> w.line("hello")              # doctest: +SKIP
    >>> w.close()                    # doctest: +SKIP
    """

    def __init__(self, fd: int = 1) -> None:
        self.fd = fd
        self._lines: list[str] = []
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="mldeploy-log", daemon=True)
        self._thread.start()

    def line(self, text: str) -> None:
        """Queue one line (without its newline); it is written within a few milliseconds."""
        self._lines.append(text)
        if not self._wake.is_set():
            self._wake.set()

    def flush(self) -> None:
        """Write everything queued so far, now."""
        lines, self._lines = self._lines, []
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode("utf-8", "replace")
        try:
            while data:
                written = os.write(self.fd, data)
                data = data[written:]
        except OSError:
            pass  # stdout closed (parent gone): nothing useful to do with log lines

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait()
            time.sleep(_FLUSH_INTERVAL_S)  # let a burst pile up: one write for many lines
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        """Flush and stop the writer thread."""
        self._closed = True
        self._wake.set()
        self.flush()


class _BinaryView:
    """``sys.stdout.buffer`` of a :class:`TaggedStream`: bytes are decoded and tagged like text."""

    def __init__(self, text: TaggedStream) -> None:
        self._text = text

    def write(self, data: bytes) -> int:
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        self._text.flush()


class TaggedStream(io.TextIOBase):
    """A text stream standing in for ``sys.stdout``/``sys.stderr`` that tags each line with the request id.

    Output during ``init()`` is tagged ``rid=init``; partial lines are held per
    thread until their newline arrives.
    """

    def __init__(self, writer: LogWriter, label: str = "script") -> None:
        self._writer = writer
        self._label = label
        self._partial = threading.local()
        self.buffer = _BinaryView(self)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:  # type: ignore[override]
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        pending = getattr(self._partial, "text", "") + text
        if "\n" not in pending:
            self._partial.text = pending
            return len(text)
        *lines, rest = pending.split("\n")
        self._partial.text = rest
        rid = current_request_id.get()
        stamp = timestamp()
        for line in lines:
            self._writer.line(f"{stamp} {self._label} rid={rid} {line}")
        self._writer.flush()  # a script's print is in the log before its answer leaves (as under azmlinfsrv)
        return len(text)

    def flush(self) -> None:
        pending = getattr(self._partial, "text", "")
        if pending:
            self._partial.text = ""
            self._writer.line(f"{timestamp()} {self._label} rid={current_request_id.get()} {pending}")


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"{timestamp(record.created)} {record.levelname} {record.name} rid={current_request_id.get()} "
        text += record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class WriterHandler(logging.Handler):
    """A logging handler writing formatted records (with the request id) to a :class:`LogWriter`."""

    def __init__(self, writer: LogWriter) -> None:
        super().__init__()
        self._writer = writer
        self.setFormatter(_Formatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._writer.line(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break a request
            self.handleError(record)


class ServerLog:
    """The server's own messages (``server LEVEL message``), as one small object."""

    def __init__(self, writer: LogWriter, prefix: str = "") -> None:
        self._writer = writer
        self._prefix = prefix

    def info(self, message: str) -> None:
        """Log an informational line."""
        self._write("INFO", message)

    def warning(self, message: str) -> None:
        """Log a warning line."""
        self._write("WARNING", message)

    def error(self, message: str) -> None:
        """Log an error; a multi-line message (a traceback) keeps its lines."""
        self._write("ERROR", message)

    def _write(self, level: str, message: str) -> None:
        stamp = timestamp()
        for i, line in enumerate(message.rstrip("\n").split("\n")):
            head = f"{stamp} server {level} {self._prefix}" if i == 0 else f"{stamp} server {level} {self._prefix}  "
            self._writer.line(head + line)


def install(writer: LogWriter) -> tuple[TextIO, TextIO]:
    """Route ``print`` and ``logging`` of this process through ``writer``, tagged with request ids.

    Returns the original ``(stdout, stderr)`` so a caller can restore them.
    """
    original = (sys.stdout, sys.stderr)
    sys.stdout = TaggedStream(writer, "script")  # type: ignore[assignment]
    sys.stderr = TaggedStream(writer, "script")  # type: ignore[assignment]
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(WriterHandler(writer))
    if root.level == logging.WARNING:
        root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
        lg.setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").disabled = True
    return original


def last_traceback(logs: str) -> str:
    """The last Python traceback in a server log, without the log's time/source prefixes.

    The log lines are the ones :class:`ServerLog` writes; deployments and panels use this
    to show an ``init()`` failure by itself.

    Examples
    --------
    >>> log = ("t1 server ERROR worker 1:   Traceback (most recent call last):\\n"
    ...        "t2 server ERROR worker 1:     File \\"score.py\\", line 5, in init\\n"
    ...        "t3 server ERROR worker 1:   ValueError: no weights\\n")
    >>> print(last_traceback(log))
    Traceback (most recent call last):
      File "score.py", line 5, in init
    ValueError: no weights
    """
    lines = logs.splitlines()
    starts = [i for i, line in enumerate(lines) if "Traceback (most recent call last):" in line]
    if not starts:
        return ""
    first = lines[starts[-1]]
    column = first.index("Traceback (most recent call last):")
    head = first[:column]
    tag = head.split(" ", 1)[1] if " " in head.strip() else head  # drop the line's timestamp
    out = ["Traceback (most recent call last):"]
    for line in lines[starts[-1] + 1 :]:
        at = line.find(tag) if tag else 0
        if at < 0:
            break
        rest = line[at + len(tag) :]
        if not rest.strip():
            break
        out.append(rest)
        if not rest.startswith(" "):
            break  # the exception line ends the traceback
    return "\n".join(out)
