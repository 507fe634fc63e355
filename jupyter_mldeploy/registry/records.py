"""Frozen records of what the registry stores: a model version and its files.

These are plain data with no behaviour beyond formatting; :class:`~jupyter_mldeploy.registry.model.Model`
wraps a :class:`ModelVersion` and adds the Azure-style methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: ``kind`` of a model registered from a single file.
KIND_FILE = "file"
#: ``kind`` of a model registered from a folder.
KIND_FOLDER = "folder"


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One file of a model version: path relative to the model (``/`` separators), size, sha256."""

    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"path", "size", "sha256"}``."""
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version of a model, as stored in the registry database.

    ``created_time`` is an ISO-8601 UTC timestamp. ``kind`` is ``"file"`` for a
    model registered from one file (its only file is stored under its own name)
    and ``"folder"`` for a folder model (paths start with the folder's name, as
    in Azure ML: ``model_dir/model.pkl``).
    """

    name: str
    version: int
    kind: str
    created_time: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    framework: str | None = None
    framework_version: str | None = None
    files: tuple[ModelFile, ...] = ()

    @property
    def id(self) -> str:
        """``"name:version"``, as Azure ML spells a model id."""
        return f"{self.name}:{self.version}"

    @property
    def root(self) -> str:
        """The model's top entry: the file name, or the folder name of a folder model."""
        return self.files[0].path.split("/", 1)[0] if self.files else ""

    @property
    def size(self) -> int:
        """Total size of the model's files in bytes."""
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary of every field (plus ``id`` and ``size``)."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "created_time": self.created_time,
            "description": self.description,
            "tags": dict(self.tags),
            "properties": dict(self.properties),
            "framework": self.framework,
            "framework_version": self.framework_version,
            "size": self.size,
            "files": [f.to_dict() for f in self.files],
        }


def format_size(size: int) -> str:
    """Return ``size`` bytes as a short human string (``"12.4 kB"``, decimal units)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover
