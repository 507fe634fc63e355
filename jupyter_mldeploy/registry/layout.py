"""Lay out a deployment's models the way Azure ML does, under ``azureml-models/NAME/VERSION/``.

``AZUREML_MODEL_DIR`` then points at ``azureml-models/NAME/VERSION`` for one
model and at ``azureml-models`` for several, so entry scripts written for
Azure find their files where they expect them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._names import validate_name
from ..errors import InvalidArgumentError, ModelPathError
from ..source_copy import copy_folder


@dataclass(frozen=True)
class LaidOutModels:
    """Where the models are: ``model_dir`` (for ``AZUREML_MODEL_DIR``) and one entry per model."""

    model_dir: Path
    entries: list[dict[str, Any]]


def lay_out_models(
    models: Sequence[Any], dest: Path, log: Callable[[str], None] | None = None
) -> LaidOutModels:
    """Copy ``models`` (registered ``Model`` objects or local paths) into ``dest/NAME/VERSION/``.

    A local path becomes model ``<file or folder name>`` version 1 and keeps its
    file or folder name inside the version folder, as a registered model does.
    The models are laid out in a new folder that replaces ``dest`` only when all
    of them are in place: a failing update leaves the running service's models
    untouched.
    """
    if isinstance(models, (str, os.PathLike)) or not isinstance(models, Sequence):
        models = [models]
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".models-", dir=dest.parent))
    try:
        laid_out = _lay_out(models, staging, log)
        old = dest.with_name(f".{dest.name}-old-{os.getpid()}")
        if os.path.lexists(dest):
            os.replace(dest, old)
        os.replace(staging, dest)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # paths were computed inside the staging folder: point them at dest
    entries = [{**e, "path": str(dest / e["name"] / str(e["version"]))} for e in laid_out]
    model_dir = Path(entries[0]["path"]) if len(entries) == 1 else dest
    return LaidOutModels(model_dir, entries)


def _lay_out(
    models: Sequence[Any], dest: Path, log: Callable[[str], None] | None
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for model in models:
        if isinstance(model, (str, os.PathLike)):
            entry = _copy_local(Path(model).expanduser(), dest)
        elif hasattr(model, "download") and hasattr(model, "version"):
            target = dest / model.name / str(model.version)
            model.download(str(target), exist_ok=True)
            entry = {"name": model.name, "version": int(model.version), "id": model.id, "source": "registry"}
        else:
            raise InvalidArgumentError(
                f"models must be registered Model objects or local paths, got {type(model).__name__}: {model!r}."
            )
        key = (entry["name"], entry["version"])
        if key in seen:
            raise InvalidArgumentError(f"model {entry['id']} is listed twice; list each model once.")
        seen.add(key)
        entry["path"] = str(dest / entry["name"] / str(entry["version"]))
        entries.append(entry)
        if log:
            log(f"model {entry['id']} -> {entry['name']}/{entry['version']}")
    return entries


def _copy_local(path: Path, dest: Path) -> dict[str, Any]:
    if not path.exists():
        raise ModelPathError(f"model path {str(path)!r} does not exist; pass a registered Model or an existing path.")
    name = local_model_name(path)
    target = dest / name / "1"
    target.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        copy_folder(path, target / path.name)
    else:
        shutil.copy2(path, target / path.name)
    return {"name": name, "version": 1, "id": f"{name}:1", "source": str(path)}


def local_model_name(path: Path) -> str:
    """The model name a local path is deployed as (version 1): a file's name before its first dot, or the folder's."""
    stem = path.name.split(".")[0] if path.is_file() else path.name
    return validate_name(stem.replace(" ", "-") or "model", "model")
