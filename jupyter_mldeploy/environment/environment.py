"""``Environment``: the packages, python version and variables a model's service runs with.

Same names as Azure ML v1 (``Environment.from_conda_specification``,
``env.python.conda_dependencies``, ``env.register()``, ``Environment.get``,
``save_to_directory``), stored locally: registered versions live in the
registry database, builds are local virtualenvs (:meth:`Environment.build_local`)
or wheelhouses for offline image builds (:meth:`Environment.download_wheels`).
What an environment holds and how it is read from and written to files is
:class:`~jupyter_mldeploy.environment._definition.EnvironmentDefinition`'s; this
module adds the registry (``register``, ``get``, ``list``) and the builds.
"""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .._names import validate_name
from ..errors import EnvironmentBuildError, InvalidArgumentError
from . import _store
from ._definition import EnvironmentDefinition

if TYPE_CHECKING:  # pragma: no cover
    from ._uv import LogFn
    from .image import EnvironmentImage
    from .local_build import LocalEnvironmentBuild
    from .wheelhouse import Wheelhouse


class Environment(EnvironmentDefinition):
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


def _pinned_minor(version: str | None) -> str | None:
    """``'3.10'`` / ``'3.10.4'`` -> ``'3.10'``; ranges -> None."""
    if not version or not version[0].isdigit():
        return None
    parts = version.rstrip(".*").split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else None
