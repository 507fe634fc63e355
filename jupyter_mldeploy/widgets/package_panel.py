"""``PackagePanel``: a model package being built, its phases, build progress and output, and Save.

What a ``ModelPackage`` shows in a Jupyter kernel (``Model.package(...)`` as the last line
of a cell); its refresh stops when the build ends or the panel is closed.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ._base import STATE_COLOURS, Panel, badge, esc, set_value, show
from ._progress_view import (
    ProgressView,
    _log_html,
    _title_html,
    _title_row,
)

__all__ = ["PackagePanel"]


#: Colours of a package's state badge.
PACKAGE_COLOURS = {
    "Running": STATE_COLOURS["Transitioning"],
    "Succeeded": STATE_COLOURS["Healthy"],
    "Failed": STATE_COLOURS["Failed"],
}

class PackagePanel(Panel):
    """A model package being built: state, phases, build progress, output, and Save for a Dockerfile context.

    Parameters
    ----------
    package
        A ``ModelPackage`` (from ``Model.package``).
    refresh_s
        Seconds between refreshes while the package is built (the refresh stops when it is done).

    Examples
    --------
    >>> from jupyter_mldeploy.widgets import PackagePanel
    >>> PackagePanel(Model.package([model], config, generate_dockerfile=True))   # doctest: +SKIP
    """

    def __init__(self, package: Any, refresh_s: float = 1.0) -> None:
        super().__init__()
        self.add_class("mldeploy-package-panel")
        self.package = package
        self.title = widgets.HTML()
        self.state_badge = widgets.HTML()
        self.location = widgets.HTML()
        self.progress_view = ProgressView(self.show_error)
        self.phases = self.progress_view.phases
        self.progress_bar = self.progress_view.bar
        self.progress_bar.description = "Building"
        self.last_line = self.progress_view.last_line
        self.log_view = widgets.HTML()
        self.folder = widgets.Text(
            description="Folder", placeholder="where to write the Dockerfile context"
        )
        self.save_button = widgets.Button(
            description="Save...",
            icon="save",
            disabled=True,
            tooltip="Write the Dockerfile and its build context into the folder",
        )
        self.save_button.on_click(self.guard(self._on_save))
        save_row = widgets.HBox([self.folder, self.save_button])
        show(save_row, package.generate_dockerfile)
        self.children = [
            _title_row(self.title, self.state_badge),
            self.location,
            self.phases,
            self.progress_bar,
            self.last_line,
            widgets.HTML("<b>Build output</b>"),
            self.log_view,
            save_row,
            *self._footer(),
        ]
        self.progress_view.follow(package.progress)
        self.progress_bar.description = "Building"
        #: the refresh; stops once the package is built (or failed) or the panel is closed
        self.ticker = self.every(refresh_s, self.refresh, name=f"package-{package.id}")

    def __repr__(self) -> str:
        return f"PackagePanel(package={self.package.location!r}, state={self.package.state!r})"

    def refresh(self) -> bool:
        """Redraw; returns False (stop) once the package has finished."""
        package = self.package
        state = package.state
        self.progress_view.pump()
        set_value(self.title, _title_html(f"Package {package.location}"))
        set_value(self.state_badge, badge(state, PACKAGE_COLOURS.get(state)))
        if package.generate_dockerfile:
            where = f"Dockerfile context: <code>{esc(package.context_dir)}</code> (Save writes it to a folder)"
        else:
            where = f"image: <code>{esc(package.location)}</code>" + (
                f" · id <code>{esc(package.image_id[:19])}</code>" if package.image_id else ""
            )
        set_value(self.location, where)
        set_value(self.log_view, _log_html(package.get_logs().splitlines()[-40:], "(no output yet)"))
        self.save_button.disabled = state != "Succeeded"
        if state == "Failed" and package.progress.error is not None:
            self.show_error(package.progress.error)
        return state == "Running"

    def _on_save(self, _: Any = None) -> None:
        folder = self.folder.value.strip()
        if not folder:
            from ..errors import InvalidArgumentError

            raise InvalidArgumentError(
                "type a folder to save the Dockerfile context into, then press Save."
            )
        saved = self.package.save(folder)
        self.show_note(
            f"Saved the Dockerfile and its context to {saved}: docker build -t {self.package.location} {saved}"
        )

    def close(self) -> None:
        """Stop the refresh and stop following the build, then close the widgets."""
        self.progress_view.stop()
        super().close()
