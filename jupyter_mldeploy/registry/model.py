"""``Model``: the Azure ML v1 model API over the local registry.

Code written for ``azureml.core.Model`` ports with few edits: the method and
argument names are Azure's, and a ``workspace`` argument is accepted and
ignored, so ``Model.register(ws, model_path=..., model_name=...)`` and
``Model(ws, "ridge", version=2)`` work as they are. This module finds,
registers, changes, downloads and deletes versions; the attributes and the
display of a version are :class:`~jupyter_mldeploy.registry._model_view.ModelView`'s.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, ModelNotFoundError
from ._args import check_version
from ._model_view import ModelView
from ._registry import Registry, default_registry
from .records import ModelVersion

# Azure keyword arguments that have no local meaning; accepted and ignored so code ports as is.
_IGNORED_REGISTER_KWARGS = frozenset(
    {"datasets", "sample_input_dataset", "sample_output_dataset", "resource_configuration"}
)
_IGNORED_LIST_KWARGS = frozenset({"dataset_id", "expand", "page_count"})
_IGNORED_INIT_KWARGS = frozenset({"run_id", "expand", "sha256"})


def _is_workspace(value: object) -> bool:
    """Anything passed where Azure puts the workspace: not a name, path, version or list of models."""
    return value is not None and not isinstance(value, (str, int, os.PathLike, list, tuple, Model))


def _unknown_kwargs(kwargs: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(f"{where}() got unexpected keyword argument(s): {', '.join(unknown)}")


if TYPE_CHECKING:
    from typing_extensions import Self


class Model(ModelView):
    """A registered model version (``name:version``) in the local registry.

    Parameters
    ----------
    workspace
        Ignored (Azure compatibility); may be left out: ``Model("ridge")``.
    name
        The model name.
    id
        ``"name:version"``, instead of ``name`` and ``version``.
    tags, properties
        Azure-style filters: take the newest version that has them.
    version
        The version; the latest when left out.
    registry
        The :class:`~jupyter_mldeploy.registry.Registry` to use (default: the one of ``MLDEPLOY_HOME``).

    Examples
    --------
    >>> from jupyter_mldeploy import Model                                 # doctest: +SKIP
    >>> model = Model.register("model.pkl", "ridge", tags={"stage": "dev"})  # doctest: +SKIP
    >>> model                                                              # doctest: +SKIP
    Model(name='ridge', version=1, files=1, size=12.4 kB, tags={'stage': 'dev'})
    >>> Model("ridge").version, Model("ridge", version=1).id               # doctest: +SKIP
    (1, 'ridge:1')
    """

    __slots__ = ()

    def __init__(
        self,
        workspace: Any = None,
        name: str | None = None,
        id: str | None = None,
        tags: Sequence[Any] | None = None,
        properties: Sequence[Any] | None = None,
        version: int | None = None,
        model_framework: str | None = None,
        *,
        registry: Registry | None = None,
        **azure_options: Any,
    ) -> None:
        _unknown_kwargs(azure_options, _IGNORED_INIT_KWARGS, "Model")
        if not _is_workspace(workspace) and workspace is not None:
            # Model("ridge") or Model("ridge", 2): no workspace given
            if name is not None and version is None and isinstance(name, int):
                version = name
            elif name is not None:
                raise InvalidArgumentError(
                    f"Model({workspace!r}, {name!r}): give the name once, e.g. Model('ridge', version=2)."
                )
            name = workspace
        if id is not None:
            if name is not None:
                raise InvalidArgumentError(
                    "pass either name (and version) or id ('name:version'), not both."
                )
            name, version = _split_id(id)
        if name is None:
            raise InvalidArgumentError(
                "Model() needs a name: Model('ridge') or Model('ridge', version=2)."
            )
        self._registry = registry or default_registry()
        if tags or properties or model_framework:
            number = check_version(version)
            matches = [
                m
                for m in self._registry.list(name=name, tags=tags, properties=properties)
                if (number is None or m.version == number)
                and (model_framework is None or m.framework == model_framework)
            ]
            if not matches:
                raise ModelNotFoundError(
                    f"no version of model {name!r} matches tags={tags!r}, properties={properties!r}"
                    f"{'' if model_framework is None else f', model_framework={model_framework!r}'}: "
                    "check the filters with Model.list(name=...)."
                )
            self._record = matches[0]
        else:
            self._record = self._registry.get(name, version)

    @classmethod
    def _wrap(cls, record: ModelVersion, registry: Registry) -> Self:
        model = cls.__new__(cls)
        model._record = record
        model._registry = registry
        return model

    # --- class methods -------------------------------------------------------------------

    @classmethod
    def register(
        cls, *args: Any, workspace: Any = None, registry: Registry | None = None, **kwargs: Any
    ) -> Self:
        """Register a model file or folder as the next version of ``model_name``.

        Signature: ``register([workspace,] model_path, model_name, tags=None, properties=None,
        description=None, child_paths=None, model_framework=None, model_framework_version=None)``.

        Parameters
        ----------
        model_path
            A model file, or a folder (all its files are stored, or those picked by ``child_paths``).
        model_name
            The name; versions start at 1 and increase by one per registration.
        tags
            Changeable key/value labels, e.g. ``{"stage": "dev"}``.
        properties
            Add-only key/value facts, e.g. ``{"accuracy": "0.93"}``.
        description
            Free text.
        child_paths
            Paths relative to the folder ``model_path`` to store instead of the whole folder.
        model_framework, model_framework_version
            Free-form framework facts (e.g. ``"ScikitLearn"``, ``"1.5.0"``).
        workspace
            Ignored (Azure compatibility); may also be the first positional argument.
        registry
            The registry to use (default: the one of ``MLDEPLOY_HOME``).

        Returns
        -------
        Model
            The new version.

        Examples
        --------
        >>> m = Model.register("outputs/model.pkl", "ridge", tags={"stage": "dev"})  # doctest: +SKIP
        >>> m.id                                                                   # doctest: +SKIP
        'ridge:1'
        >>> Model.register(ws, model_path="outputs", model_name="ridge").version    # doctest: +SKIP
        2
        """
        if args and _is_workspace(args[0]):
            args = args[1:]
        return cls._register(registry or default_registry(), *args, **kwargs)

    @classmethod
    def _register(
        cls,
        reg: Registry,
        model_path: Any = None,
        model_name: Any = None,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        child_paths: Sequence[str] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        **azure_options: Any,
    ) -> Self:
        _unknown_kwargs(azure_options, _IGNORED_REGISTER_KWARGS, "register")
        if model_name is None:
            raise InvalidArgumentError(
                "register() needs model_name: Model.register(model_path='model.pkl', model_name='ridge')."
            )
        record = reg.register(
            model_path,
            model_name,
            tags=tags,
            properties=properties,
            description=description,
            child_paths=child_paths,
            model_framework=model_framework,
            model_framework_version=model_framework_version,
        )
        return cls._wrap(record, reg)

    @classmethod
    def get(
        cls,
        name: str,
        version: int | None = None,
        *,
        workspace: Any = None,
        registry: Registry | None = None,
    ) -> Self:
        """Return ``name:version``, or the latest version of ``name``.

        Examples
        --------
        >>> Model.get("ridge").version       # doctest: +SKIP
        3
        """
        if _is_workspace(name):
            raise InvalidArgumentError(
                "Model.get(name, version=None): pass the name first (no workspace)."
            )
        reg = registry or default_registry()
        return cls._wrap(reg.get(name, version), reg)

    @classmethod
    def list(
        cls,
        workspace: Any = None,
        name: str | None = None,
        tags: Sequence[Any] | None = None,
        properties: Sequence[Any] | None = None,
        run_id: str | None = None,
        latest: bool = False,
        model_framework: str | None = None,
        *,
        registry: Registry | None = None,
        **azure_options: Any,
    ) -> list[Self]:
        """Return registered versions, newest first, filtered as in Azure ML.

        Parameters
        ----------
        name
            Only versions of this name (may also be the first positional argument).
        tags, properties
            Items ``"key"``/``["key"]`` (key must exist) or ``["key", "value"]``.
        latest
            Only the latest version of each name.
        model_framework
            Only versions with this framework.

        Examples
        --------
        >>> [m.id for m in Model.list(tags=[["stage", "prod"]])]   # doctest: +SKIP
        ['ridge:3']
        """
        _unknown_kwargs(azure_options, _IGNORED_LIST_KWARGS, "list")
        if isinstance(workspace, str):
            if name is not None:
                raise InvalidArgumentError(
                    "Model.list(): pass the name once, e.g. Model.list(name='ridge')."
                )
            name = workspace
        if run_id is not None:
            raise InvalidArgumentError(
                "run_id filters are not supported by the local registry: filter with tags instead."
            )
        reg = registry or default_registry()
        return [
            cls._wrap(record, reg)
            for record in reg.list(name=name, tags=tags, properties=properties, latest=latest)
            if model_framework is None or record.framework == model_framework
        ]

    @staticmethod
    def get_model_path(
        model_name: str,
        version: int | None = None,
        _workspace: Any = None,
        *,
        workspace: Any = None,
        registry: Registry | None = None,
    ) -> str:
        """Return a local path of the model: its file, or its folder (``.../VERSION/model_dir``).

        Outside a deployment this is a read-only copy under ``MLDEPLOY_HOME/models``,
        made on first use. Do not write into it.

        Examples
        --------
        >>> import joblib                                                   # doctest: +SKIP
        >>> model = joblib.load(Model.get_model_path("ridge"))              # doctest: +SKIP
        """
        if _is_workspace(model_name):
            raise InvalidArgumentError(
                "get_model_path(model_name, version=None): pass the model name first."
            )
        return (registry or default_registry()).model_path(model_name, version)

    # --- instance methods ----------------------------------------------------------------

    def download(
        self,
        target_dir: str | os.PathLike[str] = ".",
        exist_ok: bool = False,
        exists_ok: bool | None = None,
    ) -> str:
        """Copy the model's files into ``target_dir``, verifying each sha256.

        Parameters
        ----------
        target_dir
            Folder to create (it must not exist unless ``exist_ok``).
        exist_ok
            Write into an existing folder, replacing files with the same names.
        exists_ok
            Azure's older spelling of ``exist_ok``.

        Returns
        -------
        str
            The model file (single-file model) or the model's folder inside ``target_dir``
            (folder model: ``target_dir/model_dir``), as Azure ML returns.

        Examples
        --------
        >>> Model("ridge").download("restored")      # doctest: +SKIP
        'restored/model.pkl'
        """
        if exists_ok is not None:
            exist_ok = exist_ok or exists_ok
        return self._registry.download(self.name, self.version, target_dir, exist_ok=exist_ok)

    def add_tags(self, tags: Mapping[str, Any]) -> None:
        """Add or overwrite tags.

        Examples
        --------
        >>> Model("ridge").add_tags({"stage": "prod"})   # doctest: +SKIP
        """
        self._record = self._registry.add_tags(self.name, self.version, tags)

    def remove_tags(self, tags: Iterable[str] | str) -> None:
        """Remove tags by key (unknown keys are ignored).

        Examples
        --------
        >>> Model("ridge").remove_tags(["stage"])        # doctest: +SKIP
        """
        self._record = self._registry.remove_tags(self.name, self.version, tags)

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Add properties; they cannot be changed or removed afterwards.

        Examples
        --------
        >>> Model("ridge").add_properties({"accuracy": "0.93"})   # doctest: +SKIP
        """
        self._record = self._registry.add_properties(self.name, self.version, properties)

    def update(
        self,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        **azure_options: Any,
    ) -> None:
        """Replace the tags (whole set) and/or the description; None leaves a field unchanged.

        Examples
        --------
        >>> Model("ridge").update(description="ridge on v2 features", tags={"stage": "dev"})  # doctest: +SKIP
        """
        _unknown_kwargs(azure_options, _IGNORED_REGISTER_KWARGS, "update")
        kwargs: dict[str, Any] = {"tags": tags}
        if description is not None:
            kwargs["description"] = description
        self._record = self._registry.update(self.name, self.version, **kwargs)

    def update_tags_properties(
        self,
        add_tags: Mapping[str, Any] | None = None,
        remove_tags: Iterable[str] | None = None,
        add_properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Azure's combined update: add tags, remove tags, add properties."""
        if add_tags:
            self.add_tags(add_tags)
        if remove_tags:
            self.remove_tags(remove_tags)
        if add_properties:
            self.add_properties(add_properties)

    def delete(self) -> None:
        """Delete this version (its number is never reused).

        Examples
        --------
        >>> Model("ridge", version=1).delete()   # doctest: +SKIP
        """
        self._registry.delete(self.name, self.version)

    def reload(self) -> None:
        """Read this version again from the registry (changes made by other processes)."""
        self._record = self._registry.get(self.name, self.version)


def _split_id(model_id: str) -> tuple[str, int | None]:
    if not isinstance(model_id, str) or not model_id:
        raise InvalidArgumentError(f"model id must be 'name:version', got {model_id!r}.")
    name, sep, version = model_id.rpartition(":")
    if not sep:
        return model_id, None
    if not version.isdigit():
        raise InvalidArgumentError(
            f"model id {model_id!r} must be 'name:version' with a numeric version, e.g. 'ridge:2'."
        )
    return name, int(version)
