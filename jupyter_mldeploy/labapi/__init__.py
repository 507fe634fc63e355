"""The Jupyter server extension: the ``/mldeploy/api/`` REST routes the "ML Deploy" sidebar calls.

A face over the core, like the magics, the widgets and the CLI: each route parses the
request, calls one core function off the event loop and answers JSON
(``docs/jupyterlab.md`` lists the routes). Installing the package enables it
(``jupyter-config/server-config/jupyter_mldeploy.json`` goes to
``etc/jupyter/jupyter_server_config.d``); ``jupyter server extension list`` shows it.

At load, one :class:`~jupyter_mldeploy.labapi.backend.LabBackend` is made from the server's
config (:class:`~jupyter_mldeploy.labapi.config.MLDeployLabConfig`) and its ``root_dir``, and
kept in the tornado application's settings under ``"jupyter_mldeploy"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._version import __version__
from .backend import LabBackend
from .config import MLDeployLabConfig
from .handlers import NAMESPACE, SETTINGS_KEY, setup_handlers

__all__ = ["LabBackend", "MLDeployLabConfig", "load_server_extension"]


def load_server_extension(server_app: Any) -> LabBackend:
    """Make the backend from ``server_app``'s config and root, keep it in the web app's settings, add the routes."""
    backend = LabBackend(Path(server_app.root_dir), MLDeployLabConfig(config=server_app.config))
    web_app = server_app.web_app
    web_app.settings[SETTINGS_KEY] = backend
    setup_handlers(web_app)
    server_app.log.info(
        "jupyter_mldeploy %s: the ML Deploy API answers at %s%s/", __version__, web_app.settings["base_url"], NAMESPACE
    )
    return backend


#: What jupyter_server calls, by this name, for the module named in ``_jupyter_server_extension_points``.
_load_jupyter_server_extension = load_server_extension
