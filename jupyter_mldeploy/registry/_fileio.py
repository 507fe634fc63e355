"""Byte work on open files for the blob store: hash, copy while hashing, flush to disk.

Large files are copied by the kernel (``copy_file_range``) while a second thread
hashes the part copied so far, with a plain read/write loop where the kernel copy
is not available; every digest is of the copied bytes. :func:`flush` makes files
and folders durable with an fsync each, or one ``syncfs`` for many. Nothing here
knows the store's layout: callers pass file descriptors and paths.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

#: Bytes per ``copy_file_range`` call for large files.
COPY_CHUNK = 16 << 20
#: Read buffer for hashing and for the plain read/write fallback.
READ_CHUNK = 4 << 20
#: Up to this many paths are flushed with one fsync each; more with one syncfs.
FSYNC_EACH_LIMIT = 16
#: Test hook: seconds to sleep after each copied chunk (makes "kill mid-register" testable).
SLOW_COPY_ENV = "MLDEPLOY_TEST_SLOW_COPY"

# --- byte copying ------------------------------------------------------------------------


def slow_copy_pause() -> None:
    """Sleep for the seconds in ``MLDEPLOY_TEST_SLOW_COPY``, if set (a test hook)."""
    delay = os.environ.get(SLOW_COPY_ENV)
    if delay:
        time.sleep(float(delay))


def hash_fd(fd: int) -> tuple[str, int]:
    """Hash the rest of ``fd`` from its current offset; return (sha256, bytes read)."""
    digest = hashlib.sha256()
    buf = bytearray(READ_CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = os.readv(fd, [buf])
        if not n:
            return digest.hexdigest(), total
        digest.update(view[:n])
        total += n


def copy_and_hash(src_fd: int, dst_fd: int) -> tuple[str, int]:
    """Copy from ``src_fd`` (current offset) to ``dst_fd`` and return (sha256 of the copy, size)."""
    if hasattr(os, "copy_file_range") and sys.platform.startswith("linux"):
        try:
            return _kernel_copy_and_hash(src_fd, dst_fd)
        except _NoKernelCopy:
            pass
    return _plain_copy_and_hash(src_fd, dst_fd)


class _NoKernelCopy(Exception):
    """copy_file_range is not supported between these two files (nothing was copied)."""


def _plain_copy_and_hash(src_fd: int, dst_fd: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    buf = bytearray(READ_CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = os.readv(src_fd, [buf])
        if not n:
            return digest.hexdigest(), total
        digest.update(view[:n])
        chunk = view[:n]
        while chunk:
            written = os.write(dst_fd, chunk)
            chunk = chunk[written:]
        total += n
        slow_copy_pause()


def _kernel_copy_and_hash(src_fd: int, dst_fd: int) -> tuple[str, int]:
    """Copy with copy_file_range in a thread while this thread hashes what was copied so far.

    Hashing the destination (not the source) means the digest describes the
    stored bytes even if the source changes meanwhile.
    """
    cond = threading.Condition()
    state: dict[str, object] = {"copied": 0, "done": False, "error": None}

    try:
        first = os.copy_file_range(src_fd, dst_fd, COPY_CHUNK)
    except OSError as err:
        raise _NoKernelCopy() from err
    if first == 0 and os.fstat(src_fd).st_size > 0:
        raise _NoKernelCopy()  # e.g. pseudo or network filesystems that copy nothing
    state["copied"] = first

    def copier() -> None:
        try:
            n = first
            while n:
                slow_copy_pause()
                n = os.copy_file_range(src_fd, dst_fd, COPY_CHUNK)
                with cond:
                    state["copied"] = int(state["copied"]) + n  # type: ignore[call-overload]
                    cond.notify()
        except BaseException as err:  # noqa: BLE001 - handed to the hashing thread
            state["error"] = err
        finally:
            with cond:
                state["done"] = True
                cond.notify()

    thread = threading.Thread(target=copier, name="mldeploy-copy", daemon=True)
    thread.start()
    digest = hashlib.sha256()
    buf = bytearray(READ_CHUNK)
    view = memoryview(buf)
    pos = 0
    try:
        while True:
            with cond:
                while int(state["copied"]) == pos and not state["done"]:  # type: ignore[call-overload]
                    cond.wait()
                available = int(state["copied"])  # type: ignore[call-overload]
                finished = bool(state["done"])
            while pos < available:
                want = min(READ_CHUNK, available - pos)
                n = os.preadv(dst_fd, [view[:want]], pos)
                if n <= 0:
                    raise OSError(f"short read at offset {pos} of a file being stored")
                digest.update(view[:n])
                pos += n
            if finished and pos >= int(state["copied"]):  # type: ignore[call-overload]
                break
    finally:
        thread.join()
    if state["error"] is not None:
        raise state["error"]  # type: ignore[misc]
    return digest.hexdigest(), pos


# --- durability --------------------------------------------------------------------------


def _load_syncfs() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        func = libc.syncfs
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int]
    func.restype = ctypes.c_int
    return func


_SYNCFS = _load_syncfs()


def flush(paths: Sequence[str], anchor: Path) -> None:
    """Flush ``paths`` (files or folders) to disk.

    A few paths get an fsync each (waiting only for our own bytes); many get one
    ``syncfs`` of the filesystem holding ``anchor`` on Linux (one journal commit
    instead of thousands, though it also waits for other programs' pending writes).
    """
    if _SYNCFS is not None and len(paths) > FSYNC_EACH_LIMIT:
        fd = os.open(anchor, os.O_RDONLY)
        try:
            if _SYNCFS(fd) == 0:  # type: ignore[operator]
                return
        finally:
            os.close(fd)
    for path in dict.fromkeys(paths):
        flags = os.O_RDONLY
        try:
            fd = os.open(path, flags)
        except OSError:
            continue  # folders cannot be opened on some platforms
        try:
            os.fsync(fd)
        except OSError:
            pass  # fsync on a folder is not supported everywhere
        finally:
            os.close(fd)
