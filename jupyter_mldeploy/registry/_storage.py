"""The registry's on-disk layout: a content-addressed blob store (the only module that builds paths).

Layout under ``MLDEPLOY_HOME``::

    registry.db                      SQLite metadata (see _db.py)
    objects/sha256/ab/<64 hex>       one read-only file per distinct content
    tmp/objects/<pid>-<token>.part   blobs being written (removed by gc when their process is gone)
    models/<name>/<version>/         read-only copies made by Model.get_model_path()
    models/<name>/.<version>.created which registration that copy is of (its created_time)

Writing a blob: the bytes are copied into a temp file on the same filesystem
and hashed *from the copy* (so the recorded sha256 is the hash of the stored
bytes), then made durable and renamed into place with :func:`os.replace`. An
object that exists already is never rewritten. Large files are copied and
hashed by ``_fileio`` (a kernel copy with a hashing thread); small files are
read once, hashed in memory and written only when new.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import IntegrityError, RegistryError
from . import _fileio

#: Files up to this size are read into memory, hashed, and written only when new.
SMALL_FILE_LIMIT = 4 << 20

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_TEMP_RE = re.compile(r"^(\d+)-[0-9a-f]+\.part$")


@dataclass(frozen=True, slots=True)
class StagedBlob:
    """A blob ready to publish: its hash and size, and the temp file holding it (None if stored already)."""

    sha256: str
    size: int
    temp: str | None


class BlobStore:
    """Content-addressed files under ``home/objects/sha256``.

    Parameters
    ----------
    home
        The ``MLDEPLOY_HOME`` folder.
    """

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.objects_dir = self.home / "objects" / "sha256"
        self.temp_dir = self.home / "tmp" / "objects"
        self.models_dir = self.home / "models"
        self._objects_str = str(self.objects_dir)
        self._temp_str = str(self.temp_dir)
        self._made_dirs: set[str] = set()
        self._lock = threading.Lock()

    # --- paths -------------------------------------------------------------------------

    def object_path(self, sha256: str) -> Path:
        """Return the path of the blob with hex digest ``sha256``."""
        if not _HEX64.match(sha256):
            raise IntegrityError(
                f"invalid sha256 {sha256!r} in the registry database. "
                "The database was altered; restore it from a backup."
            )
        return self.objects_dir / sha256[:2] / sha256

    def materialized_dir(self, name: str, version: int) -> Path:
        """Return the folder holding the read-only copy of ``name:version`` (may not exist)."""
        return self.models_dir / name / str(version)

    def materialized_marker(self, name: str, version: int) -> Path:
        """Return the file next to the copy of ``name:version`` that says which registration it is of."""
        return self.models_dir / name / f".{version}.created"

    def _new_temp_path(self, folder: Path, suffix: str = ".part") -> Path:
        return folder / f"{os.getpid()}-{secrets.token_hex(8)}{suffix}"

    def _ensure_dir(self, path: Path) -> None:
        key = str(path)
        if key in self._made_dirs:
            return
        path.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._made_dirs.add(key)

    # --- writing -----------------------------------------------------------------------

    def _object_str(self, sha256: str) -> str:
        # a plain string join: this runs several times per file on hot paths
        if len(sha256) != 64 or not _HEX64.match(sha256):
            self.object_path(sha256)  # raises the IntegrityError
        return f"{self._objects_str}/{sha256[:2]}/{sha256}"

    def has_any(self) -> bool:
        """Whether any file is stored (stops at the first one found)."""
        return self.objects_dir.is_dir() and any(p.is_file() for p in self.objects_dir.rglob("*"))

    def has(self, sha256: str, size: int) -> bool:
        """Return True when the blob ``sha256`` is stored with the expected ``size``."""
        try:
            return os.stat(self._object_str(sha256)).st_size == size
        except FileNotFoundError:
            return False

    def stage(self, source: Path | str, *, hash_first: bool = False) -> StagedBlob:
        """Copy ``source`` into a temp file while hashing it, unless its content is stored already.

        Parameters
        ----------
        source
            A regular file (already checked by the caller).
        hash_first
            For large files: hash the source before copying, and skip the copy when
            that content is stored already (worth it when the content is probably known).
        """
        self._ensure_dir(self.temp_dir)
        try:
            fd = os.open(source, os.O_RDONLY | _O_CLOEXEC)
            try:
                size = os.fstat(fd).st_size
                if size <= SMALL_FILE_LIMIT:
                    return self._stage_small(fd, size)
                if hash_first:
                    digest, hashed_size = _fileio.hash_fd(fd)
                    if self.has(digest, hashed_size):
                        return StagedBlob(digest, hashed_size, None)
                    os.lseek(fd, 0, os.SEEK_SET)
                return self._stage_large(fd)
            finally:
                os.close(fd)
        except OSError as err:
            raise RegistryError(
                f"cannot store {source}: {err}. Check that the file is readable and that "
                f"{self.home} has free space."
            ) from err

    def _stage_small(self, fd: int, size: int) -> StagedBlob:
        data = os.read(fd, size + 1)
        if len(data) > size:  # the file grew since fstat: read the rest
            chunks = [data]
            while chunk := os.read(fd, _fileio.READ_CHUNK):
                chunks.append(chunk)
            data = b"".join(chunks)
        digest = hashlib.sha256(data).hexdigest()
        if self.has(digest, len(data)):
            return StagedBlob(digest, len(data), None)
        temp = f"{self._temp_str}/{os.getpid()}-{secrets.token_hex(8)}.part"
        out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o444)
        try:
            view = memoryview(data)
            while view:
                written = os.write(out, view)
                view = view[written:]
            _fileio.slow_copy_pause()
        finally:
            os.close(out)
        return StagedBlob(digest, len(data), temp)

    def _stage_large(self, src_fd: int) -> StagedBlob:
        temp = self._new_temp_path(self.temp_dir)
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o444)
        try:
            digest, size = _fileio.copy_and_hash(src_fd, fd)
        except BaseException:
            os.close(fd)
            temp.unlink(missing_ok=True)
            raise
        os.close(fd)
        if self.has(digest, size):
            temp.unlink()
            return StagedBlob(digest, size, None)
        return StagedBlob(digest, size, str(temp))

    def publish(self, staged: Iterable[StagedBlob]) -> None:
        """Make staged temp files durable and rename them to their object paths.

        The temp files are flushed to disk *before* any of them gets its final
        name, so that a blob under its hash name is always complete, even after a
        power cut; the renames are flushed before this returns.
        """
        pending = [blob for blob in staged if blob.temp is not None]
        if not pending:
            return
        try:
            _fileio.flush([blob.temp for blob in pending if blob.temp is not None], self.temp_dir)
            shards: set[str] = set()
            for blob in pending:
                assert blob.temp is not None
                shard = f"{self._objects_str}/{blob.sha256[:2]}"
                if shard not in shards:
                    self._ensure_dir(Path(shard))
                    shards.add(shard)
                if self.has(blob.sha256, blob.size):
                    os.unlink(blob.temp)
                else:
                    os.replace(blob.temp, self._object_str(blob.sha256))
            _fileio.flush(sorted(shards), self.objects_dir)
        except OSError as err:
            raise RegistryError(
                f"cannot write to the blob store {self.objects_dir}: {err}. "
                "Check free space and permissions of MLDEPLOY_HOME."
            ) from err

    def discard(self, staged: Iterable[StagedBlob]) -> None:
        """Remove the temp files of blobs that will not be published."""
        for blob in staged:
            if blob.temp is not None:
                try:
                    os.unlink(blob.temp)
                except FileNotFoundError:
                    continue

    # --- reading -----------------------------------------------------------------------

    def export(self, sha256: str, size: int, dest: Path) -> None:
        """Copy blob ``sha256`` to the new file ``dest``, verifying its size and hash.

        Raises
        ------
        IntegrityError
            When the blob is missing or its bytes do not hash to ``sha256``.
        """
        try:
            src = os.open(self._object_str(sha256), os.O_RDONLY | _O_CLOEXEC)
        except FileNotFoundError as err:
            raise IntegrityError(
                f"blob {sha256} is missing from {self.objects_dir}. The store was altered; "
                "register the model again from its original files."
            ) from err
        try:
            out = os.open(dest, os.O_RDWR | os.O_CREAT | os.O_TRUNC | _O_CLOEXEC, 0o644)
            try:
                if size <= SMALL_FILE_LIMIT:
                    data = os.read(src, size + 1)
                    digest, copied = hashlib.sha256(data).hexdigest(), len(data)
                    if digest == sha256:
                        view = memoryview(data)
                        while view:
                            view = view[os.write(out, view) :]
                else:
                    digest, copied = _fileio.copy_and_hash(src, out)
            finally:
                os.close(out)
        finally:
            os.close(src)
        if digest != sha256 or copied != size:
            dest.unlink(missing_ok=True)
            raise IntegrityError(
                f"blob {sha256} in {self.objects_dir} was altered (its bytes hash to {digest}, "
                f"{copied} bytes instead of {size}). Delete this model version and register it again."
            )

    def check(self, sha256: str, size: int) -> str | None:
        """Re-hash blob ``sha256``; return None when it is intact, else what is wrong with it."""
        path = self.object_path(sha256)
        try:
            fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
            try:
                digest, length = _fileio.hash_fd(fd)
            finally:
                os.close(fd)
        except FileNotFoundError:
            return "missing"
        except OSError as err:
            return f"unreadable ({err})"
        if length != size:
            return f"has {length} bytes instead of {size}"
        if digest != sha256:
            return f"altered (its bytes hash to {digest})"
        return None

    # --- maintenance -------------------------------------------------------------------

    def iter_objects(self) -> Iterator[tuple[str, Path]]:
        """Yield ``(sha256, path)`` of every stored blob."""
        if not self.objects_dir.is_dir():
            return
        for sub in os.scandir(self.objects_dir):
            if not sub.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(sub.path):
                if _HEX64.match(entry.name):
                    yield entry.name, Path(entry.path)

    def remove_object(self, sha256: str) -> int:
        """Delete blob ``sha256``; return the bytes freed (0 when it was not there)."""
        path = self.object_path(sha256)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def stale_temp_files(self, max_age_s: float) -> list[Path]:
        """Return temp files whose writer process is gone, or that are older than ``max_age_s``."""
        found: list[Path] = []
        now = time.time()
        for folder in (self.temp_dir, self.models_dir):
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                match = _TEMP_RE.match(entry.name)
                if not match:
                    continue
                try:
                    age = now - entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    continue
                if age > max_age_s or not _pid_alive(int(match.group(1))):
                    found.append(Path(entry.path))
        return found

    def new_materialize_temp(self) -> Path:
        """Return a fresh temp folder path under ``models/`` (same filesystem as the copies)."""
        self._ensure_dir(self.models_dir)
        return self._new_temp_path(self.models_dir)


def remove_tree(path: Path) -> None:
    """Delete a file or folder tree, including read-only files (best effort for folders)."""
    if path.is_dir() and not path.is_symlink():
        for root, dirs, _files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
        os.chmod(path, 0o755)
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def make_read_only(path: Path) -> None:
    """Remove write permission from every file and folder under ``path`` (folders last)."""
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o555)
    os.chmod(path, 0o555)


def temp_sibling(target: Path) -> Path:
    """Return a fresh hidden path next to ``target`` (same filesystem, so a rename is atomic)."""
    return target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.partial"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed, not yet reaped) is gone for our purposes
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split(b") ", 1)[1][:1] != b"Z"
    except (OSError, IndexError):
        return True


def is_regular_file(mode: int) -> bool:
    """Return True for a regular file's ``st_mode``."""
    return stat.S_ISREG(mode)
