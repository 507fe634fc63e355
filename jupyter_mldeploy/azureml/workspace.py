"""``Workspace``: Azure ML v1's workspace, meaning this machine's local registry (no login, no network).

Every way v1 code gets a workspace works: ``Workspace.from_config()``,
``Workspace.get(name, ...)``, ``Workspace(subscription_id, resource_group,
workspace_name)`` and ``Workspace.create(...)``. Names given are kept for display and
``write_config()``; they select nothing: all workspaces are the registry under
``MLDEPLOY_HOME``. Cloud-only parameters (``auth``, ``tags``, ``location``, ``sku``,
...) are accepted and noted once as ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._config import mldeploy_home
from ..api import Model
from ..deploy.service import Webservice
from ..environment import Environment
from ..errors import InvalidArgumentError
from ._notes import ignored

__all__ = ["Workspace"]

_CONFIG_NAMES = ("config.json",)


class Workspace:
    """The local registry, under the names v1 code gives its workspace.

    Parameters
    ----------
    subscription_id, resource_group, workspace_name
        Kept for display only (the default names are ``local``).
    **cloud_options
        ``auth``, ``tags``, ``location``, ``sku``, ...: accepted, noted once as ignored.

    Examples
    --------
    >>> ws = Workspace.from_config()            # doctest: +SKIP
    >>> ws.name, ws.location                    # doctest: +SKIP
    ('local', 'local')
    """

    def __init__(
        self,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        auth: Any = None,
        _location: str | None = None,
        _disable_service_check: bool = False,
        _workspace_id: str | None = None,
        sku: str | None = None,
        tags: dict[str, str] | None = None,
        _cloud: str | None = None,
        **cloud_options: Any,
    ) -> None:
        ignored("Workspace", {"auth": auth, "tags": tags, "sku": sku, "location": _location, **cloud_options},
                ["auth", "tags", "sku", "location", *cloud_options])
        self.subscription_id = subscription_id or "local"
        self.resource_group = resource_group or "local"
        self.name = workspace_name or "local"
        self.location = "local"

    # --- the v1 ways to get one ------------------------------------------------------------

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, auth: Any = None, _logger: Any = None,
                    _file_name: str | None = None) -> Workspace:
        """The workspace named by a v1 ``config.json`` (``path``, ``./.azureml/``, or up the tree), else ``local``.

        No file is needed: without one the names are ``local``. A file that is not JSON is
        a clear error naming it.
        """
        found = _find_config(Path(path) if path is not None else None, _file_name)
        names: dict[str, Any] = {}
        if found is not None:
            try:
                names = json.loads(found.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise InvalidArgumentError(
                    f"Workspace.from_config(): {found} is not a JSON workspace config ({err}); fix or remove it."
                ) from err
            if not isinstance(names, dict):
                raise InvalidArgumentError(
                    f"Workspace.from_config(): {found} holds {type(names).__name__}, not an object of names; fix it."
                )
        return cls(names.get("subscription_id"), names.get("resource_group"),
                   names.get("workspace_name") or names.get("workspaceName"), auth=auth)

    @classmethod
    def get(cls, name: str, auth: Any = None, subscription_id: str | None = None, resource_group: str | None = None,
            location: str | None = None, cloud: str | None = None, id: str | None = None) -> Workspace:
        """The workspace called ``name`` (the local registry)."""
        ignored("Workspace.get", {"cloud": cloud, "id": id}, ["cloud", "id"])
        return cls(subscription_id, resource_group, name, auth=auth, _location=location)

    @classmethod
    def create(cls, name: str, auth: Any = None, subscription_id: str | None = None,
               resource_group: str | None = None, **cloud_options: Any) -> Workspace:
        """``Workspace.create(...)``: the local registry always exists, so this is :meth:`get`."""
        ignored("Workspace.create", cloud_options, list(cloud_options))
        return cls(subscription_id, resource_group, name, auth=auth)

    @staticmethod
    def list(subscription_id: str | None = None, auth: Any = None, resource_group: str | None = None) -> dict[str, list[Workspace]]:
        """``{"local": [Workspace]}``: there is one workspace, this machine's registry."""
        return {"local": [Workspace(subscription_id, resource_group, "local", auth=auth)]}

    # --- what v1 code reads -----------------------------------------------------------------

    @property
    def home(self) -> Path:
        """The folder of the local registry and services (``MLDEPLOY_HOME``)."""
        return mldeploy_home()

    @property
    def models(self) -> dict[str, Model]:
        """The latest version of each registered model, by name (as ``ws.models``)."""
        latest: dict[str, Model] = {}
        for model in Model.list():
            if model.name not in latest or model.version > latest[model.name].version:
                latest[model.name] = model
        return latest

    @property
    def webservices(self) -> dict[str, Webservice]:
        """The deployed services, by name (as ``ws.webservices``)."""
        return {s.name: s for s in Webservice.list()}

    @property
    def environments(self) -> dict[str, Environment]:
        """The registered environments, by name (as ``ws.environments``)."""
        return Environment.list()

    def get_details(self) -> dict[str, Any]:
        """The names and where the registry is."""
        return {"name": self.name, "subscriptionId": self.subscription_id, "resourceGroup": self.resource_group,
                "location": self.location, "home": str(self.home)}

    def write_config(self, path: str | os.PathLike[str] | None = None, file_name: str | None = None) -> Path:
        """Write ``.azureml/config.json`` (under ``path``, default the current folder) for :meth:`from_config`."""
        folder = Path(path if path is not None else ".").resolve() / ".azureml"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (file_name or "config.json")
        target.write_text(json.dumps({"subscription_id": self.subscription_id, "resource_group": self.resource_group,
                                      "workspace_name": self.name}, indent=2) + "\n", encoding="utf-8")
        return target

    def delete(self, *args: Any, **kwargs: Any) -> None:
        """Refused: deleting the workspace would delete every local model and service."""
        raise InvalidArgumentError(
            "Workspace.delete() would remove every local model and service; delete them one by one "
            "(service.delete(), model.delete()) or remove the MLDEPLOY_HOME folder yourself."
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return (f"Workspace.create(name={self.name!r}, subscription_id={self.subscription_id!r}, "
                f"resource_group={self.resource_group!r})  # local registry at {self.home}")


def _find_config(path: Path | None, file_name: str | None) -> Path | None:
    names = (file_name,) if file_name else _CONFIG_NAMES
    if path is not None and path.is_file():
        return path
    start = (path or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        for name in names:
            for candidate in (folder / ".azureml" / name, folder / name):
                if candidate.is_file():
                    return candidate
        if path is not None:
            break  # a given folder is searched, not its parents
    if path is not None:
        raise InvalidArgumentError(
            f"Workspace.from_config(path={str(path)!r}): no config.json there; give the file or its folder, "
            "or call Workspace.from_config() with no path to use the local registry."
        )
    return None
