"""What a registered model version says about itself: its metadata as attributes, and how it shows.

:class:`ModelView` is the read-only half of :class:`~jupyter_mldeploy.registry.model.Model`:
the attributes read from its frozen
:class:`~jupyter_mldeploy.registry.records.ModelVersion` (name, version, tags,
files, ...), ``to_dict``, equality, and its display as text in a terminal or, in
a Jupyter kernel, as the widget the panels register. Finding, registering,
changing and downloading versions are ``Model``'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..errors import ModelNotFoundError
from ._registry import Registry
from .records import ModelFile, ModelVersion, format_size


class ModelView:
    """A registered model version's metadata and display; see :class:`~jupyter_mldeploy.registry.model.Model`."""

    __slots__ = ("_record", "_registry")

    _record: ModelVersion
    _registry: Registry

    # --- attributes ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The model name."""
        return self._record.name

    @property
    def version(self) -> int:
        """The version number (1, 2, ...)."""
        return self._record.version

    @property
    def id(self) -> str:
        """``"name:version"``."""
        return self._record.id

    @property
    def tags(self) -> dict[str, str]:
        """A copy of the tags."""
        return dict(self._record.tags)

    @property
    def properties(self) -> dict[str, str]:
        """A copy of the properties."""
        return dict(self._record.properties)

    @property
    def description(self) -> str | None:
        """The description, or None."""
        return self._record.description

    @property
    def created_time(self) -> datetime:
        """When this version was registered (timezone-aware UTC)."""
        return datetime.fromisoformat(self._record.created_time)

    @property
    def framework(self) -> str | None:
        """The model framework given at registration, or None."""
        return self._record.framework

    @property
    def model_framework(self) -> str | None:
        """Azure's name for :attr:`framework`."""
        return self._record.framework

    @property
    def framework_version(self) -> str | None:
        """The framework version given at registration, or None."""
        return self._record.framework_version

    @property
    def model_framework_version(self) -> str | None:
        """Azure's name for :attr:`framework_version`."""
        return self._record.framework_version

    @property
    def files(self) -> tuple[ModelFile, ...]:
        """The stored files (path, size, sha256), sorted by path; folder models' paths start with the folder name."""
        return self._record.files

    @property
    def size(self) -> int:
        """Total bytes of the model's files."""
        return self._record.size

    @property
    def record(self) -> ModelVersion:
        """The underlying frozen :class:`~jupyter_mldeploy.registry.records.ModelVersion`."""
        return self._record

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary of the version (id, tags, files with sha256, ...)."""
        return self._record.to_dict()

    def serialize(self) -> dict[str, Any]:
        """Azure's name for :meth:`to_dict`."""
        return self.to_dict()

    # --- dunder ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        r = self._record
        return (
            f"Model(name={r.name!r}, version={r.version}, files={len(r.files)}, "
            f"size={format_size(r.size)}, tags={dict(r.tags)!r})"
        )

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Notebook display: readable text, and in a kernel the compact registry browser the widgets register.

        The ``text/plain`` part is always there (with a note when this version was deleted
        from the registry meanwhile); the widget view only when a Jupyter kernel runs and
        ipywidgets is installed, so a terminal never imports ipywidgets. Never raises.
        """
        from ..display import mimebundle  # never imports a widget library

        wanted = None if include is None else set(include)
        unwanted = None if exclude is None else set(exclude)
        return mimebundle(self, "model", _display_text, wanted, unwanted)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelView):
            return NotImplemented
        return self.id == other.id and self._registry.home == other._registry.home

    def __hash__(self) -> int:
        return hash(self.id)


def _display_text(model: ModelView) -> str:
    """What a terminal shows for ``model``: its description, and a note when it was deleted since."""
    text = _describe(model._record)
    try:
        model._registry.get(model.name, model.version)
    except ModelNotFoundError:
        text += f"\n({model.id} was deleted from the registry: this is what it was.)"
    return text


def _describe(record: ModelVersion) -> str:
    """A model version as readable multi-line text (what a terminal shows for a ``Model``).

    Examples
    --------
    >>> print(_describe(Model("ridge").record))   # doctest: +SKIP
    Model ridge:1 (file, 1 file, 12.4 kB)
      description: none
      ...
    """
    created = datetime.fromisoformat(record.created_time).strftime("%Y-%m-%d %H:%M:%S UTC")
    framework = " ".join(p for p in (record.framework, record.framework_version) if p)
    count = f"{len(record.files)} file{'' if len(record.files) == 1 else 's'}"
    lines = [
        f"Model {record.id} ({record.kind}, {count}, {format_size(record.size)})",
        f"  description: {record.description or 'none'}",
        f"  created:     {created}",
        f"  framework:   {framework or 'not given'}",
        f"  tags:        {', '.join(f'{k}={v}' for k, v in sorted(record.tags.items())) or 'none'}",
        f"  properties:  {', '.join(f'{k}={v}' for k, v in sorted(record.properties.items())) or 'none'}",
        "  files:",
    ]
    width = max((len(f.path) for f in record.files[:50]), default=0)
    lines += [f"    {f.path:<{width}}  {format_size(f.size):>9}  sha256:{f.sha256[:12]}" for f in record.files[:50]]
    if len(record.files) > 50:
        lines.append(f"    ... and {len(record.files) - 50} more files")
    return "\n".join(lines)
