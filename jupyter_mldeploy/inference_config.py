"""``InferenceConfig``: which entry script serves a model, from which folder, in which environment.

Same arguments as Azure ML v1's ``InferenceConfig`` so Azure code ports. The
entry script is checked at once: a wrong path fails here, with the absolute
path that was looked at and the Python files that are there, not minutes later
in a deployment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EntryScriptError, InvalidArgumentError

if TYPE_CHECKING:  # pragma: no cover
    from .environment import Environment

#: How many of a folder's .py files an error message lists.
_LISTED_FILES = 12


def _python_files(folder: Path) -> str:
    """Describe the .py files of ``folder`` for an error message."""
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    found = sorted(p.name for p in folder.glob("*.py"))
    if not found:
        return f"{folder} has no .py files"
    more = f" and {len(found) - _LISTED_FILES} more" if len(found) > _LISTED_FILES else ""
    return f".py files in {folder}: {', '.join(found[:_LISTED_FILES])}{more}"


class InferenceConfig:
    """The entry script, its source folder and the environment of a deployment (Azure ML v1 names).

    Parameters
    ----------
    entry_script
        The script with ``init()`` and ``run(raw_data)``; relative paths are
        relative to ``source_directory`` when given, else to the current folder.
    runtime
        Accepted for Azure compatibility: only ``"python"`` (or None) is supported.
    conda_file
        A conda ``environment.yml`` (relative to ``source_directory`` when given)
        to build the environment from, as Azure does; not together with ``environment``.
    extra_docker_file_steps, enable_gpu, description, base_image, base_image_registry, cuda_version
        Accepted for Azure compatibility; ``base_image`` sets the image of the
        environment made from ``conda_file``, the others are kept and not used.
    source_directory
        The folder copied or mounted into the service (the entry script's folder when None).
    environment
        An :class:`~jupyter_mldeploy.environment.Environment`; None uses the
        current interpreter's packages for local deployments.

    Raises
    ------
    EntryScriptError
        The entry script (or source folder) does not exist; the message says where it looked.
    InvalidArgumentError
        Conflicting or unsupported arguments.

    Examples
    --------
    >>> from jupyter_mldeploy import InferenceConfig, Environment
    >>> config = InferenceConfig(entry_script="score.py", source_directory="src",   # doctest: +SKIP
    ...                          environment=Environment.get("sklearn-env"))
    >>> config.entry_script_path                                                     # doctest: +SKIP
    PosixPath('/home/me/project/src/score.py')
    """

    def __init__(
        self,
        entry_script: str | os.PathLike[str],
        runtime: str | None = None,
        conda_file: str | os.PathLike[str] | None = None,
        extra_docker_file_steps: str | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        enable_gpu: bool | None = None,
        description: str | None = None,
        base_image: str | None = None,
        base_image_registry: object = None,
        cuda_version: str | None = None,
        environment: Environment | None = None,
    ) -> None:
        if entry_script is None or str(entry_script).strip() == "":
            raise InvalidArgumentError(
                "InferenceConfig needs entry_script: the path of the script with init() and run()."
            )
        if runtime not in (None, "python", "Python"):
            raise InvalidArgumentError(
                f"runtime {runtime!r} is not supported: only Python entry scripts run here; "
                "leave runtime out (or use 'python')."
            )
        if conda_file is not None and environment is not None:
            raise InvalidArgumentError(
                "give either environment= or conda_file=, not both: the conda file would "
                "replace the environment's packages."
            )
        self.entry_script = str(entry_script)
        self.source_directory = None if source_directory is None else str(source_directory)
        self.runtime = runtime
        self.conda_file = None if conda_file is None else str(conda_file)
        self.extra_docker_file_steps = extra_docker_file_steps
        self.enable_gpu = enable_gpu
        self.description = description
        self.base_image = base_image
        self.base_image_registry = base_image_registry
        self.cuda_version = cuda_version
        self._source_path, self._entry_path = self._resolve()
        if environment is not None:
            from .environment import Environment

            if not isinstance(environment, Environment):
                raise InvalidArgumentError(
                    f"environment must be an Environment, not {type(environment).__name__}: use "
                    "Environment.get(name) or Environment.from_pip_requirements(name, path)."
                )
        self.environment = environment
        if conda_file is not None:
            self.environment = self._environment_from_conda_file()

    def _resolve(self) -> tuple[Path, Path]:
        """Return (absolute source folder, absolute entry script), or raise with where we looked."""
        script = Path(self.entry_script).expanduser()
        if self.source_directory is not None:
            source = Path(self.source_directory).expanduser().resolve()
            if not source.is_dir():
                raise EntryScriptError(
                    f"source_directory {self.source_directory!r} is not a folder (looked at {source}): "
                    f"fix the path; relative paths are relative to the current folder {Path.cwd()}."
                )
            path = script if script.is_absolute() else source / script
            path = path.resolve()
            if not path.is_file():
                raise EntryScriptError(
                    f"entry script {self.entry_script!r} not found: looked at {path} (relative to "
                    f"source_directory {source}); {_python_files(path.parent)}. Fix entry_script or "
                    "source_directory."
                )
            if not path.is_relative_to(source):
                raise EntryScriptError(
                    f"entry script {path} is outside source_directory {source}: only the source "
                    "folder goes into the service, so put the script inside it."
                )
            return source, path
        path = script if script.is_absolute() else Path.cwd() / script
        path = path.resolve()
        if not path.is_file():
            raise EntryScriptError(
                f"entry script {self.entry_script!r} not found: looked at {path} (relative to the "
                f"current folder {Path.cwd()}); {_python_files(path.parent)}. Fix the path, or pass "
                "source_directory= and a path relative to it."
            )
        return path.parent, path

    def _environment_from_conda_file(self) -> Environment:
        from .environment import Environment

        assert self.conda_file is not None
        conda = Path(self.conda_file).expanduser()
        if not conda.is_absolute() and self.source_directory is not None and (self._source_path / conda).is_file():
            conda = self._source_path / conda
        env = Environment.from_conda_specification("inference-environment", conda.resolve())
        env.docker.base_image = self.base_image
        return env

    @property
    def entry_script_path(self) -> Path:
        """The entry script's absolute path."""
        return self._entry_path

    @property
    def source_directory_path(self) -> Path:
        """The absolute source folder (the entry script's folder when none was given)."""
        return self._source_path

    @property
    def entry_script_relative(self) -> str:
        """The entry script relative to the source folder, with ``/`` separators."""
        return self._entry_path.relative_to(self._source_path).as_posix()

    def validate_configuration(self) -> None:
        """Check again that the entry script exists (it may have moved since construction)."""
        self._source_path, self._entry_path = self._resolve()

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as plain data (absolute paths included)."""
        return {
            "entry_script": self.entry_script,
            "source_directory": self.source_directory,
            "entry_script_path": str(self._entry_path),
            "source_directory_path": str(self._source_path),
            "entry_script_relative": self.entry_script_relative,
            "environment": None if self.environment is None else {
                "name": self.environment.name,
                "version": self.environment.version,
            },
            "conda_file": self.conda_file,
            "base_image": self.base_image,
            "description": self.description,
        }

    def __repr__(self) -> str:
        env = None if self.environment is None else (
            f"{self.environment.name}:{self.environment.version}" if self.environment.version
            else self.environment.name
        )
        return (
            f"InferenceConfig(entry_script={self.entry_script_relative!r}, "
            f"source_directory={str(self._source_path)!r}, environment={env!r})"
        )
