"""The read side of the registry: open it, find versions, copy their files out, check the stored bytes.

:class:`RegistryReader` holds what every registry operation needs (the home
folder, the blob store, one SQLite connection per thread) and every method that
leaves the metadata as it is: ``get``, ``list``, ``download``, ``model_path``
(a cached read-only copy) and ``verify``. :class:`~jupyter_mldeploy.registry.Registry`
adds the write side on top of it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .. import _sqlite
from .._config import mldeploy_home
from .._names import validate_name
from ..errors import ModelNotFoundError, PathEscapeError, RegistryError, TargetExistsError
from . import _args, _db, _storage
from .records import ModelFile, ModelVersion

#: Threads that store, export or verify large files in parallel (hashing and big reads release the GIL).
IO_THREADS = max(2, min(8, os.cpu_count() or 2))
#: Files at least this big are stored in the thread pool; smaller ones serially.
PARALLEL_MIN_SIZE = 1 << 20

# spelled outside RegistryReader, whose own ``list`` method shadows the builtin in annotations
_StrList = list[str]
_ProblemList = list["BlobProblem"]


@dataclass(frozen=True, slots=True)
class BlobProblem:
    """A stored blob that is missing or does not match its sha256, and the files that use it."""

    sha256: str
    issue: str
    used_by: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"sha256", "issue", "used_by"}``."""
        return {"sha256": self.sha256, "issue": self.issue, "used_by": list(self.used_by)}


class RegistryReader:
    """The read side of a :class:`~jupyter_mldeploy.registry.Registry` rooted at ``home``.

    Use :class:`~jupyter_mldeploy.registry.Registry`, which adds registering,
    changing and deleting versions; the parameters are documented there.
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
                if not _db.has_schema(conn) and self.store.has_any():
                    # the tables are made before any file is stored: stored files without them
                    # mean the database lost its records (emptied or replaced), not a new registry
                    raise RegistryError(
                        f"{self.home / 'registry.db'} has no model records but {self.store.objects_dir} holds "
                        "stored model files: the registry's records were lost. Restore registry.db from a backup "
                        "(the stored files are intact), or move MLDEPLOY_HOME aside to start a new registry."
                    )
                _db.ensure_schema(conn)
            except sqlite3.Error as err:
                raise db_error(err) from err
            self._schema_ready = True
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            yield conn
        except sqlite3.Error as err:
            raise db_error(err) from err

    def close(self) -> None:
        """Close this thread's database connection (it reopens on next use)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- read ----------------------------------------------------------------------------

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """Return ``name:version``, or the latest version of ``name`` when ``version`` is None.

        Raises
        ------
        ModelNotFoundError
            With the names (or versions) that do exist.
        """
        validate_name(name, "model")
        version = _args.check_version(version)
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
        tag_filter = _args.parse_filter(tags, "tags")
        prop_filter = _args.parse_filter(properties, "properties")
        with self._read() as conn:
            found = _db.list_versions(conn, name, latest)
        return [
            m
            for m in found
            if _args.matches(m.tags, tag_filter) and _args.matches(m.properties, prop_filter)
        ]

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
                    f"download target {str(target)!r} exists already: pass exist_ok=True (--exist-ok or --overwrite in the CLI) to write "
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
        except TargetExistsError:
            raise
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


def db_error(err: sqlite3.Error) -> RegistryError:
    """The error a failed registry database call raises, saying what to do."""
    return RegistryError(
        f"the registry database failed: {err}. If another process holds it for long, wait and "
        "retry; if it is damaged, restore MLDEPLOY_HOME/registry.db from a backup."
    )


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


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
    """Move the downloaded files into an existing ``target``, never writing through a link in it.

    A link planted in the target where a file goes is replaced (``os.replace`` replaces the
    link itself); one where a folder goes is replaced by a real folder, so nothing lands
    where the link points.
    """
    for item in record.files:
        parts = _safe_parts(item.path, record)
        folder = target
        for part in parts[:-1]:
            folder = folder / part
            if folder.is_symlink():
                folder.unlink()  # the link only, not what it points to
            if not folder.is_dir():
                if folder.exists():
                    raise TargetExistsError(
                        f"{str(folder)!r} is a file where the download needs a folder: remove it or "
                        "download into a new folder."
                    )
                folder.mkdir()
        os.replace(temp.joinpath(*parts), target.joinpath(*parts))


def _result_path(record: ModelVersion, folder: Path) -> str:
    """The model file, or the model's folder, inside ``folder`` (Azure's return value)."""
    return str(folder / record.root)


__all__ = ["BlobProblem", "RegistryReader"]
