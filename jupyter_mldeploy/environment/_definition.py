"""What an environment is, and its files: packages, python, variables and image settings, read and written.

:class:`EnvironmentDefinition` is the definition half of
:class:`~jupyter_mldeploy.environment.Environment`: its sections (``env.python``,
``env.docker``) and variables, the constructors from a requirements.txt or a conda
``environment.yml``, Azure ML's JSON shape (``to_dict``/``from_dict``) and folder
(``save_to_directory``/``load_from_directory``), and the canonical spec of what it
installs. Registering and building are ``Environment``'s.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._names import validate_name
from ..errors import EnvironmentSpecError, InvalidArgumentError, TargetExistsError
from ._requirements import PipLines, parse_pip_lines, read_requirements_file
from .conda_dependencies import CondaDependencies, host_python_version
from .spec import EnvironmentSpec, resolve_spec

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self  # typing.Self needs Python 3.11

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


class EnvironmentDefinition:
    """An environment's definition and its files; use :class:`~jupyter_mldeploy.environment.Environment`.

    Parameters
    ----------
    name
        1-255 letters, digits, ``-``, ``_`` or ``.``.
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

    @classmethod
    def from_pip_requirements(cls, name: str, file_path: str | Path, pip_version: str | None = None) -> Self:
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
        env = cls(name)
        deps = CondaDependencies()
        deps._pip = _pip_lines(read_requirements_file(file_path))  # errors name the file and line
        env.python.conda_dependencies = deps
        return env

    @classmethod
    def from_conda_specification(cls, name: str, file_path: str | Path) -> Self:
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
        env = cls(name)
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
    def from_dict(cls, data: dict[str, Any]) -> Self:
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

    @classmethod
    def load_from_directory(cls, path: str | Path) -> Self:
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
        env = cls.from_dict(data)
        if conda_file:
            env.python.conda_dependencies = CondaDependencies(conda_dependencies_file_path=folder / conda_file)
        return env

    # --- misc ------------------------------------------------------------------------

    def clone(self, new_name: str) -> Self:
        """Return an unregistered copy under ``new_name``."""
        data = self.to_dict()
        data["name"] = new_name
        data["version"] = None
        return type(self).from_dict(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EnvironmentDefinition):
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


def _pip_lines(parsed: PipLines) -> list[str]:
    """Turn parsed pip lines back into a self-contained ``pip:`` list (options first)."""
    options = [f"--index-url {parsed.index_url}"] if parsed.index_url else []
    options += [f"--extra-index-url {url}" for url in parsed.extra_index_urls]
    options += [f"--find-links {link}" for link in parsed.find_links]
    options += ["--pre"] if parsed.pre else []
    return [*options, *parsed.requirements]
