"""Choose the files of a model to register, refusing paths that escape the model folder.

A single-file model stores the file under its own name (``model.pkl``). A folder
model stores every regular file under the folder (or under the ``child_paths``
picked inside it) under the folder's own name, using ``/`` separators
(``model_dir/model.pkl``), as Azure ML does: after a download, a deployment or
``get_model_path``, the model is found at ``.../VERSION/model_dir/model.pkl``. A symlink
inside the folder that resolves inside the folder is stored as the file (or
folder) it points to; one that resolves outside is refused.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..errors import InvalidArgumentError, ModelPathError, PathEscapeError
from .records import KIND_FILE, KIND_FOLDER


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to register: its stored relative path and the real file to read."""

    relpath: str
    source: str
    size: int


@dataclass(frozen=True, slots=True)
class ModelSource:
    """What ``register()`` will store: the model kind and its files sorted by path."""

    kind: str
    files: tuple[SourceFile, ...]


def collect(model_path: object, child_paths: Sequence[str] | None = None) -> ModelSource:
    """Return the files to store for ``model_path`` (a file or folder) and optional ``child_paths``.

    Raises
    ------
    ModelPathError
        When the path is missing, empty, or holds something that is not a file.
    PathEscapeError
        When a child path or a symlink would leave the model folder.
    """
    if model_path is None or (isinstance(model_path, str) and not model_path.strip()):
        raise ModelPathError(
            "model_path is empty: pass the path of a model file or folder, e.g. model_path='outputs/model.pkl'."
        )
    if not isinstance(model_path, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"model_path must be a path string, got {type(model_path).__name__}: "
            "pass the path of a model file or folder."
        )
    path = Path(os.fspath(model_path)).expanduser()
    try:
        st = path.stat()
    except FileNotFoundError as err:
        raise ModelPathError(
            f"model path {str(path)!r} does not exist: check the path "
            f"(relative paths start at {os.getcwd()!r})."
        ) from err
    except OSError as err:
        raise ModelPathError(
            f"cannot read model path {str(path)!r}: {err}. Check its permissions."
        ) from err

    if stat.S_ISREG(st.st_mode):
        if child_paths:
            raise InvalidArgumentError(
                f"child_paths was given but model path {str(path)!r} is a file: "
                "child_paths picks files inside a model folder; pass the folder as model_path."
            )
        if st.st_size == 0:
            raise ModelPathError(
                f"model file {str(path)!r} is empty (0 bytes): save the model first."
            )
        return ModelSource(KIND_FILE, (SourceFile(path.name, str(path.resolve()), st.st_size),))
    if not stat.S_ISDIR(st.st_mode):
        raise ModelPathError(
            f"model path {str(path)!r} is neither a file nor a folder: pass a model file or folder."
        )

    root = path.resolve()
    top = PurePosixPath(Path(os.path.abspath(path)).name or root.name or "model")
    found: dict[str, SourceFile] = {}
    if child_paths is None:
        _walk(root, root, top, found, set())
    else:
        if isinstance(child_paths, (str, os.PathLike)):
            child_paths = [os.fspath(child_paths)]
        if not child_paths:
            raise InvalidArgumentError(
                "child_paths is an empty list: leave it out to register the whole folder, "
                "or list files inside the folder."
            )
        for child in child_paths:
            _add_child(root, path, top, child, found)
    if not found:
        raise ModelPathError(
            f"model folder {str(path)!r} has no files: save the model's files into it first."
        )
    return ModelSource(KIND_FOLDER, tuple(found[k] for k in sorted(found)))


def _inside(root: Path, target: Path) -> bool:
    return target == root or root in target.parents


def _add_child(
    root: Path, shown: Path, top: PurePosixPath, child: object, found: dict[str, SourceFile]
) -> None:
    if not isinstance(child, (str, os.PathLike)) or not os.fspath(child):
        raise InvalidArgumentError(
            f"child path {child!r} is not a path: list paths relative to the model folder, e.g. ['model.pkl']."
        )
    raw = os.fspath(child)
    if not isinstance(raw, str):
        raw = os.fsdecode(raw)
    parts = PurePosixPath(raw.replace("\\", "/"))
    if parts.is_absolute() or PureWindowsPath(raw).is_absolute() or PureWindowsPath(raw).drive:
        raise PathEscapeError(
            f"child path {raw!r} is absolute: give paths relative to the model folder {str(shown)!r}."
        )
    if ".." in parts.parts:
        raise PathEscapeError(
            f"child path {raw!r} contains '..' and would leave the model folder {str(shown)!r}: "
            "give paths inside the folder."
        )
    rel = PurePosixPath(*[p for p in parts.parts if p not in ("", ".")])
    if not rel.parts:
        _walk(root, root, top, found, set())
        return
    candidate = root.joinpath(*rel.parts)
    if not os.path.lexists(candidate):
        raise ModelPathError(
            f"child path {raw!r} does not exist in the model folder {str(shown)!r}: check the name."
        )
    real = candidate.resolve()
    if not _inside(root, real):
        raise PathEscapeError(
            f"child path {raw!r} resolves to {str(real)!r}, outside the model folder {str(shown)!r}: "
            "copy the file into the folder instead of linking to it."
        )
    _add_entry(root, real, top / rel, found, set(), shown_rel=raw)


def _walk(
    root: Path, folder: Path, rel: PurePosixPath, found: dict[str, SourceFile], seen: set[Path]
) -> None:
    real_folder = folder.resolve()
    if real_folder in seen:
        return  # a symlink loop inside the folder: each real folder once per branch
    seen = seen | {real_folder}
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as err:
        raise ModelPathError(f"cannot list {str(folder)!r}: {err}. Check its permissions.") from err
    prefix = str(rel)
    for entry in entries:
        if not entry.is_symlink():
            # the common case, kept cheap: a plain file (scandir already has its type)
            try:
                if entry.is_file(follow_symlinks=False):
                    relpath = f"{prefix}/{entry.name}"
                    found[relpath] = SourceFile(
                        relpath, entry.path, entry.stat(follow_symlinks=False).st_size
                    )
                    continue
            except FileNotFoundError:
                continue  # removed while listing
        child_rel = rel / entry.name
        shown = str(PurePosixPath(*child_rel.parts[1:]))
        if entry.is_symlink():
            target = Path(entry.path).resolve()
            if not _inside(root, target):
                raise PathEscapeError(
                    f"{shown} in the model folder is a symlink to {str(target)!r}, outside the "
                    "folder: copy the file into the folder, or pick other files with child_paths."
                )
            _add_entry(root, target, child_rel, found, seen, shown_rel=shown)
        else:
            _add_entry(root, Path(entry.path), child_rel, found, seen, shown_rel=shown)


def _add_entry(
    root: Path,
    real: Path,
    rel: PurePosixPath,
    found: dict[str, SourceFile],
    seen: set[Path],
    shown_rel: str,
) -> None:
    try:
        st = real.stat()
    except FileNotFoundError as err:
        raise ModelPathError(
            f"{shown_rel} in the model folder is a broken symlink: remove it or fix its target."
        ) from err
    if stat.S_ISDIR(st.st_mode):
        _walk(root, real, rel, found, seen)
    elif stat.S_ISREG(st.st_mode):
        found[str(rel)] = SourceFile(str(rel), str(real), st.st_size)
    else:
        raise ModelPathError(
            f"{shown_rel} in the model folder is not a regular file (a socket, pipe or device): "
            "remove it or pick other files with child_paths."
        )
