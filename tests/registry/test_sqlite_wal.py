"""Opening the database: the switch to WAL waits out other processes instead of failing."""

from __future__ import annotations

import sqlite3

import pytest

from jupyter_mldeploy import _sqlite


class _Busy:
    """A connection whose journal-mode switch answers 'database is locked' a few times."""

    def __init__(self, failures: int, message: str = "database is locked") -> None:
        self.failures, self.message, self.calls = failures, message, 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise sqlite3.OperationalError(self.message)


def test_wal_switch_retries_while_the_database_is_locked() -> None:
    conn = _Busy(failures=5)
    _sqlite._set_wal(conn, timeout_s=10)  # type: ignore[arg-type]
    assert conn.calls == 6


def test_wal_switch_gives_up_at_its_deadline_and_other_errors_pass_at_once() -> None:
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _sqlite._set_wal(_Busy(failures=10**6), timeout_s=0.05)  # type: ignore[arg-type]
    other = _Busy(failures=1, message="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _sqlite._set_wal(other, timeout_s=10)  # type: ignore[arg-type]
    assert other.calls == 1


def test_a_real_database_ends_up_in_wal_mode(tmp_path) -> None:
    conn = _sqlite.connect(tmp_path / "r.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
