"""SQLite connections for the embedded store: WAL, busy timeout, explicit transactions.

Every subsystem (models, environments, services) keeps its tables in the one
database ``$MLDEPLOY_HOME/registry.db`` and opens it only through
:func:`connect`, so that all of them get the same concurrency settings.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ._config import mldeploy_home
from .errors import RegistryError

#: How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 60.0


def db_path() -> Path:
    """Return the path of the registry database under ``MLDEPLOY_HOME``."""
    return mldeploy_home() / "registry.db"


def connect(path: Path | None = None) -> sqlite3.Connection:
    """Open the registry database with WAL journaling and a generous busy timeout.

    The connection is in autocommit mode (``isolation_level=None``); use
    :func:`write_transaction` for writes so that they take the write lock up
    front (``BEGIN IMMEDIATE``) and cannot deadlock on lock upgrades.
    """
    path = path or db_path()
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        _set_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as err:
        if isinstance(err, sqlite3.DatabaseError) and "not a database" in str(err):
            raise RegistryError(
                f"{path} is not an SQLite database (it was overwritten or damaged): restore it from a backup, "
                "or move MLDEPLOY_HOME aside to start a new registry."
            ) from err
        raise RegistryError(
            f"cannot open the registry database {path}: {err}. "
            "Check that MLDEPLOY_HOME points at a writable folder on a local disk."
        ) from err
    return conn


def _set_wal(conn: sqlite3.Connection, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Switch to WAL journaling, retrying while other processes hold the database.

    Changing the journal mode needs an exclusive lock, and SQLite may answer "database is
    locked" at once instead of waiting in its busy handler (e.g. several processes opening
    a new database together): retry with a short backoff, bounded by ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            text = str(err).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on any exception)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
