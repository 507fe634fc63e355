"""The registered environments' tables in the shared registry database (the only SQL here).

Tables (schema version in ``env_meta``)::

    env_meta          key/value, holds schema_version
    env_versions      name, version (1, 2, 3 per name), definition JSON,
                      definition_hash, spec_hash, created_time
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .._sqlite import connect, write_transaction
from ..errors import EnvironmentNotFoundError, RegistryError

SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS env_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS env_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        definition_hash TEXT NOT NULL,
        spec_hash TEXT NOT NULL,
        created_time TEXT NOT NULL,
        PRIMARY KEY (name, version)
    )""",
)


@dataclass(frozen=True)
class StoredEnvironment:
    """One registered environment version as stored."""

    name: str
    version: int
    definition: dict[str, Any]
    definition_hash: str
    spec_hash: str
    created_time: str


def _open() -> sqlite3.Connection:
    conn = connect()
    row = None
    try:
        row = conn.execute("SELECT value FROM env_meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        row = None
    if row is not None:
        if int(row[0]) > SCHEMA_VERSION:
            conn.close()
            raise RegistryError(
                f"the environment tables were written by a newer jupyter-mldeploy (schema "
                f"{row[0]}, this one knows {SCHEMA_VERSION}): upgrade jupyter-mldeploy."
            )
        return conn
    with write_transaction(conn):
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(
            "INSERT OR IGNORE INTO env_meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
    return conn


def _row(row: sqlite3.Row) -> StoredEnvironment:
    return StoredEnvironment(
        name=row["name"],
        version=int(row["version"]),
        definition=json.loads(row["definition"]),
        definition_hash=row["definition_hash"],
        spec_hash=row["spec_hash"],
        created_time=row["created_time"],
    )


def register(name: str, definition: dict[str, Any], definition_hash: str, spec_hash: str) -> tuple[StoredEnvironment, bool]:
    """Store a new version of ``name``; return it and whether it is new.

    When the latest version has the same ``definition_hash`` it is returned
    instead (``created`` is False).
    """
    conn = _open()
    try:
        with write_transaction(conn):
            latest = conn.execute(
                "SELECT * FROM env_versions WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
            ).fetchone()
            if latest is not None and latest["definition_hash"] == definition_hash:
                return _row(latest), False
            version = 1 if latest is None else int(latest["version"]) + 1
            created = datetime.now(timezone.utc).isoformat(timespec="microseconds")
            conn.execute(
                "INSERT INTO env_versions (name, version, definition, definition_hash, spec_hash, "
                "created_time) VALUES (?, ?, ?, ?, ?, ?)",
                (name, version, json.dumps(definition, sort_keys=True), definition_hash, spec_hash, created),
            )
            row = conn.execute(
                "SELECT * FROM env_versions WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
            return _row(row), True
    finally:
        conn.close()


def get(name: str, version: int | None = None) -> StoredEnvironment:
    """Return version ``version`` of ``name`` (the latest when None).

    Raises
    ------
    EnvironmentNotFoundError
        With the versions or names that do exist.
    """
    conn = _open()
    try:
        if version is None:
            row = conn.execute(
                "SELECT * FROM env_versions WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT * FROM env_versions WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
        if row is not None:
            return _row(row)
        versions = [r[0] for r in conn.execute(
            "SELECT version FROM env_versions WHERE name = ? ORDER BY version", (name,)
        )]
        if versions:
            raise EnvironmentNotFoundError(
                f"environment {name!r} has no version {version}; its versions are "
                f"{', '.join(map(str, versions))}. Ask for one of those, or version=None for the latest."
            )
        names = [r[0] for r in conn.execute("SELECT DISTINCT name FROM env_versions ORDER BY name")]
        known = ", ".join(names[:20]) if names else "none yet"
        raise EnvironmentNotFoundError(
            f"no registered environment is called {name!r} (registered: {known}). "
            "Register it first with env.register()."
        )
    finally:
        conn.close()


def list_latest() -> list[StoredEnvironment]:
    """Return the latest version of every environment, by name."""
    conn = _open()
    try:
        rows = conn.execute(
            "SELECT e.* FROM env_versions e JOIN (SELECT name, MAX(version) AS v FROM env_versions "
            "GROUP BY name) m ON e.name = m.name AND e.version = m.v ORDER BY e.name"
        ).fetchall()
        return [_row(r) for r in rows]
    finally:
        conn.close()


def list_versions(name: str) -> list[StoredEnvironment]:
    """Return every version of ``name``, oldest first."""
    conn = _open()
    try:
        rows = conn.execute("SELECT * FROM env_versions WHERE name = ? ORDER BY version", (name,)).fetchall()
        return [_row(r) for r in rows]
    finally:
        conn.close()
