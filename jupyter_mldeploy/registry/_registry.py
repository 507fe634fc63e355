"""The :class:`Registry` facade and its write side: register, change, delete and clean up model versions.

:class:`Registry` adds to :class:`~jupyter_mldeploy.registry._reading.RegistryReader`
(get, list, download, model_path, verify) every method that changes the registry:
``register`` (stage the bytes in the blob store, ``_storage``, then write the
version in one ``_db`` transaction), the tag, property and description changes,
``delete`` and ``gc``; :func:`default_registry` keeps one per ``MLDEPLOY_HOME``.
Every public method takes plain values and returns
:class:`~jupyter_mldeploy.registry.records.ModelVersion` records;
:class:`~jupyter_mldeploy.registry.model.Model` is the Azure-style wrapper on top.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _sqlite
from .._config import mldeploy_home
from .._names import validate_name
from ..errors import InvalidArgumentError
from . import _args, _db, _sources, _storage
from ._reading import IO_THREADS, PARALLEL_MIN_SIZE, RegistryReader, db_error
from .records import ModelFile, ModelVersion

#: Temp files of live processes younger than this are left alone by gc.
TEMP_MAX_AGE_S = 24 * 3600.0
#: Unreferenced blobs younger than this are left alone by gc (a register may be about to use them).
BLOB_GRACE_S = 600.0

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class GcReport:
    """What :meth:`Registry.gc` removed."""

    temp_files: int
    blobs: int
    bytes_freed: int
    copies: int

    def to_dict(self) -> dict[str, int]:
        """Return the counts as a dictionary."""
        return {
            "temp_files": self.temp_files,
            "blobs": self.blobs,
            "bytes_freed": self.bytes_freed,
            "copies": self.copies,
        }


class Registry(RegistryReader):
    """A model registry rooted at ``home`` (default: ``MLDEPLOY_HOME`` or ``~/.mldeploy``).

    Parameters
    ----------
    home
        Root folder; created if needed. Metadata goes to ``home/registry.db``,
        bytes to ``home/objects``.

    Examples
    --------
    >>> reg = Registry("/tmp/reg-example")                       # doctest: +SKIP
    >>> reg.register("model.pkl", "ridge", tags={"stage": "dev"}).id   # doctest: +SKIP
    'ridge:1'
    >>> [m.id for m in reg.list()]                               # doctest: +SKIP
    ['ridge:1']
    """

    def __enter__(self) -> Registry:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- database ------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            with _sqlite.write_transaction(conn):
                yield conn
        except sqlite3.Error as err:
            raise db_error(err) from err

    # --- register ------------------------------------------------------------------------

    def register(
        self,
        model_path: str | os.PathLike[str],
        model_name: str,
        *,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        child_paths: Sequence[str] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
    ) -> ModelVersion:
        """Store a model file or folder as the next version of ``model_name`` and return it.

        All bytes are stored and made durable before the version row is written
        in one transaction, so a crash at any point leaves no partial version.

        Examples
        --------
        >>> Registry().register("outputs/model.pkl", "ridge").version   # doctest: +SKIP
        1
        """
        validate_name(model_name, "model")
        tag_map = _args.str_map(tags, "tags")
        prop_map = _args.str_map(properties, "properties")
        if description is not None and not isinstance(description, str):
            raise InvalidArgumentError(
                f"description must be a string, got {type(description).__name__}."
            )
        source = _sources.collect(model_path, child_paths)
        self._clean_temp()
        sizes: set[int] = set()
        if any(f.size > _storage.SMALL_FILE_LIMIT for f in source.files):
            # large files that the latest version of this name had (same size): likely unchanged
            with self._read() as conn:
                previous = _db.get_version(conn, model_name, None)
            sizes = {f.size for f in previous.files} if previous else set()
        self._conn()  # the tables exist before any file is stored (see RegistryReader._conn)
        staged = self._stage(source.files, sizes)
        restaged: dict[str, _storage.StagedBlob] = {}
        leftovers = list(staged.values())  # temp files to remove if we stop before publishing
        try:
            self.store.publish(staged.values())
            leftovers = []
            files = [ModelFile(rel, blob.size, blob.sha256) for rel, blob in staged.items()]
            with self._write() as conn:
                missing = [f.path for f in files if not self.store.has(f.sha256, f.size)]
                if missing:
                    # A gc or delete removed blobs we rely on between publish and this lock.
                    # Store them again while holding the lock (gc removes blobs only under
                    # it), so this second attempt cannot be raced. Rare, and only these files.
                    by_rel = {f.relpath: f for f in source.files}
                    restaged = self._stage([by_rel[rel] for rel in missing], set())
                    leftovers = list(restaged.values())
                    self.store.publish(restaged.values())
                    leftovers = []
                return _db.insert_version(
                    conn,
                    name=model_name,
                    kind=source.kind,
                    description=description,
                    tags=tag_map,
                    properties=prop_map,
                    framework=model_framework,
                    framework_version=model_framework_version,
                    files=files,
                )
        finally:
            self.store.discard(leftovers)

    def _stage(
        self, files: Sequence[_sources.SourceFile], known_sizes: set[int]
    ) -> dict[str, _storage.StagedBlob]:
        """Stage every file: large ones in a thread pool, small ones serially in this thread.

        Threads pay off when hashing and copying big buffers (the GIL is released);
        for many small files they only add GIL hand-offs and directory-lock
        contention, which measured several times slower than one thread.
        """

        def one(item: _sources.SourceFile) -> _storage.StagedBlob:
            blob = self.store.stage(item.source, hash_first=item.size in known_sizes)
            if blob.temp is None:
                _touch(self.store.object_path(blob.sha256))
            return blob

        staged: dict[str, _storage.StagedBlob] = {}
        large = [f for f in files if f.size >= PARALLEL_MIN_SIZE]
        small = [f for f in files if f.size < PARALLEL_MIN_SIZE]
        pool = (
            ThreadPoolExecutor(IO_THREADS, thread_name_prefix="mldeploy-store") if large else None
        )
        try:
            futures = [(f.relpath, pool.submit(one, f)) for f in large] if pool else []
            for item in small:
                staged[item.relpath] = one(item)
            for rel, future in futures:
                staged[rel] = future.result()
        except BaseException:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
                for rel, future in futures:
                    if future.done() and not future.cancelled() and future.exception() is None:
                        staged[rel] = future.result()
            self.store.discard(staged.values())
            raise
        if pool is not None:
            pool.shutdown(wait=True)
        return staged

    # --- change --------------------------------------------------------------------------

    def _modify(self, name: str, version: int, change: Any) -> ModelVersion:
        validate_name(name, "model")
        number = _args.check_version(version)
        if number is None:
            raise InvalidArgumentError(
                f"a version is needed to change model {name!r}, e.g. {name}:1."
            )
        with self._write() as conn:
            current = _db.get_version(conn, name, number)
            if current is None:
                raise self._not_found(conn, name, number)
            kwargs = change(current)
            _db.update_version(conn, name, number, **kwargs)
            found = _db.get_version(conn, name, number)
        assert found is not None
        return found

    def add_tags(self, name: str, version: int, tags: Mapping[str, Any]) -> ModelVersion:
        """Add or overwrite tags of ``name:version`` and return the updated record."""
        new = _args.str_map(tags, "tags")
        return self._modify(name, version, lambda cur: {"tags": {**cur.tags, **new}})

    def remove_tags(self, name: str, version: int, keys: Iterable[str] | str) -> ModelVersion:
        """Remove the tags named in ``keys`` (missing keys are ignored) and return the updated record."""
        drop = {keys} if isinstance(keys, str) else set(_args.key_list(keys, "tags"))
        return self._modify(
            name,
            version,
            lambda cur: {"tags": {k: v for k, v in cur.tags.items() if k not in drop}},
        )

    def add_properties(
        self, name: str, version: int, properties: Mapping[str, Any]
    ) -> ModelVersion:
        """Add properties to ``name:version``; an existing property cannot change value."""
        new = _args.str_map(properties, "properties")

        def change(cur: ModelVersion) -> dict[str, Any]:
            clash = {
                k: (cur.properties[k], v)
                for k, v in new.items()
                if k in cur.properties and cur.properties[k] != v
            }
            if clash:
                key, (old, value) = next(iter(clash.items()))
                raise InvalidArgumentError(
                    f"property {key!r} of {cur.id} is {old!r} and cannot be changed to {value!r}: "
                    "properties are add-only; use a tag for values that change."
                )
            return {"properties": {**cur.properties, **new}}

        return self._modify(name, version, change)

    def update(
        self,
        name: str,
        version: int,
        *,
        description: str | None = _UNSET,
        tags: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Replace the description and/or the whole tag set of ``name:version``."""
        if (
            description is not _UNSET
            and description is not None
            and not isinstance(description, str)
        ):
            raise InvalidArgumentError(
                f"description must be a string, got {type(description).__name__}."
            )
        new_tags = _args.str_map(tags, "tags") if tags is not None else None

        def change(cur: ModelVersion) -> dict[str, Any]:
            kwargs: dict[str, Any] = {"tags": new_tags}
            if description is not _UNSET:
                kwargs.update(description=description, set_description=True)
            return kwargs

        return self._modify(name, version, change)

    def delete(self, name: str, version: int) -> None:
        """Delete ``name:version``; its bytes are freed when no other version uses them."""
        validate_name(name, "model")
        number = _args.check_version(version)
        if number is None:
            raise InvalidArgumentError(
                f"delete needs a version: pass name:version (e.g. {name}:1); "
                "deleting every version at once is not supported."
            )
        with self._write() as conn:
            if _db.get_version(conn, name, number) is None:
                raise self._not_found(conn, name, number)
            for sha in _db.delete_version(conn, name, number):
                # under the write lock: no register can commit a reference meanwhile
                self.store.remove_object(sha)
        copy = self.store.materialized_dir(name, number)
        if copy.exists():
            _storage.remove_tree(copy)
        self.store.materialized_marker(name, number).unlink(missing_ok=True)

    # --- maintenance ---------------------------------------------------------------------

    def _clean_temp(self, max_age_s: float = TEMP_MAX_AGE_S) -> int:
        removed = 0
        for path in self.store.stale_temp_files(max_age_s):
            try:
                _storage.remove_tree(path)
                removed += 1
            except FileNotFoundError:
                continue  # another process cleaned it first
        return removed

    def gc(
        self, *, temp_max_age_s: float = TEMP_MAX_AGE_S, blob_grace_s: float = BLOB_GRACE_S
    ) -> GcReport:
        """Remove leftovers of interrupted registers: temp files, unreferenced blobs, stale copies.

        Safe while other processes register: a blob is only removed under the
        database write lock, after checking that no version references it, and
        registers re-check their blobs under that same lock before committing.
        """
        temp_files = self._clean_temp(temp_max_age_s)
        with self._read() as conn:
            referenced = {r[0] for r in conn.execute("SELECT DISTINCT sha256 FROM model_files")}
            live = {(m.name, m.version) for m in _db.list_versions(conn, None, False)}
        now = time.time()
        candidates = []
        for sha, path in self.store.iter_objects():
            if sha in referenced:
                continue
            try:
                if now - path.stat().st_mtime >= blob_grace_s:
                    candidates.append(sha)
            except FileNotFoundError:
                continue
        blobs = freed = 0
        if candidates:
            with self._write() as conn:
                for sha in _db.unreferenced(conn, candidates):
                    path = self.store.object_path(sha)
                    try:
                        if now - path.stat().st_mtime < blob_grace_s:
                            continue  # touched by a register since the scan
                    except FileNotFoundError:
                        continue
                    size = self.store.remove_object(sha)
                    blobs += 1
                    freed += size
        copies = 0
        if self.store.models_dir.is_dir():
            for name_dir in self.store.models_dir.iterdir():
                if not name_dir.is_dir() or name_dir.name.endswith(".part"):
                    continue
                for version_dir in name_dir.iterdir():
                    if (
                        version_dir.name.isdigit()
                        and (name_dir.name, int(version_dir.name)) not in live
                    ):
                        _storage.remove_tree(version_dir)
                        self.store.materialized_marker(name_dir.name, int(version_dir.name)).unlink(
                            missing_ok=True
                        )
                        copies += 1
        return GcReport(temp_files=temp_files, blobs=blobs, bytes_freed=freed, copies=copies)


# --- the default registry ------------------------------------------------------------------

#: Recently used default registries, most recent last (a few homes, e.g. one per test).
_DEFAULTS: dict[Path, Registry] = {}
_DEFAULTS_LOCK = threading.Lock()
_DEFAULTS_KEEP = 4


def default_registry() -> Registry:
    """Return the registry of the current ``MLDEPLOY_HOME`` (read at each call; one object per home).

    Only the last few homes are remembered; a forgotten registry's database
    connection is closed, so switching ``MLDEPLOY_HOME`` often leaks nothing.
    """
    home = mldeploy_home().resolve()
    with _DEFAULTS_LOCK:
        reg = _DEFAULTS.pop(home, None)
        if reg is None:
            reg = Registry(home)
        _DEFAULTS[home] = reg
        while len(_DEFAULTS) > _DEFAULTS_KEEP:
            oldest = next(iter(_DEFAULTS))
            _DEFAULTS.pop(oldest).close()
        return reg


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        return  # read-only store or vanished blob: the commit-time check handles it


__all__ = ["GcReport", "Registry", "default_registry"]
