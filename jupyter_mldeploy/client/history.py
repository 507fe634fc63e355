"""Requests sent to a service by hand (the test-request panel): a short, shared history on disk.

A deployed service keeps its history in its own folder (``requests.jsonl``), so every
panel of it, in any kernel, shows the same list and a re-run cell starts from the last
request; it goes when the service is deleted. A bare URL (a ``ScoringServer`` in a
notebook) keeps its history under ``$MLDEPLOY_HOME/cache/requests/``. Files are private
(0600: request bodies may hold data), hold the last :data:`HISTORY_SIZE` entries and
are written under a lock, so two panels sending at once lose nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .._config import mldeploy_home

__all__ = ["HISTORY_SIZE", "HistoryEntry", "RequestHistory"]

#: How many requests a history keeps.
HISTORY_SIZE = 50


@dataclass(frozen=True)
class HistoryEntry:
    """One request sent, and what came back (``status`` 0: no answer)."""

    when: str
    method: str
    content_type: str
    encoding: str
    headers_text: str
    body_text: str
    status: int = 0
    latency_ms: float = 0.0
    size: int = 0

    def label(self) -> str:
        """One line for a history list: time, method, status, latency, first bytes of the body."""
        status = str(self.status) if self.status else "no answer"
        preview = " ".join(self.body_text.split())
        preview = preview if len(preview) <= 60 else preview[:57] + "..."
        return f"{self.when}  {self.method:<4} {status:>9}  {self.latency_ms:8.1f} ms  {preview}"


class RequestHistory:
    """The history in one file, newest last (see the module docstring for where the file is).

    Examples
    --------
    >>> history = RequestHistory.for_url("http://127.0.0.1:5001")   # doctest: +SKIP
    >>> history.append(entry); history.entries()[-1] == entry         # doctest: +SKIP
    True
    """

    def __init__(self, path: Path, size: int = HISTORY_SIZE) -> None:
        self.path = Path(path)
        self.size = size

    @classmethod
    def for_url(cls, url: str) -> RequestHistory:
        """The history of requests sent to ``url`` (a server that is not a deployed service)."""
        key = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:24]
        return cls(mldeploy_home() / "cache" / "requests" / f"{key}.jsonl")

    def entries(self) -> list[HistoryEntry]:
        """The kept entries, oldest first (lines a newer or damaged file cannot explain are skipped)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, NotADirectoryError):
            return []
        known = {f.name for f in fields(HistoryEntry)}
        out: list[HistoryEntry] = []
        for line in lines[-self.size :]:
            try:
                data = json.loads(line)
                out.append(HistoryEntry(**{k: v for k, v in data.items() if k in known}))
            except (ValueError, TypeError):
                continue
        return out

    def append(self, entry: HistoryEntry) -> None:
        """Add ``entry`` (the file is cut back to the last ``size`` entries once it holds twice that)."""
        with self._locked():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(entry)) + "\n")
            lines = self.path.read_text(encoding="utf-8").splitlines()
            if len(lines) > 2 * self.size:
                temp = self.path.with_name(self.path.name + ".tmp")
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write("\n".join(lines[-self.size :]) + "\n")
                os.replace(temp, self.path)

    def clear(self) -> None:
        """Forget every entry."""
        with self._locked():
            self.path.unlink(missing_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
