"""``DeployForm``: the registry browser's Deploy form: service name, entry script, source, environment, target, port.

Its fields are checked before anything starts (each error names the field and the fix);
the deployment itself is :func:`jupyter_mldeploy.deploy.deploy_from_files`, the same call
as ``%deploy_local`` and ``mldeploy deploy``, and the target offered first is the one
:func:`~jupyter_mldeploy.deploy.choose_target` would pick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets

from .._names import validate_name
from ..api import Model
from ..errors import EntryScriptError, InvalidArgumentError
from ._base import Panel, esc, show

__all__ = ["DeployForm"]


class DeployForm(Panel):
    """The small form that deploys one model version as a local web service.

    Fields: service name (prefilled ``<model>-svc``), entry script (default ``score.py``, must
    exist), source folder and environment file (optional), target (``process`` or ``docker``;
    Docker is disabled with a note when no engine or base image is there), port (blank: a free
    one) and overwrite. *Deploy* calls :func:`jupyter_mldeploy.deploy.deploy` without
    waiting and hands the service to ``on_deployed``.

    Examples
    --------
    >>> form = RegistryBrowser().deploy_form                # doctest: +SKIP
    >>> form.show_for(Model("ridge"))                       # doctest: +SKIP
    >>> form.target.value = "process"; form.deploy.click()  # doctest: +SKIP
    """

    def __init__(self, on_deployed: Any = None) -> None:
        super().__init__(
            layout=widgets.Layout(display="none", border="1px solid #d0d7de", padding="4px")
        )
        self.add_class("mldeploy-deploy-form")
        self.model: Model | None = None
        self._on_deployed = on_deployed
        self._default_name = ""
        label = {"description_width": "100px"}

        def field(description: str, value: str = "", placeholder: str = "") -> widgets.Text:
            return widgets.Text(
                value,
                description=description,
                placeholder=placeholder,
                style=label,
                layout=widgets.Layout(width="520px"),
            )

        self.header = widgets.HTML()
        self.service_name = field("Service")
        self.entry_script = field("Entry script", "score.py", "the script with init() and run()")
        self.source_dir = field(
            "Source dir", placeholder="optional: the folder of the script's code"
        )
        self.env_file = field("Environment", placeholder="optional: requirements.txt or conda .yml")
        self.target = widgets.ToggleButtons(
            options=["process", "docker"], style={"button_width": "90px"}
        )
        self.target_note = widgets.HTML()
        self.port = widgets.Text(
            description="Port",
            placeholder="blank: a free port",
            style=label,
            layout=widgets.Layout(width="260px"),
        )
        self.overwrite = widgets.Checkbox(
            description="replace a service of the same name", indent=False
        )
        self.deploy = widgets.Button(description="Deploy", button_style="primary", icon="rocket")
        self.cancel = widgets.Button(description="Cancel")
        self.children = [
            self.header,
            self.service_name,
            self.entry_script,
            self.source_dir,
            self.env_file,
            widgets.HBox(
                [
                    widgets.HTML(
                        '<div style="text-align:right;padding-right:8px">Target</div>',
                        layout=widgets.Layout(width="104px"),
                    ),
                    self.target,
                ]
            ),
            self.target_note,
            widgets.HBox([self.port, self.overwrite]),
            widgets.HBox([self.deploy, self.cancel]),
            *self._footer(),
        ]
        self.deploy.on_click(self.guard(lambda _b: self.submit()))
        self.cancel.on_click(self.guard(lambda _b: self.hide()))

    @property
    def is_open(self) -> bool:
        """Whether the form shows."""
        return self.layout.display != "none"

    def show_for(self, model: Model) -> None:
        """Show the form for ``model``, prefilled, with the target Docker would be chosen by ``deploy()``."""
        from ..deploy import choose_target

        self.model = model
        self.clear_status()
        if self.service_name.value in ("", self._default_name):
            self._default_name = f"{model.name}-svc"
            self.service_name.value = self._default_name
        self.header.value = f"<b>Deploy {esc(model.id)}</b> as a local web service"
        choice = choose_target()
        if choice.compute_type == "docker":
            self.target.disabled = False
            self.target.value = "docker"
            self.target_note.value = ""
        else:
            why = choice.note.removeprefix("target process: ").removesuffix("; deploying as a local process")
            self.target.value = "process"
            self.target.disabled = True
            self.target_note.value = (
                f'<div style="color:#57606a;line-height:1.4;margin-left:104px">'
                f"Docker is off: {esc(why)}.</div>"
            )
        show(self)

    def hide(self) -> None:
        """Hide the form (its values are kept)."""
        self.clear_status()
        show(self, False)

    def submit(self) -> Any:
        """Check the fields, start the deployment (no waiting) and return the service.

        Raises
        ------
        InvalidNameError, InvalidArgumentError, EntryScriptError
            A field is wrong; the message names the field and the fix (shown in the form
            when called from the Deploy button).
        """
        from ..deploy import deploy_from_files

        self.clear_status()
        if self.model is None:
            raise InvalidArgumentError(
                "the form has no model: pick a version and press Deploy… first."
            )
        name = validate_name(self.service_name.value.strip(), "service")
        port = _port(self.port.value)
        entry, source = self.entry_script.value.strip(), self.source_dir.value.strip() or None
        _check_entry_script(entry, source)
        env_file = self.env_file.value.strip() or None
        if env_file is not None and not Path(env_file).expanduser().is_file():
            raise InvalidArgumentError(
                f"environment file {env_file!r} not found (looked at {Path(env_file).expanduser().resolve()}): "
                "give a requirements.txt or conda .yml path, or leave it blank."
            )
        service = deploy_from_files(
            name, [self.model], entry, source_dir=source, env_file=env_file, target=self.target.value,
            port=port, overwrite=self.overwrite.value,
        )
        self.hide()
        if self._on_deployed is not None:
            self._on_deployed(service)
        return service

def _port(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    # isascii: str.isdigit() and int() also take other scripts' digits ('²', '١')
    if not (text.isascii() and text.isdecimal()) or not 0 < int(text) < 65536:
        raise InvalidArgumentError(
            f"port must be a whole number from 1 to 65535, got {text!r}: fix it, or leave it blank for a free port."
        )
    return int(text)

def _check_entry_script(entry: str, source: str | None) -> None:
    if not entry:
        raise EntryScriptError(
            "the entry script is blank: give the path of the script with init() and run(), e.g. score.py."
        )
    path = Path(entry).expanduser()
    if source is not None and not path.is_absolute():
        path = Path(source).expanduser() / path
    if not path.is_file():
        raise EntryScriptError(
            f"entry script {entry!r} not found (looked at {path.resolve()}): write it first "
            f"(e.g. with %%score_script {entry}) or give its path"
            + (" relative to the source dir." if source else " relative to the notebook's folder.")
        )
