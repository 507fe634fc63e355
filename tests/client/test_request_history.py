"""RequestHistory: shared between objects and processes through one private file, bounded, forgiving."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from jupyter_mldeploy.client.history import HistoryEntry, RequestHistory


def _entry(body: str, status: int = 200) -> HistoryEntry:
    return HistoryEntry("12:00:00", "POST", "application/json", "utf-8", "", body, status, 1.5, len(body))


def test_history_is_shared_private_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "svc" / "requests.jsonl"
    first, second = RequestHistory(path, size=3), RequestHistory(path, size=3)
    assert first.entries() == []
    for n in range(8):
        first.append(_entry(f'{{"n": {n}}}'))
    assert [e.body_text for e in second.entries()] == ['{"n": 5}', '{"n": 6}', '{"n": 7}']
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(path.read_text().splitlines()) <= 6  # cut back once it held twice the size
    second.clear()
    assert first.entries() == []


def test_another_process_sees_the_same_history(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    code = (
        "import sys; from jupyter_mldeploy.client.history import HistoryEntry, RequestHistory\n"
        "RequestHistory(__import__('pathlib').Path(sys.argv[1])).append("
        "HistoryEntry('t', 'GET', 'text/plain', 'utf-8', '', 'from the other kernel'))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
    RequestHistory(path).append(_entry("mine"))
    assert [e.body_text for e in RequestHistory(path).entries()] == ["from the other kernel", "mine"]


def test_damaged_lines_are_skipped_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    history = RequestHistory(path)
    history.append(_entry("kept"))
    with open(path, "a") as handle:
        handle.write("{not json\n")
        handle.write('{"when": "t", "future_field": 1}\n')  # a newer version's line, missing fields
    history.append(_entry("also kept"))
    assert [e.body_text for e in history.entries()] == ["kept", "also kept"]


def test_url_histories_live_under_mldeploy_home(mldeploy_home: Path) -> None:
    history = RequestHistory.for_url("http://127.0.0.1:5001/")
    history.append(_entry("x"))
    assert history.path.parent == mldeploy_home / "cache" / "requests"
    assert RequestHistory.for_url("http://127.0.0.1:5001").entries()[0].body_text == "x"
    assert RequestHistory.for_url("http://127.0.0.1:5002").entries() == []
