"""``RegistryBrowser``: browse registered models and their versions, and deploy one from a form.

The browser lists the models (with their latest version and version count) and the chosen
model's versions (newest first), filters them by name (substring) and by tag (``key`` or
``key=value``, as ``Model.list(tags=...)``), shows a version's details (tags, properties,
files and sizes) and opens a small form that deploys the version as a local web service.
It calls only the public API: :class:`~jupyter_mldeploy.Model`,
:func:`jupyter_mldeploy.deploy.deploy` and the deployment panel.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets

from ..api import Model
from ..errors import InvalidArgumentError, ModelNotFoundError
from ..registry import Registry
from ..registry.tags import parse_tag_filter
from ._base import Panel, esc, human_bytes, show
from ._display import panel_for
from ._model_details import _plural, details_html
from .deploy_form import DeployForm

__all__ = ["DeployForm", "RegistryBrowser"]


_EMPTY_NOTE = (
    "<b>The registry is empty.</b> Register a model first: "
    "<code>Model.register('model.pkl', model_name='ridge')</code> in Python, "
    "<code>%mldeploy register model.pkl --name ridge</code> in a notebook, or "
    "<code>mldeploy models register model.pkl --name ridge</code> in a terminal; then press Refresh."
)


class RegistryBrowser(Panel):
    """Browse the models of a registry, their versions and files, and deploy a version.

    Parameters
    ----------
    registry
        A :class:`~jupyter_mldeploy.registry.Registry` or its folder; ``None`` uses the registry
        of ``MLDEPLOY_HOME`` (read again at each refresh).
    compact
        Show only the selected version (details and actions) with a *Browse registry* button
        that opens the lists; this is how a ``Model`` displays in a notebook.

    Attributes
    ----------
    name_filter, tag_filter : ipywidgets.Text
        Filters applied live: a part of the name; ``key`` or ``key=value`` terms, comma-separated.
    models, versions : ipywidgets.Select
        Model names (value: the name) and the chosen model's versions (value: the number), newest first.
    details : ipywidgets.HTML
        The selected version's facts, tags, properties and files.
    deploy_form : DeployForm
        The deploy form (hidden until ``deploy_button`` is clicked).
    deployment
        The panel of the last service deployed from here (``None`` before).
    service
        That service (a :class:`~jupyter_mldeploy.Webservice`), or ``None``.

    Examples
    --------
    >>> from jupyter_mldeploy.widgets import RegistryBrowser    # doctest: +SKIP
    >>> browser = RegistryBrowser()                            # doctest: +SKIP
    >>> browser.tag_filter.value = "stage=prod"                 # doctest: +SKIP
    >>> browser.models.value, browser.versions.value           # doctest: +SKIP
    ('ridge', 3)
    >>> RegistryBrowser.for_model(Model("ridge", version=2))   # doctest: +SKIP
    """

    def __init__(
        self, registry: Registry | str | os.PathLike[str] | None = None, *, compact: bool = False
    ) -> None:
        super().__init__()
        self.add_class("mldeploy-registry-browser")
        self._registry = (
            registry if registry is None or isinstance(registry, Registry) else Registry(registry)
        )
        self._by_name: dict[str, list[Model]] = {}
        self._holding = False
        self.deployment: Any = None
        self.service: Any = None

        self.title = widgets.HTML("<b>Model registry</b>")
        self.count = widgets.HTML()
        self.name_filter = widgets.Text(
            description="Name",
            placeholder="part of a name",
            layout=widgets.Layout(width="260px"),
        )
        self.tag_filter = widgets.Text(
            description="Tag",
            placeholder="stage or stage=prod",
            layout=widgets.Layout(width="260px"),
        )
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Read the registry again"
        )
        self.models = widgets.Select(
            description="Models", rows=8, layout=widgets.Layout(width="310px")
        )
        self.versions = widgets.Select(
            description="Versions", rows=8, layout=widgets.Layout(width="450px")
        )
        self.note = widgets.HTML(layout=widgets.Layout(display="none"))
        self.details = widgets.HTML()
        self.path_button = widgets.Button(
            description="Local path", tooltip="Model.get_model_path(...) of this version"
        )
        self.path = widgets.HTML(layout=widgets.Layout(display="none"))
        self.deploy_button = widgets.Button(
            description="Deploy…", icon="rocket", button_style="primary"
        )
        self.browse_button = widgets.Button(
            description="Browse registry", layout=widgets.Layout(display="none")
        )
        self.tag_edit = widgets.Text(
            description="Set tag",
            placeholder="key=value",
            layout=widgets.Layout(width="240px"),
        )
        self.add_tag_button = widgets.Button(description="Add tag", icon="tag")
        self.remove_tag_button = widgets.Button(description="Remove tag")
        self.delete_button = widgets.Button(
            description="Delete version…", button_style="danger", icon="trash"
        )
        self.confirm_text = widgets.HTML()
        self.confirm_delete = widgets.Button(description="Yes, delete it", button_style="danger")
        self.cancel_delete = widgets.Button(description="Keep it")
        self.confirm = widgets.HBox(
            [self.confirm_text, self.confirm_delete, self.cancel_delete],
            layout=widgets.Layout(display="none"),
        )
        self.deploy_form = DeployForm(on_deployed=self._show_deployment)
        self.deployment_box = widgets.VBox()

        self.filters = widgets.HBox([self.name_filter, self.tag_filter, self.refresh_button])
        self.lists = widgets.HBox([self.models, self.versions])
        self.actions = widgets.HBox([self.deploy_button, self.path_button, self.browse_button])
        self.edits = widgets.HBox(
            [self.tag_edit, self.add_tag_button, self.remove_tag_button, self.delete_button]
        )
        self.browse_part = widgets.VBox([self.title, self.filters, self.count, self.lists])
        self.children = [
            self.browse_part,
            self.note,
            self.details,
            self.path,
            self.actions,
            self.edits,
            self.confirm,
            self.deploy_form,
            self.deployment_box,
            *self._footer(),
        ]

        self.name_filter.observe(self.guard(self._on_filter), names="value")
        self.tag_filter.observe(self.guard(self._on_filter), names="value")
        self.models.observe(self.guard(self._on_model), names="value")
        self.versions.observe(self.guard(self._on_version), names="value")
        self.refresh_button.on_click(self.guard(lambda _b: self.refresh()))
        self.path_button.on_click(self.guard(self._on_path))
        self.deploy_button.on_click(self.guard(self._on_deploy_button))
        self.browse_button.on_click(self.guard(lambda _b: self.set_compact(False)))
        self.add_tag_button.on_click(self.guard(self._on_add_tag))
        self.remove_tag_button.on_click(self.guard(self._on_remove_tag))
        self.delete_button.on_click(self.guard(self._on_delete))
        self.confirm_delete.on_click(self.guard(self._on_confirm_delete))
        self.cancel_delete.on_click(self.guard(lambda _b: self._hide_confirm()))
        self.guard(self.refresh)()
        self.set_compact(compact)

    @classmethod
    def for_model(cls, model: Model, *, compact: bool = False) -> RegistryBrowser:
        """A browser opened on ``model`` (that name and version selected).

        Examples
        --------
        >>> RegistryBrowser.for_model(Model("ridge", version=2)).versions.value   # doctest: +SKIP
        2
        """
        if not isinstance(model, Model):
            raise InvalidArgumentError(
                f"for_model() takes a Model, got {type(model).__name__}: use Model('name', version=N)."
            )
        browser = cls(registry=model._registry, compact=compact)  # the registry the model came from
        try:
            browser.select(model.name, model.version)
        except (InvalidArgumentError, ModelNotFoundError):  # deleted since the object was made
            browser._show_missing(model)
        return browser

    # --- public actions ----------------------------------------------------------------------

    @property
    def selected(self) -> Model | None:
        """The selected model version, or None."""
        for model in self._by_name.get(self.models.value or "", []):
            if model.version == self.versions.value:
                return model
        return None

    def select(self, name: str, version: int | None = None) -> None:
        """Select model ``name`` (and ``version``; the newest shown when None), clearing filters that hide it.

        Raises
        ------
        InvalidArgumentError
            No model ``name`` in this registry.
        ModelNotFoundError
            Model ``name`` has no ``version`` (it was deleted, or never registered).
        """
        if not self._lists(name, version):
            with self._hold():
                self.name_filter.value = ""
                self.tag_filter.value = ""
            self.refresh()
        if name not in self._by_name:
            raise InvalidArgumentError(
                f"no model named {name!r} in this registry: press Refresh or register it."
            )
        if not self._lists(name, version):
            have = ", ".join(str(m.version) for m in self._by_name[name])
            raise ModelNotFoundError(
                f"model {name!r} has no version {version} in this registry (it has {have}): "
                "pick one of those."
            )
        with self._hold():
            self.models.value = name
        self._show_versions(version)

    def _lists(self, name: str, version: int | None) -> bool:
        found = self._by_name.get(name, [])
        return bool(found) and (version is None or any(m.version == version for m in found))

    def refresh(self) -> None:
        """Read the registry again and apply the filters, keeping the selection where it still shows."""
        tags = parse_tag_filter(self.tag_filter.value)
        needle = self.name_filter.value.strip().lower()
        everything = Model.list(registry=self._registry)
        matching = Model.list(tags=tags, registry=self._registry) if tags else everything
        by_name: dict[str, list[Model]] = {}
        for model in matching:
            if needle in model.name.lower():
                by_name.setdefault(model.name, []).append(model)
        for versions in by_name.values():
            versions.sort(key=lambda m: m.version, reverse=True)
        self._by_name = dict(sorted(by_name.items()))
        self.clear_status()
        self._show_count(everything, tags or needle)
        keep = self.models.value
        with self._hold():
            self.models.options = [
                (f"{name}  (v{found[0].version}, {_plural(len(found), 'version')})", name)
                for name, found in self._by_name.items()
            ]
            names = list(self._by_name)
            self.models.value = keep if keep in names else (names[0] if names else None)
        self._show_versions(self.versions.value if self.models.value == keep else None)

    def set_compact(self, compact: bool) -> None:
        """Show only the selected version (True) or the whole browser (False)."""
        show(self.browse_part, not compact)
        show(self.browse_button, compact)

    def close(self) -> None:
        """Close the deployment panel shown here (stopping its refresh), then the browser."""
        for part in (getattr(self, "deployment", None), getattr(self, "deploy_form", None)):
            if part is not None:
                part.close()
        super().close()

    # --- callbacks ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        """Change several widgets without their observers reacting to each change."""
        held, self._holding = self._holding, True
        try:
            yield
        finally:
            self._holding = held

    def _on_filter(self, _change: Any) -> None:
        if not self._holding:
            self.refresh()

    def _on_model(self, _change: Any) -> None:
        if not self._holding:
            self._show_versions(None)

    def _on_version(self, _change: Any) -> None:
        if not self._holding:
            self._show_details()

    def _on_path(self, _button: Any) -> None:
        model = self._require_selection()
        path = Model.get_model_path(model.name, model.version, registry=model._registry)
        self.path.value = f"Local path (read-only copy): <code>{esc(path)}</code>"
        show(self.path)

    def _on_add_tag(self, _button: Any) -> None:
        model = self._require_selection()
        key, sep, value = self.tag_edit.value.partition("=")
        if not key.strip() or not sep:
            raise InvalidArgumentError(
                f"add a tag as key=value, e.g. stage=prod; got {self.tag_edit.value!r}."
            )
        model.add_tags({key.strip(): value.strip()})
        self.tag_edit.value = ""
        self.refresh()
        self.show_note(f"Tagged {model.id} with {key.strip()}={value.strip()}.")

    def _on_remove_tag(self, _button: Any) -> None:
        model = self._require_selection()
        key = self.tag_edit.value.partition("=")[0].strip()
        if key not in model.tags:
            shown = ", ".join(sorted(model.tags)) or "none"
            raise InvalidArgumentError(
                f"{model.id} has no tag {key!r} (its tags: {shown}): type the key of the tag to remove."
            )
        model.remove_tags([key])
        self.tag_edit.value = ""
        self.refresh()
        self.show_note(f"Removed tag {key!r} from {model.id}.")

    def _on_delete(self, _button: Any) -> None:
        model = self._require_selection()
        self.confirm_text.value = (
            f"Delete <b>{esc(model.id)}</b>? Its number is never reused; services already deployed keep "
            "their copy."
        )
        self.confirm_delete.description = f"Yes, delete {model.id}"
        show(self.confirm)

    def _on_confirm_delete(self, _button: Any) -> None:
        model = self._require_selection()
        model.delete()
        self._hide_confirm()
        self.refresh()
        self.show_note(f"Deleted {model.id}.")

    def _hide_confirm(self) -> None:
        show(self.confirm, False)

    def _on_deploy_button(self, _button: Any) -> None:
        self.deploy_form.show_for(self._require_selection())

    def _require_selection(self) -> Model:
        model = self.selected
        if model is None:
            raise InvalidArgumentError(
                "no model version is selected: pick a model and a version first."
            )
        return model

    # --- drawing --------------------------------------------------------------------------------

    def _show_count(self, everything: list[Model], filtered: object) -> None:
        total_names = len({m.name for m in everything})
        total = f"{_plural(total_names, 'model')}, {_plural(len(everything), 'version')}"
        if filtered:
            shown = sum(len(v) for v in self._by_name.values())
            self.count.value = (
                f"{esc(_plural(len(self._by_name), 'model'))}, {esc(_plural(shown, 'version'))} "
                f"match (of {esc(total)})"
            )
        else:
            self.count.value = esc(total)
        if not everything:
            self._set_note(_EMPTY_NOTE)
        elif not self._by_name:
            self._set_note(
                "No model matches these filters: clear the name or tag filter "
                "(tag terms are <code>key</code> or <code>key=value</code>)."
            )
        else:
            self._set_note("")

    def _set_note(self, inner_html: str) -> None:
        self.note.value = inner_html
        show(self.note, bool(inner_html))

    def _show_missing(self, model: Model) -> None:
        """Say that ``model`` (the version this browser was opened on) is gone, and show no other version."""
        with self._hold():
            self.models.value = None
            self.versions.options = []
            self.versions.value = None
        self._show_details()
        self._set_note(
            f'<div style="color:#cf222e"><b>{esc(model.id)} was deleted from the registry.</b></div>'
            "Press <i>Browse registry</i> to pick another version, or register the model again "
            f"(<code>Model.register(path, {esc(repr(model.name))})</code>)."
        )

    def _show_versions(self, keep: int | None) -> None:
        found = self._by_name.get(self.models.value or "", [])
        with self._hold():
            self.versions.options = [(self._version_label(m), m.version) for m in found]
            numbers = [m.version for m in found]
            self.versions.value = keep if keep in numbers else (numbers[0] if numbers else None)
        self._show_details()

    @staticmethod
    def _version_label(model: Model) -> str:
        tags = ", ".join(f"{k}={v}" if v else k for k, v in sorted(model.tags.items()))
        label = f"v{model.version}  {model.created_time:%Y-%m-%d %H:%M}  {human_bytes(model.size)}"
        return f"{label}  [{tags}]" if tags else label

    def _show_details(self) -> None:
        model = self.selected
        self.path.value = ""
        show(self.path, False)
        self.details.value = "" if model is None else details_html(model)
        self._hide_confirm()
        for button in (
            self.deploy_button,
            self.path_button,
            self.add_tag_button,
            self.remove_tag_button,
            self.delete_button,
        ):
            button.disabled = model is None

    def _show_deployment(self, service: Any) -> None:
        """Show the panel of ``service`` (deployed by the form) below the form."""
        panel = panel_for(service)  # the service's one DeploymentPanel (a redeploy keeps it)
        if self.deployment is not None and self.deployment is not panel:
            self.deployment.close()  # the last service deployed from here: its refresh stops
        self.service = service
        self.deployment = panel
        self.deployment_box.children = [panel]


