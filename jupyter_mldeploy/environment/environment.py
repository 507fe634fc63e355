"""``Environment``: the packages, python version and variables a model's service runs with.

Same names as Azure ML v1 (``Environment.from_conda_specification``,
``env.python.conda_dependencies``, ``env.register()``, ``Environment.get``,
``save_to_directory``), stored locally: registered versions live in the
registry database, builds are local virtualenvs (:meth:`Environment.build_local`)
or wheelhouses for offline image builds (:meth:`Environment.download_wheels`).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._names import validate_name
from ..errors import (
    EnvironmentBuildError,
    EnvironmentSpecError,
    InvalidArgumentError,
    TargetExistsError,
)
from . import _store
from ._requirements import PipLines, parse_pip_lines, read_requirements_file
from .conda_dependencies import CondaDependencies, host_python_version
from .spec import EnvironmentSpec, resolve_spec

if TYPE_CHECKING:  # pragma: no cover
    from ._uv import LogFn
    from .image import EnvironmentImage
    from .local_build import LocalEnvironmentBuild
    from .wheelhouse import Wheelhouse

#: File names Azure ML's ``save_to_directory`` writes (and ``load_from_directory`` reads).
DEFINITION_FILE = "azureml_environment.json"
CONDA_FILE = "conda_dependencies.yml"


@dataclass
class PythonSection:
    """``env.python``: the packages (``conda_dependencies``) and how Python is provided.

    ``user_managed_dependencies=True`` with ``interpreter_path`` makes
    :meth:`Environment.build_local` use that interpreter as it is (nothing installed).
    """

    conda_dependencies: CondaDependencies = field(default_factory=CondaDependencies)
    user_managed_dependencies: bool = False
    interpreter_path: str | None = None
    conda_dependencies_file: str | None = None
    base_conda_environment: str | None = None


@dataclass
class DockerSection:
    """``env.docker``: image settings for Docker deployments (``base_image=None``: the configured default)."""

    enabled: bool = False
    base_image: str | None = None
    base_dockerfile: str | None = None
    shm_size: str | None = None
    arguments: list[str] = field(default_factory=list)


class Environment:
    """A deployable Python environment (Azure ML v1 compatible).

    Parameters
    ----------
    name
        1-255 letters, digits, ``-``, ``_`` or ``.``.

    Examples
    --------
    >>> from jupyter_mldeploy import Environment, CondaDependencies
    >>> env = Environment("sklearn-env")
    >>> env.python.conda_dependencies = CondaDependencies.create(
    ...     pip_packages=["scikit-learn", "pandas"], python_version="3.11")
    >>> env.environment_variables["OMP_NUM_THREADS"] = "1"
    >>> env = env.register()                      # doctest: +SKIP
    >>> env.version                               # doctest: +SKIP
    1
    >>> build = env.build_local()                 # doctest: +SKIP
    >>> build.python                              # doctest: +SKIP
    PosixPath('/home/me/.mldeploy/envs/4f1c.../bin/python')
    """

    def __init__(self, name: str) -> None:
        self._name = validate_name(name, "environment")
        self.version: int | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self.inferencing_stack_version: str | None = None
        self.created_time: str | None = None

    # --- construction ----------------------------------------------------------------

    @property
    def name(self) -> str:
        """The environment's name."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = validate_name(value, "environment")

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | Path, pip_version: str | None = None) -> Environment:
        """Create an environment from a requirements.txt (python: this interpreter's ``X.Y``).

        ``pip_version`` is accepted for Azure compatibility and ignored (uv installs).

        Raises
        ------
        EnvironmentSpecError
            The file is missing or a line cannot be understood (the message names it).

        Examples
        --------
        >>> env = Environment.from_pip_requirements("web", "requirements.txt")   # doctest: +SKIP
        """
        env = Environment(name)
        deps = CondaDependencies()
        deps._pip = _pip_lines(read_requirements_file(file_path))  # errors name the file and line
        env.python.conda_dependencies = deps
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str | Path) -> Environment:
        """Create an environment from a conda ``environment.yml``.

        The python version, conda packages and ``pip:`` section are read;
        conda packages become pip requirements (same or known PyPI names).

        Raises
        ------
        CondaOnlyPackageError
            Names every conda package that has no PyPI equivalent.
        EnvironmentSpecError
            The file is missing or cannot be read.

        Examples
        --------
        >>> env = Environment.from_conda_specification("sk", "environment.yml")   # doctest: +SKIP
        """
        env = Environment(name)
        deps = CondaDependencies(conda_dependencies_file_path=file_path)
        if deps._pip:  # expand -r includes and make package paths absolute: the definition stands alone
            where = f"pip section of {file_path}"
            deps._pip = _pip_lines(parse_pip_lines(deps._pip, base_dir=deps._base_dir, where=where))
        env.python.conda_dependencies = deps
        env.python.conda_dependencies_file = str(file_path)
        resolve_spec(env.python.conda_dependencies)  # validate now (conda-only packages, bad specs)
        return env

    # --- what it installs ------------------------------------------------------------

    @property
    def spec(self) -> EnvironmentSpec:
        """The canonical spec of what this environment installs (computed now)."""
        deps = self.python.conda_dependencies
        if not isinstance(deps, CondaDependencies):
            raise InvalidArgumentError(
                f"env.python.conda_dependencies must be a CondaDependencies, not {type(deps).__name__}: "
                "assign CondaDependencies.create(...) or CondaDependencies(path)."
            )
        return resolve_spec(deps)

    @property
    def spec_hash(self) -> str:
        """sha256 of the canonical spec: the same for the same packages in any order."""
        return self.spec.spec_hash

    def get_pip_requirements(self) -> list[str]:
        """The pip requirements this environment installs (conda packages translated)."""
        return list(self.spec.requirements)

    # --- serialisation ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the definition in Azure ML's JSON shape (conda dependencies inline)."""
        return {
            "name": self.name,
            "version": None if self.version is None else str(self.version),
            "environmentVariables": dict(self.environment_variables),
            "python": {
                "userManagedDependencies": self.python.user_managed_dependencies,
                "interpreterPath": self.python.interpreter_path or "python",
                "condaDependenciesFile": None,
                "baseCondaEnvironment": self.python.base_conda_environment,
                "condaDependencies": self.python.conda_dependencies.as_dict(),
            },
            "docker": {
                "enabled": self.docker.enabled,
                "baseImage": self.docker.base_image,
                "baseDockerfile": self.docker.base_dockerfile,
                "shmSize": self.docker.shm_size,
                "arguments": list(self.docker.arguments),
            },
            "inferencingStackVersion": self.inferencing_stack_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Environment:
        """Rebuild an environment from :meth:`to_dict` output (or Azure's JSON)."""
        try:
            env = cls(data["name"])
            version = data.get("version")
            env.version = int(str(version)) if str(version).isdigit() else None  # "Autosave_..." -> None
            env.environment_variables = {str(k): str(v) for k, v in (data.get("environmentVariables") or {}).items()}
            python = data.get("python") or {}
            conda = python.get("condaDependencies")
            env.python.conda_dependencies = (
                CondaDependencies(_underlying_structure=conda) if conda else CondaDependencies()
            )
            env.python.user_managed_dependencies = bool(python.get("userManagedDependencies", False))
            interpreter = python.get("interpreterPath")
            env.python.interpreter_path = None if interpreter in (None, "python") else interpreter
            env.python.base_conda_environment = python.get("baseCondaEnvironment")
            docker = data.get("docker") or {}
            env.docker.enabled = bool(docker.get("enabled", False))
            env.docker.base_image = docker.get("baseImage")
            env.docker.base_dockerfile = docker.get("baseDockerfile")
            env.docker.shm_size = docker.get("shmSize")
            env.docker.arguments = list(docker.get("arguments") or [])
            env.inferencing_stack_version = data.get("inferencingStackVersion")
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise EnvironmentSpecError(
                f"cannot read the environment definition ({type(err).__name__}: {err}): it needs at "
                "least 'name' and 'python.condaDependencies', as save_to_directory() writes."
            ) from err
        return env

    def _definition_hash(self) -> str:
        data = self.to_dict()
        data.pop("name")
        data.pop("version")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def save_to_directory(self, path: str | Path, overwrite: bool = False) -> None:
        """Write ``azureml_environment.json`` and ``conda_dependencies.yml`` into ``path``.

        Raises
        ------
        TargetExistsError
            The files exist and ``overwrite`` is False.

        Examples
        --------
        >>> env.save_to_directory("env-def", overwrite=True)      # doctest: +SKIP
        >>> Environment.load_from_directory("env-def").name       # doctest: +SKIP
        'sklearn-env'
        """
        folder = Path(path).expanduser()
        targets = [folder / DEFINITION_FILE, folder / CONDA_FILE]
        existing = [str(t) for t in targets if t.exists()]
        if existing and not overwrite:
            raise TargetExistsError(
                f"{', '.join(existing)} exist already: pass overwrite=True or pick another folder."
            )
        folder.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        data["python"].pop("condaDependencies")
        data["python"]["condaDependenciesFile"] = CONDA_FILE
        (folder / DEFINITION_FILE).write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")
        self.python.conda_dependencies.save(folder / CONDA_FILE)

    @staticmethod
    def load_from_directory(path: str | Path) -> Environment:
        """Load an environment that :meth:`save_to_directory` (or Azure ML) wrote.

        Raises
        ------
        EnvironmentSpecError
            The folder lacks ``azureml_environment.json`` or it cannot be read.
        """
        folder = Path(path).expanduser().resolve()
        definition = folder / DEFINITION_FILE
        try:
            data = json.loads(definition.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise EnvironmentSpecError(
                f"{definition} does not exist: point at a folder written by env.save_to_directory()."
            ) from err
        except (OSError, ValueError) as err:
            raise EnvironmentSpecError(f"cannot read {definition}: {err}.") from err
        conda_file = (data.get("python") or {}).get("condaDependenciesFile")
        if not conda_file and (folder / CONDA_FILE).is_file() and not (data.get("python") or {}).get(
            "condaDependencies"
        ):
            conda_file = CONDA_FILE  # Azure writes it beside the JSON without naming it
        env = Environment.from_dict(data)
        if conda_file:
            env.python.conda_dependencies = CondaDependencies(conda_dependencies_file_path=folder / conda_file)
        return env

    # --- registry --------------------------------------------------------------------

    def register(self, workspace: object = None) -> Environment:
        """Register this definition as the next version of its name and return it.

        Versions count 1, 2, 3 per name. Registering the same definition as
        the latest version again (same packages, python, variables and image
        settings) returns that version instead of adding a new one.
        ``workspace`` is accepted for Azure compatibility and ignored.

        Raises
        ------
        CondaOnlyPackageError, EnvironmentSpecError
            The packages cannot be turned into a pip environment.

        Examples
        --------
        >>> env.register().version                     # doctest: +SKIP
        1
        """
        spec_hash = self.spec_hash
        definition = self.to_dict()
        definition["version"] = None
        stored, _created = _store.register(self.name, definition, self._definition_hash(), spec_hash)
        self.version = stored.version
        self.created_time = stored.created_time
        return self

    @staticmethod
    def _from_stored(stored: _store.StoredEnvironment) -> Environment:
        env = Environment.from_dict(stored.definition)
        env.version = stored.version
        env.created_time = stored.created_time
        return env

    @staticmethod
    def get(workspace: object = None, name: str | None = None, version: int | str | None = None) -> Environment:
        """Return a registered environment (the latest version when ``version`` is None).

        Both ``Environment.get("name")`` and Azure's ``Environment.get(ws, "name", "2")`` work.

        Raises
        ------
        EnvironmentNotFoundError
            No such name or version; the message lists what exists.

        Examples
        --------
        >>> Environment.get("sklearn-env", version=1)        # doctest: +SKIP
        """
        if name is None:
            if not isinstance(workspace, str):
                raise InvalidArgumentError(
                    "Environment.get needs a name: Environment.get('my-env') or Environment.get(name='my-env')."
                )
            name = workspace
        validate_name(name, "environment")
        if version is not None:
            try:
                version = int(version)
            except (TypeError, ValueError) as err:
                raise InvalidArgumentError(
                    f"environment version {version!r} is not a number: versions are 1, 2, 3, ..."
                ) from err
        return Environment._from_stored(_store.get(name, version))

    @staticmethod
    def list(workspace: object = None) -> dict[str, Environment]:
        """Return the latest version of every registered environment, by name (as Azure does)."""
        return {stored.name: Environment._from_stored(stored) for stored in _store.list_latest()}

    @staticmethod
    def list_versions(name: str) -> builtins.list[Environment]:
        """Return every registered version of ``name``, oldest first."""
        return [Environment._from_stored(s) for s in _store.list_versions(validate_name(name, "environment"))]

    # --- builds ----------------------------------------------------------------------

    def build_local(
        self,
        workspace: object = None,
        platform: str | None = None,
        use_docker: bool = False,
        *,
        useDocker: bool | None = None,
        log: LogFn | None = None,
    ) -> LocalEnvironmentBuild | EnvironmentImage:
        """Build this environment as a local virtualenv (reused at once when already built).

        The virtualenv holds the environment's packages and the scoring runtime
        (jupyter-mldeploy and what its server imports), resolved together.

        Parameters
        ----------
        workspace, platform
            Accepted for Azure compatibility and ignored.
        use_docker
            Build the environment's Docker image instead (base image ``MLDEPLOY_BASE_IMAGE``
            + the environment's packages + the scoring runtime, built offline from a host-side
            wheelhouse); returns an ``EnvironmentImage`` with its ``tag``.
        log
            Called with each build output line (e.g. ``print``).

        Raises
        ------
        EnvironmentBuildError
            No local Python matches, or the install failed (the message has uv's output).

        Examples
        --------
        >>> build = env.build_local(log=print)        # doctest: +SKIP
        >>> build.reused, build.python                # doctest: +SKIP
        (False, PosixPath('/home/me/.mldeploy/envs/4f1c.../bin/python'))
        """
        if use_docker or useDocker:
            from .image import build_environment_image

            return build_environment_image(self, log=log)
        if self.python.user_managed_dependencies:
            return self._user_managed_build()
        from .local_build import build_local

        return build_local(self.spec, log=log)

    def _user_managed_build(self) -> LocalEnvironmentBuild:
        from .local_build import LocalEnvironmentBuild

        interpreter = shutil.which(self.python.interpreter_path or "python3")
        if interpreter is None:
            raise EnvironmentBuildError(
                f"user_managed_dependencies is set but the interpreter {self.python.interpreter_path!r} "
                "cannot be found: set env.python.interpreter_path to an existing python executable."
            )
        python = Path(interpreter)
        return LocalEnvironmentBuild(
            path=python.parent.parent, python=python, spec_hash="user-managed",
            build_key="user-managed", reused=True, seconds=0.0, python_version="",
        )

    def download_wheels(
        self,
        dest: str | Path,
        python_version: str | None = None,
        platform: str = "linux/amd64",
        *,
        include_runtime_wheel: bool = True,
        log: LogFn | None = None,
    ) -> Wheelhouse:
        """Resolve and download every wheel this environment needs for another machine.

        Writes the wheels and a pinned, hash-checked ``requirements.txt`` into
        ``dest`` so that a machine with no index installs with
        ``pip install --no-index --find-links DEST -r DEST/requirements.txt``.

        Parameters
        ----------
        dest
            Folder for the wheels (created; wheels already there are reused).
        python_version
            Target interpreter ``X.Y``; default: the environment's version when it names one, else 3.11.
        platform
            ``linux/amd64`` / ``linux/arm64`` (Docker style), ``manylinux_2_17_x86_64``
            (wheel tag) or ``x86_64-manylinux_2_28`` (uv style).
        include_runtime_wheel
            Also put the jupyter-mldeploy wheel in ``dest`` and ``requirements.txt``
            (its dependencies are always included).
        log
            Called with each output line.

        Raises
        ------
        WheelDownloadError
            Resolution failed, or a package has no wheel for the target (named).

        Examples
        --------
        >>> house = env.download_wheels("wheels", python_version="3.11", platform="linux/amd64")  # doctest: +SKIP
        >>> house.requirements_file                                                            # doctest: +SKIP
        PosixPath('wheels/requirements.txt')
        """
        from .wheelhouse import download_wheels

        spec = self.spec
        if python_version is None:
            python_version = _pinned_minor(self.python.conda_dependencies.get_python_version()) or "3.11"
        return download_wheels(
            spec, dest, python_version=python_version, platform=platform,
            include_runtime_wheel=include_runtime_wheel, log=log,
        )

    # --- misc ------------------------------------------------------------------------

    def clone(self, new_name: str) -> Environment:
        """Return an unregistered copy under ``new_name``."""
        data = self.to_dict()
        data["name"] = new_name
        data["version"] = None
        return Environment.from_dict(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Environment):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        deps = self.python.conda_dependencies
        return (
            f"Environment(name={self.name!r}, version={self.version!r}, "
            f"python={deps.get_python_version() or host_python_version()!r}, "
            f"conda_packages={deps.conda_packages!r}, pip_packages={deps.pip_packages!r})"
        )


def _pinned_minor(version: str | None) -> str | None:
    """``'3.10'`` / ``'3.10.4'`` -> ``'3.10'``; ranges -> None."""
    if not version or not version[0].isdigit():
        return None
    parts = version.rstrip(".*").split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else None


def _pip_lines(parsed: PipLines) -> list[str]:
    """Turn parsed pip lines back into a self-contained ``pip:`` list (options first)."""
    options = [f"--index-url {parsed.index_url}"] if parsed.index_url else []
    options += [f"--extra-index-url {url}" for url in parsed.extra_index_urls]
    options += [f"--find-links {link}" for link in parsed.find_links]
    options += ["--pre"] if parsed.pre else []
    return [*options, *parsed.requirements]
