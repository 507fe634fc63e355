"""The :class:`Registry` facade: register, find, change, download and delete model versions.

It joins the blob store (``_storage``), the metadata (``_db``) and the source
checks (``_sources``). Every public method takes plain values and returns
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
from pathlib import Path, PurePosixPath
from typing import Any

from .. import _sqlite
from .._config import mldeploy_home
from .._names import validate_name
from ..errors import (
    InvalidArgumentError,
    ModelNotFoundError,
    PathEscapeError,
    RegistryError,
    TargetExistsError,
)
from . import _db, _sources, _storage
from .records import ModelFile, ModelVersion

#: Threads that store, export or verify large files in parallel (hashing and big reads release the GIL).
IO_THREADS = max(2, min(8, os.cpu_count() or 2))
#: Files at least this big are stored in the thread pool; smaller ones serially.
PARALLEL_MIN_SIZE = 1 << 20
#: Temp files of live processes younger than this are left alone by gc.
TEMP_MAX_AGE_S = 24 * 3600.0
#: Unreferenced blobs younger than this are left alone by gc (a register may be about to use them).
BLOB_GRACE_S = 600.0

_UNSET: Any = object()
# spelled outside Registry, whose own ``list`` method shadows the builtin in annotations
_StrList = list[str]
_ProblemList = list["BlobProblem"]


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


@dataclass(frozen=True, slots=True)
class BlobProblem:
    """A stored blob that is missing or does not match its sha256, and the files that use it."""

    sha256: str
    issue: str
    used_by: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"sha256", "issue", "used_by"}``."""
        return {"sha256": self.sha256, "issue": self.issue, "used_by": list(self.used_by)}


class Registry:
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

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        if home is None:
            self.home = mldeploy_home()
        else:
            self.home = Path(home).expanduser().resolve()
            try:
                self.home.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise RegistryError(
                    f"cannot create the registry folder {str(self.home)!r}: {err}. "
                    "Choose a writable folder (MLDEPLOY_HOME)."
                ) from err
        self.store = _storage.BlobStore(self.home)
        self._local = threading.local()
        self._schema_ready = False

    def __repr__(self) -> str:
        return f"Registry(home={str(self.home)!r})"

    # --- database ------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        pid = getattr(self._local, "pid", None)
        if conn is None or pid != os.getpid():
            conn = _sqlite.connect(self.home / "registry.db")
            self._local.conn = conn
            self._local.pid = os.getpid()
        if not self._schema_ready:
            try:
                _db.ensure_schema(conn)
            except sqlite3.Error as err:
                raise _db_error(err) from err
            self._schema_ready = True
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            yield conn
        except sqlite3.Error as err:
            raise _db_error(err) from err

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            with _sqlite.write_transaction(conn):
                yield conn
        except sqlite3.Error as err:
            raise _db_error(err) from err

    def close(self) -> None:
        """Close this thread's database connection (it reopens on next use)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> Registry:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        tag_map = _str_map(tags, "tags")
        prop_map = _str_map(properties, "properties")
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

    # --- read ----------------------------------------------------------------------------

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """Return ``name:version``, or the latest version of ``name`` when ``version`` is None.

        Raises
        ------
        ModelNotFoundError
            With the names (or versions) that do exist.
        """
        validate_name(name, "model")
        version = _check_version(version)
        with self._read() as conn:
            found = _db.get_version(conn, name, version)
            if found is not None:
                return found
            raise self._not_found(conn, name, version)

    def _not_found(
        self, conn: sqlite3.Connection, name: str, version: int | None
    ) -> ModelNotFoundError:
        versions = _db.versions_of(conn, name)
        if versions:
            shown = ", ".join(str(v) for v in versions[-20:])
            more = f" (showing the last 20 of {len(versions)})" if len(versions) > 20 else ""
            return ModelNotFoundError(
                f"model {name!r} has no version {version}; its versions are: {shown}{more}. "
                f"Use one of them, or leave out the version for the latest."
            )
        names = _db.model_names(conn)
        if not names:
            return ModelNotFoundError(
                f"no model named {name!r}: the registry at {self.home} is empty. "
                "Register one first with Model.register(model_path, model_name)."
            )
        shown = ", ".join(repr(n) for n in names[:10])
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""
        return ModelNotFoundError(
            f"no model named {name!r}; {len(names)} model name(s) exist: {shown}{more}. "
            "Check the spelling, or run 'mldeploy models list'."
        )

    def list(
        self,
        name: str | None = None,
        tags: Sequence[Any] | None = None,
        properties: Sequence[Any] | None = None,
        latest: bool = False,
    ) -> list[ModelVersion]:
        """Return matching versions, newest first.

        ``tags`` and ``properties`` filter as in Azure ML: each item is a key
        (``"stage"`` or ``["stage"]``, the key must exist) or a pair
        (``["stage", "prod"]``, the key must have that value).
        """
        if name is not None:
            validate_name(name, "model")
        tag_filter = _parse_filter(tags, "tags")
        prop_filter = _parse_filter(properties, "properties")
        with self._read() as conn:
            found = _db.list_versions(conn, name, latest)
        return [
            m for m in found if _matches(m.tags, tag_filter) and _matches(m.properties, prop_filter)
        ]

    # --- change --------------------------------------------------------------------------

    def _modify(self, name: str, version: int, change: Any) -> ModelVersion:
        validate_name(name, "model")
        number = _check_version(version)
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
        new = _str_map(tags, "tags")
        return self._modify(name, version, lambda cur: {"tags": {**cur.tags, **new}})

    def remove_tags(self, name: str, version: int, keys: Iterable[str] | str) -> ModelVersion:
        """Remove the tags named in ``keys`` (missing keys are ignored) and return the updated record."""
        drop = {keys} if isinstance(keys, str) else set(_key_list(keys, "tags"))
        return self._modify(
            name,
            version,
            lambda cur: {"tags": {k: v for k, v in cur.tags.items() if k not in drop}},
        )

    def add_properties(
        self, name: str, version: int, properties: Mapping[str, Any]
    ) -> ModelVersion:
        """Add properties to ``name:version``; an existing property cannot change value."""
        new = _str_map(properties, "properties")

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
        new_tags = _str_map(tags, "tags") if tags is not None else None

        def change(cur: ModelVersion) -> dict[str, Any]:
            kwargs: dict[str, Any] = {"tags": new_tags}
            if description is not _UNSET:
                kwargs.update(description=description, set_description=True)
            return kwargs

        return self._modify(name, version, change)

    def delete(self, name: str, version: int) -> None:
        """Delete ``name:version``; its bytes are freed when no other version uses them."""
        validate_name(name, "model")
        number = _check_version(version)
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

    # --- files out -----------------------------------------------------------------------

    def download(
        self,
        name: str,
        version: int | None,
        target_dir: str | os.PathLike[str],
        exist_ok: bool = False,
    ) -> str:
        """Copy the files of ``name:version`` into ``target_dir``, verifying each sha256.

        Returns the path of the model file (single-file model) or of the model's folder inside
        ``target_dir`` (folder model), as Azure ML does.
        """
        record = self.get(name, version)
        target = Path(os.fspath(target_dir)).expanduser().absolute()
        if target.exists() or target.is_symlink():
            if not exist_ok:
                raise TargetExistsError(
                    f"download target {str(target)!r} exists already: pass exist_ok=True (--exist-ok in the CLI) to write "
                    "into it (files with the same names are replaced), or choose a new folder."
                )
            if not target.is_dir():
                raise TargetExistsError(
                    f"download target {str(target)!r} exists and is not a folder: choose a folder path."
                )
        temp = _storage.temp_sibling(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp.mkdir()
            self._export(record, temp)
            try:
                os.rename(temp, target)
            except OSError:
                if not target.is_dir():
                    raise
                if not exist_ok:
                    raise TargetExistsError(
                        f"download target {str(target)!r} was created while downloading: "
                        "pass exist_ok=True or choose a new folder."
                    ) from None
                _merge_into(temp, target, record)
        except OSError as err:
            raise RegistryError(f"cannot write the download into {str(target)!r}: {err}.") from err
        finally:
            if temp.exists():
                _storage.remove_tree(temp)
        return _result_path(record, target)

    def _export(self, record: ModelVersion, folder: Path) -> None:
        made: set[Path] = {folder}

        def one(item: ModelFile) -> None:
            dest = folder.joinpath(*_safe_parts(item.path, record))
            if dest.parent not in made:
                dest.parent.mkdir(parents=True, exist_ok=True)
                made.add(dest.parent)
            self.store.export(item.sha256, item.size, dest)

        large = [f for f in record.files if f.size >= PARALLEL_MIN_SIZE]
        if len(large) < 2:
            for item in record.files:
                one(item)
            return
        with ThreadPoolExecutor(IO_THREADS, thread_name_prefix="mldeploy-export") as pool:
            futures = [pool.submit(one, f) for f in large]
            for item in record.files:
                if item.size < PARALLEL_MIN_SIZE:
                    one(item)
            for future in futures:
                future.result()

    def model_path(self, name: str, version: int | None = None) -> str:
        """Return a read-only local copy of ``name:version`` (made on first use, then reused).

        The path is the model file for a single-file model and the model's folder for a folder
        model (``.../VERSION/model_dir``), as Azure ML's ``Model.get_model_path``.
        """
        record = self.get(name, version)
        final = self.store.materialized_dir(record.name, record.version)
        marker = self.store.materialized_marker(record.name, record.version)
        stamp = record.created_time
        if final.is_dir() and _read_text(marker) != stamp:
            # a copy left from an older registry that reused this number: not ours
            _storage.remove_tree(final)
        if not final.is_dir():
            temp: Path | None = None
            try:
                temp = self.store.new_materialize_temp()
                temp.mkdir()
                self._export(record, temp)
                final.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text(stamp)  # before the rename: a copy never shows without it
                try:
                    os.rename(temp, final)
                except OSError:
                    if not final.is_dir():
                        raise
                else:
                    _storage.make_read_only(final)
            except OSError as err:
                raise RegistryError(
                    f"cannot make a local copy of {record.id} under {self.store.models_dir}: {err}."
                ) from err
            finally:
                if temp is not None and temp.exists():
                    _storage.remove_tree(temp)
        return _result_path(record, final)

    # --- maintenance ---------------------------------------------------------------------

    def verify(self, name: str | None = None, version: int | None = None) -> _ProblemList:
        """Re-hash the stored files of every version (or of ``name`` / ``name:version``).

        Returns one :class:`BlobProblem` per damaged or missing blob (empty when all is well).

        Examples
        --------
        >>> Registry().verify()     # doctest: +SKIP
        []
        """
        if name is not None and version is not None:
            records = [self.get(name, version)]
        else:
            if name is not None:
                self.get(name)  # a clear error for an unknown name
            records = self.list(name=name)
        users: dict[tuple[str, int], _StrList] = {}
        for record in records:
            for item in record.files:
                users.setdefault((item.sha256, item.size), []).append(f"{record.id}/{item.path}")

        def one(key: tuple[str, int]) -> BlobProblem | None:
            issue = self.store.check(*key)
            return None if issue is None else BlobProblem(key[0], issue, tuple(sorted(users[key])))

        with ThreadPoolExecutor(IO_THREADS, thread_name_prefix="mldeploy-verify") as pool:
            return [p for p in pool.map(one, sorted(users)) if p is not None]

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


# --- helpers -------------------------------------------------------------------------------


def _db_error(err: sqlite3.Error) -> RegistryError:
    return RegistryError(
        f"the registry database failed: {err}. If another process holds it for long, wait and "
        "retry; if it is damaged, restore MLDEPLOY_HOME/registry.db from a backup."
    )


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        return  # read-only store or vanished blob: the commit-time check handles it


def _check_version(version: object) -> int | None:
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise InvalidArgumentError(f"version must be a positive integer, got {version!r}.")
    try:
        number = int(version)
    except ValueError:
        number = 0
    if number < 1:
        raise InvalidArgumentError(
            f"version must be a positive integer such as 1, got {version!r}."
        )
    return number


def _str_map(values: Mapping[str, Any] | None, what: str) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidArgumentError(
            f"{what} must be a dict of strings, e.g. {{'stage': 'dev'}}, got {type(values).__name__}."
        )
    out: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError(f"{what} keys must be non-empty strings, got {key!r}.")
        if value is None:
            value = ""
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidArgumentError(
                f"{what} value of {key!r} must be a string or number, got {type(value).__name__}."
            )
        out[key] = str(value)
    return out


def _key_list(keys: Iterable[Any], what: str) -> list[str]:
    out = []
    for key in keys:
        if not isinstance(key, str):
            raise InvalidArgumentError(f"{what} keys must be strings, got {key!r}.")
        out.append(key)
    return out


def _parse_filter(items: Sequence[Any] | None, what: str) -> list[tuple[str, str | None]]:
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    if isinstance(items, Mapping):
        return [(str(k), None if v is None else str(v)) for k, v in items.items()]
    out: list[tuple[str, str | None]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, (list, tuple)) and len(item) in (1, 2) and isinstance(item[0], str):
            out.append((item[0], str(item[1]) if len(item) == 2 else None))
        else:
            raise InvalidArgumentError(
                f"bad {what} filter {item!r}: use a key ('stage' or ['stage']) "
                "or a key and value (['stage', 'prod'])."
            )
    return out


def _matches(values: Mapping[str, str], wanted: list[tuple[str, str | None]]) -> bool:
    return all(key in values and (value is None or values[key] == value) for key, value in wanted)


def _safe_parts(relpath: str, record: ModelVersion) -> tuple[str, ...]:
    parts = PurePosixPath(relpath).parts
    if (
        not parts
        or PurePosixPath(relpath).is_absolute()
        or any(p in ("..", ".", "") for p in parts)
    ):
        raise PathEscapeError(
            f"{record.id} lists the file path {relpath!r}, which would leave the download folder: "
            "the registry database was altered; delete this version and register it again."
        )
    return parts


def _merge_into(temp: Path, target: Path, record: ModelVersion) -> None:
    for item in record.files:
        parts = _safe_parts(item.path, record)
        dest = target.joinpath(*parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp.joinpath(*parts), dest)


def _result_path(record: ModelVersion, folder: Path) -> str:
    """The model file, or the model's folder, inside ``folder`` (Azure's return value)."""
    return str(folder / record.root)


__all__ = ["BlobProblem", "GcReport", "Registry", "default_registry"]
