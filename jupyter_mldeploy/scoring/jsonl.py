"""Private, size-bounded JSON-lines files that several worker processes append to, and reading them back.

:class:`JsonLinesFile` is the writer behind request capture (``capture.jsonl``) and
``ModelDataCollector`` (``collected.jsonl``): :meth:`~JsonLinesFile.add` only appends
a record (any object; turning it into text is the ``encode`` callable's job) to a list,
and the :class:`~.logs.LogWriter` thread it inherits serialises and writes what piled
up every few milliseconds, in one ``os.write`` of whole lines, so the event loop never
waits on the disk. Files are created 0600 in a 0700 folder. When a file passes
``rotate_bytes`` it is renamed to ``NAME.1`` (``NAME.1`` to ``NAME.2``, ..., ``keep``
old files kept); every batch is written under an ``flock`` shared by every worker, so
a worker whose file was rotated by another reopens the new one before it writes. A writer that falls
``max_pending`` records behind drops new ones and counts them (``dropped``), rather
than grow without bound.

:func:`read_last` gives the last ``n`` records of a file and its rotated
predecessors, newest last: what ``Webservice.get_captured(n)`` and
``mldeploy captured NAME -n N`` show.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .logs import LogWriter

__all__ = ["JsonLinesFile", "read_last"]

#: lines read beyond the ``n`` asked for, so records two workers wrote out of order still sort into place
_ORDER_MARGIN = 64
#: records waiting to be written past which new ones are dropped (and counted)
MAX_PENDING = 10_000


def _json_line(record: Any) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str)


def private_folder(folder: Path) -> Path:
    """Create ``folder`` (0700) if needed and return it."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


class JsonLinesFile(LogWriter):
    """Append records to ``path`` as JSON lines from a background thread, rotating at ``rotate_bytes``.

    Parameters
    ----------
    path
        The file (its folder is created 0700, the file 0600).
    rotate_bytes
        Size past which the file is renamed to ``path.1`` and a new one started.
    keep
        Rotated files kept (``path.1`` ... ``path.KEEP``).
    encode
        Turns one record into its line (default: compact JSON); runs on the writer thread.

    Examples
    --------
    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> out = JsonLinesFile(folder / "c.jsonl", rotate_bytes=1 << 20)
    >>> out.add({"a": 1}); out.close()
    >>> read_last(folder / "c.jsonl", 5)
    [{'a': 1}]
    """

    def __init__(self, path: str | os.PathLike[str], rotate_bytes: int, keep: int = 3,
                 encode: Callable[[Any], str] = _json_line) -> None:
        self.path = Path(path)
        self.rotate_bytes = max(1, int(rotate_bytes))
        self.keep = max(1, int(keep))
        self.dropped = 0
        self._encode = encode
        private_folder(self.path.parent)
        self._lock_path = self.path.with_name(f".{self.path.name}.lock")
        super().__init__(self._open())

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def add(self, record: Any) -> None:
        """Queue one record (no I/O here); dropped and counted when the writer is far behind."""
        if len(self._lines) >= MAX_PENDING:
            self.dropped += 1
            return
        self.line(record)  # type: ignore[arg-type]  # the queue holds records here, encoded in flush()

    def flush(self) -> None:
        """Serialise and write everything queued so far (rotating first when the file is full)."""
        records, self._lines = self._lines, []
        if not records:
            return
        text = []
        for record in records:
            try:
                text.append(self._encode(record))
            except Exception:  # noqa: BLE001 - one unserialisable record must not lose the others
                self.dropped += 1
        if not text:
            return
        lines = [(line + "\n").encode("utf-8", "replace") for line in text]
        try:
            with self._locked():  # one batch at a time across workers: rotation and appends never race
                self._follow_rotation()
                size = os.fstat(self.fd).st_size
                chunk: list[bytes] = []
                for line in lines:  # rotate between lines: a file passes the limit by one line at most
                    if size and size + len(line) > self.rotate_bytes:
                        self._write(b"".join(chunk))
                        chunk, size = [], 0
                        self._rotate()
                    chunk.append(line)
                    size += len(line)
                self._write(b"".join(chunk))
        except OSError:
            self.dropped += len(text)  # disk full or folder gone: count what was lost, keep serving

    def _write(self, data: bytes) -> None:
        while data:
            data = data[os.write(self.fd, data):]

    def _follow_rotation(self) -> None:
        """Reopen when another worker rotated the file under us (the path names a new file now)."""
        try:
            same = os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(self.fd)
            self.fd = self._open()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600), "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _rotate(self) -> None:
        """``path`` -> ``path.1`` -> ... -> ``path.KEEP`` (the oldest dropped), then a new ``path`` (lock held)."""
        for i in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        os.close(self.fd)
        self.fd = self._open()

    def close(self) -> None:
        """Write what is queued, stop the thread and close the file."""
        super().close()
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _tail_lines(path: Path, n: int) -> list[bytes]:
    """The last ``n`` complete lines of ``path`` (read backwards in blocks: big files cost little)."""
    data = b""
    pos = 0
    try:
        with open(path, "rb") as handle:
            pos = handle.seek(0, os.SEEK_END)
            while pos > 0 and data.count(b"\n") <= n:
                step = min(65536, pos)
                pos -= step
                handle.seek(pos)
                data = handle.read(step) + data
    except FileNotFoundError:
        return []
    lines = [line for line in data.split(b"\n") if line.strip()]
    if pos > 0:
        lines = lines[1:]  # the first one may be cut
    return lines[-n:] if n else []


def read_last(path: str | os.PathLike[str], n: int, keep: int = 3) -> list[dict[str, Any]]:
    """The last ``n`` records of ``path`` and its rotated files (``path.1`` ...), oldest first.

    Several workers append in batches, so the file's order is only nearly the records'
    order: a margin of lines is read and the records are put in order of their ``time``
    (ISO-8601 strings; records without one keep their place). A line that is not JSON
    (a file cut by a crash) is skipped.
    """
    base = Path(path)
    wanted = max(0, int(n))
    reading = wanted + _ORDER_MARGIN if wanted else 0
    lines: list[bytes] = []
    for i in range(keep + 1):
        if len(lines) >= reading:
            break
        file = base if i == 0 else base.with_name(f"{base.name}.{i}")
        lines = _tail_lines(file, reading - len(lines)) + lines
    records = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    if all(isinstance(r.get("time"), str) for r in records):
        records.sort(key=lambda r: r["time"])  # stable: equal times keep the file's order
    return records[-wanted:] if wanted else []
