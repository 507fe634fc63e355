"""Model metadata in SQLite (the only registry module with SQL).

Tables (all prefixed ``model_`` because the database is shared with other subsystems):

``model_meta``      key/value, holds ``schema_version``
``model_names``     one row per name with ``last_version``: version numbers are never reused
``model_versions``  one row per registered version (JSON tags and properties)
``model_files``     the files of each version (path, size, sha256), deleted with their version

A version and its files are inserted in one ``BEGIN IMMEDIATE`` transaction that
also allocates the version number, so a version is visible whole or not at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from .._sqlite import write_transaction
from .records import ModelFile, ModelVersion

SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS model_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS model_names (
        name TEXT PRIMARY KEY,
        last_version INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS model_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        kind TEXT NOT NULL,
        created_time TEXT NOT NULL,
        description TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        properties TEXT NOT NULL DEFAULT '{}',
        framework TEXT,
        framework_version TEXT,
        UNIQUE (name, version)
    )""",
    """CREATE TABLE IF NOT EXISTS model_files (
        version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        PRIMARY KEY (version_id, path)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS model_files_sha256 ON model_files (sha256)",
)

_VERSION_COLUMNS = "id, name, version, kind, created_time, description, tags, properties, framework, framework_version"


def has_schema(conn: sqlite3.Connection) -> bool:
    """Whether the model tables exist in this database."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'model_meta'").fetchone()
    return row is not None


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the model tables if they do not exist (safe to run from many processes at once)."""
    row = None
    try:
        row = conn.execute("SELECT value FROM model_meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        row = None  # table missing: create below
    if row is not None and int(row[0]) == SCHEMA_VERSION:
        return
    with write_transaction(conn):
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(
            "INSERT OR IGNORE INTO model_meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )


def now_iso() -> str:
    """Return the current UTC time as an ISO-8601 string with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def insert_version(
    conn: sqlite3.Connection,
    *,
    name: str,
    kind: str,
    description: str | None,
    tags: dict[str, str],
    properties: dict[str, str],
    framework: str | None,
    framework_version: str | None,
    files: Sequence[ModelFile],
) -> ModelVersion:
    """Allocate the next version of ``name`` and insert it with its files (caller holds the write lock)."""
    version = conn.execute(
        "INSERT INTO model_names (name, last_version) VALUES (?, 1) "
        "ON CONFLICT (name) DO UPDATE SET last_version = last_version + 1 "
        "RETURNING last_version",
        (name,),
    ).fetchone()[0]
    created = now_iso()
    cursor = conn.execute(
        "INSERT INTO model_versions (name, version, kind, created_time, description, tags, "
        "properties, framework, framework_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            name,
            version,
            kind,
            created,
            description,
            json.dumps(tags, sort_keys=True),
            json.dumps(properties, sort_keys=True),
            framework,
            framework_version,
        ),
    )
    version_id = cursor.lastrowid
    conn.executemany(
        "INSERT INTO model_files (version_id, path, size, sha256) VALUES (?, ?, ?, ?)",
        [(version_id, f.path, f.size, f.sha256) for f in files],
    )
    return ModelVersion(
        name=name,
        version=version,
        kind=kind,
        created_time=created,
        description=description,
        tags=dict(tags),
        properties=dict(properties),
        framework=framework,
        framework_version=framework_version,
        files=tuple(sorted(files, key=lambda f: f.path)),
    )


def _records(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[ModelVersion]:
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    files: dict[int, list[ModelFile]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for vid, path, size, sha in conn.execute(
            f"SELECT version_id, path, size, sha256 FROM model_files WHERE version_id IN ({marks}) "
            "ORDER BY version_id, path",
            chunk,
        ):
            files[vid].append(ModelFile(path, size, sha))
    return [
        ModelVersion(
            name=row["name"],
            version=row["version"],
            kind=row["kind"],
            created_time=row["created_time"],
            description=row["description"],
            tags=_load_map(row["tags"]),
            properties=_load_map(row["properties"]),
            framework=row["framework"],
            framework_version=row["framework_version"],
            files=tuple(files[row["id"]]),
        )
        for row in rows
    ]


def _load_map(text: str) -> dict[str, str]:
    return {} if text == "{}" else dict(json.loads(text))


def get_version(conn: sqlite3.Connection, name: str, version: int | None) -> ModelVersion | None:
    """Return ``name:version`` (the latest version when ``version`` is None), or None."""
    if version is None:
        rows = conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE name = ? ORDER BY version DESC LIMIT 1",
            (name,),
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE name = ? AND version = ?",
            (name, version),
        ).fetchall()
    found = _records(conn, rows)
    return found[0] if found else None


def list_versions(conn: sqlite3.Connection, name: str | None, latest: bool) -> list[ModelVersion]:
    """Return versions newest first, of one ``name`` or all; only each name's latest if ``latest``."""
    where: list[str] = []
    params: list[object] = []
    if name is not None:
        where.append("v.name = ?")
        params.append(name)
    if latest:
        where.append(
            "v.version = (SELECT MAX(version) FROM model_versions w WHERE w.name = v.name)"
        )
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        f"SELECT {', '.join('v.' + c.strip() for c in _VERSION_COLUMNS.split(','))} "
        f"FROM model_versions v {clause} ORDER BY v.id DESC",
        params,
    ).fetchall()
    return _records(conn, rows)


def model_names(conn: sqlite3.Connection) -> list[str]:
    """Return the names that have at least one version, sorted."""
    return [r[0] for r in conn.execute("SELECT DISTINCT name FROM model_versions ORDER BY name")]


def versions_of(conn: sqlite3.Connection, name: str) -> list[int]:
    """Return the existing version numbers of ``name``, ascending."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT version FROM model_versions WHERE name = ? ORDER BY version", (name,)
        )
    ]


def update_version(
    conn: sqlite3.Connection,
    name: str,
    version: int,
    *,
    tags: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    description: str | None = None,
    set_description: bool = False,
) -> bool:
    """Overwrite the given fields of ``name:version``; return False when it does not exist."""
    sets: list[str] = []
    params: list[object] = []
    if tags is not None:
        sets.append("tags = ?")
        params.append(json.dumps(tags, sort_keys=True))
    if properties is not None:
        sets.append("properties = ?")
        params.append(json.dumps(properties, sort_keys=True))
    if set_description:
        sets.append("description = ?")
        params.append(description)
    if not sets:
        return True
    cursor = conn.execute(
        f"UPDATE model_versions SET {', '.join(sets)} WHERE name = ? AND version = ?",
        (*params, name, version),
    )
    return cursor.rowcount > 0


def delete_version(conn: sqlite3.Connection, name: str, version: int) -> list[str]:
    """Delete ``name:version`` and its files; return the hashes no version references any more."""
    row = conn.execute(
        "SELECT id FROM model_versions WHERE name = ? AND version = ?", (name, version)
    ).fetchone()
    if row is None:
        return []
    shas = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT sha256 FROM model_files WHERE version_id = ?", (row[0],)
        )
    ]
    conn.execute("DELETE FROM model_versions WHERE id = ?", (row[0],))
    return unreferenced(conn, shas)


def unreferenced(conn: sqlite3.Connection, shas: Iterable[str]) -> list[str]:
    """Return those of ``shas`` that no stored version references."""
    return [
        sha
        for sha in shas
        if conn.execute("SELECT 1 FROM model_files WHERE sha256 = ? LIMIT 1", (sha,)).fetchone()
        is None
    ]
