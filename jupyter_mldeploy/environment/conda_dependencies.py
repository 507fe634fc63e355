"""``CondaDependencies``: the Azure ML v1 way to list an environment's packages.

The object is a conda ``environment.yml`` in memory: a name, channels, conda
packages (with ``python=X.Y`` among them) and a ``pip:`` section of pip
packages and pip options. It keeps Azure ML's method names so Azure code ports
as it is; :meth:`Environment.spec` later turns it into pip requirements (see
``_conda_map`` for how conda names map to PyPI).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import CondaOnlyPackageError, EnvironmentSpecError
from ._conda_map import parse_conda_spec, pip_equivalent
from ._requirements import read_spec_file

DEFAULT_CHANNELS: tuple[str, ...] = ("conda-forge",)


def host_python_version() -> str:
    """Return this interpreter's ``major.minor`` (the default python of new environments)."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _pip_name(spec: str) -> str | None:
    """Return the canonical name of a pip requirement line, or None for options and odd lines."""
    if spec.lstrip().startswith("-"):
        return None
    try:
        return canonicalize_name(Requirement(spec).name)
    except InvalidRequirement:
        return None


class CondaDependencies:
    """The packages of an environment, as a conda specification (Azure ML v1 compatible).

    Parameters
    ----------
    conda_dependencies_file_path
        A conda ``environment.yml`` to load. Without it the object starts with
        this interpreter's ``python=X.Y`` and no packages.

    Examples
    --------
    >>> from jupyter_mldeploy import CondaDependencies
    >>> deps = CondaDependencies.create(conda_packages=["numpy=1.26"], pip_packages=["requests"],
    ...                                 python_version="3.11")
    >>> deps.add_pip_package("pyyaml>=6")
    >>> sorted(deps.pip_packages)
    ['pyyaml>=6', 'requests']
    >>> deps.get_python_version()
    '3.11'
    """

    def __init__(self, conda_dependencies_file_path: str | Path | None = None, _underlying_structure: dict[str, Any] | None = None) -> None:
        self._base_dir: Path | None = None
        if conda_dependencies_file_path is not None:
            path = Path(conda_dependencies_file_path).expanduser().resolve()
            data = _load_yaml(path)
            self._base_dir = path.parent
        elif _underlying_structure is not None:
            data = copy.deepcopy(_underlying_structure)
        else:
            data = {
                "name": "project_environment",
                "channels": list(DEFAULT_CHANNELS),
                "dependencies": [f"python={host_python_version()}"],
            }
        where = str(conda_dependencies_file_path or "conda specification")
        self._name: str | None = data.get("name")
        channels = data.get("channels") or []
        deps = data.get("dependencies") or []
        if not isinstance(channels, list) or not isinstance(deps, list):
            raise EnvironmentSpecError(
                f"{where}: 'channels' and 'dependencies' must be lists, as in a conda environment.yml."
            )
        self._channels: list[str] = [str(c) for c in channels]
        self._conda: list[str] = []
        self._pip: list[str] = []
        for item in deps:
            if isinstance(item, dict):
                pip = item.get("pip")
                if set(item) != {"pip"} or not isinstance(pip, list):
                    raise EnvironmentSpecError(
                        f"{where}: a dependencies entry that is a mapping must be "
                        f"{{'pip': [...]}}, found {item!r}: fix the conda file."
                    )
                self._pip.extend(str(p) for p in pip)
            elif isinstance(item, (str, int, float)):
                self._conda.append(str(item))
            else:
                raise EnvironmentSpecError(f"{where}: cannot read the dependencies entry {item!r}.")

    # --- Azure ML v1 API ----------------------------------------------------------------

    @staticmethod
    def create(
        pip_indexurl: str | None = None,
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
    ) -> CondaDependencies:
        """Create dependencies from package lists (``pin_sdk_version`` is accepted and ignored).

        Examples
        --------
        >>> deps = CondaDependencies.create(pip_packages=["scikit-learn"], python_version="3.11")
        >>> deps.pip_packages
        ['scikit-learn']
        """
        deps = CondaDependencies()
        deps.set_python_version(python_version or host_python_version())
        for spec in conda_packages or []:
            deps.add_conda_package(spec)
        for spec in pip_packages or []:
            deps.add_pip_package(spec)
        if pip_indexurl:
            deps.set_pip_option(f"--extra-index-url {pip_indexurl}")
        return deps

    @property
    def conda_packages(self) -> list[str]:
        """The conda package specs, without ``python``."""
        return [c for c in self._conda if parse_conda_spec(c).name != "python"]

    @property
    def pip_packages(self) -> list[str]:
        """The pip requirements (option lines such as ``--extra-index-url`` excluded)."""
        return [p for p in self._pip if not p.lstrip().startswith("-")]

    @property
    def pip_options(self) -> list[str]:
        """The pip option lines of the ``pip:`` section (``--extra-index-url URL``, ...)."""
        return [p for p in self._pip if p.lstrip().startswith("-")]

    @property
    def conda_channels(self) -> list[str]:
        """The conda channels (kept for round trips; packages come from PyPI)."""
        return list(self._channels)

    def add_conda_package(self, conda_package: str) -> None:
        """Add a conda package, replacing one of the same name.

        Raises
        ------
        CondaOnlyPackageError
            At once when the package has no PyPI equivalent (``cudatoolkit``, ``r-base``, ...).
        """
        found = pip_equivalent(conda_package)
        if found.conda_only_hint:
            raise CondaOnlyPackageError(
                f"the conda package {conda_package!r} has no PyPI equivalent ({found.conda_only_hint}). "
                "Environments are built from PyPI: drop it or add the PyPI package with add_pip_package()."
            )
        name = found.conda.name
        self._conda = [c for c in self._conda if parse_conda_spec(c).name != name]
        self._conda.append(conda_package)

    def remove_conda_package(self, conda_package: str) -> None:
        """Remove the conda package of that name (any version)."""
        name = parse_conda_spec(conda_package).name
        self._conda = [c for c in self._conda if parse_conda_spec(c).name != name]

    def add_pip_package(self, pip_package: str) -> None:
        """Add a pip requirement (``name``, ``name==1.2``), replacing one of the same name.

        Raises
        ------
        EnvironmentSpecError
            When the text is not a valid pip requirement.
        """
        text = str(pip_package).strip()
        if text.startswith("-"):
            self.set_pip_option(text)
            return
        name = _pip_name(text)
        if name is None:
            raise EnvironmentSpecError(
                f"{text!r} is not a valid pip requirement: write 'name', 'name==1.2' or "
                "'name @ file:///path/to/package.whl'."
            )
        self._pip = [p for p in self._pip if _pip_name(p) != name]
        self._pip.append(text)

    def remove_pip_package(self, pip_package: str) -> None:
        """Remove the pip package of that name (any version)."""
        name = _pip_name(pip_package) or canonicalize_name(pip_package)
        self._pip = [p for p in self._pip if _pip_name(p) != name]

    def set_pip_option(self, pip_option: str) -> None:
        """Add a pip option line such as ``--extra-index-url https://my.index/simple``."""
        option = str(pip_option).strip()
        if option not in self._pip:
            self._pip.insert(len(self.pip_options), option)

    def remove_pip_option(self, pip_option: str) -> None:
        """Remove a pip option line."""
        self._pip = [p for p in self._pip if p != str(pip_option).strip()]

    def add_channel(self, channel: str) -> None:
        """Add a conda channel (kept in the file; packages are still installed from PyPI)."""
        if channel not in self._channels:
            self._channels.append(channel)

    def remove_channel(self, channel: str) -> None:
        """Remove a conda channel."""
        self._channels = [c for c in self._channels if c != channel]

    def get_python_version(self) -> str | None:
        """Return the python version or range (``'3.11'``, ``'>=3.10'``), or None if not set."""
        for spec in self._conda:
            package = parse_conda_spec(spec)
            if package.name == "python":
                return package.version or None
        return None

    def set_python_version(self, version: str) -> None:
        """Set the python version (``'3.11'``, ``'3.11.4'`` or a range like ``'>=3.10'``)."""
        version = str(version).strip()
        if not version or not version[0].isdigit() and version[0] not in "<>=!~":
            raise EnvironmentSpecError(
                f"python version {version!r} is not valid: write it like '3.11' or '>=3.10'."
            )
        self._conda = [c for c in self._conda if parse_conda_spec(c).name != "python"]
        spec = f"python={version}" if version[0].isdigit() else f"python{version}"
        self._conda.insert(0, spec)

    def as_dict(self) -> dict[str, Any]:
        """Return the conda ``environment.yml`` structure."""
        deps: list[Any] = list(self._conda)
        if self._pip:
            deps.append({"pip": list(self._pip)})
        data: dict[str, Any] = {}
        if self._name:
            data["name"] = self._name
        data["channels"] = list(self._channels)
        data["dependencies"] = deps
        return data

    def serialize_to_string(self) -> str:
        """Return the conda ``environment.yml`` text."""
        return yaml.safe_dump(self.as_dict(), sort_keys=False, default_flow_style=False)

    def save(self, path: str | Path) -> str:
        """Write the conda ``environment.yml`` to ``path`` and return the path as a string."""
        target = Path(path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.serialize_to_string(), encoding="utf-8")
        return str(target)

    save_to_file = save

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CondaDependencies) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return (
            f"CondaDependencies(python={self.get_python_version()!r}, "
            f"conda_packages={self.conda_packages!r}, pip_packages={self.pip_packages!r})"
        )


def _load_yaml(path: Path) -> dict[str, Any]:
    """Read a conda YAML file into a dict, with clear errors."""
    text = read_spec_file(path, "conda file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise EnvironmentSpecError(
            f"the conda file {path} is not valid YAML ({err}): fix it so that it has "
            "'dependencies:' with a list of packages."
        ) from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EnvironmentSpecError(
            f"the conda file {path} must be a YAML mapping with 'dependencies:', found {type(data).__name__}."
        )
    return data
