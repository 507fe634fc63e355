"""Environments: what a model's service installs, registered, built locally or as wheelhouses.

Public names: :class:`Environment`, :class:`CondaDependencies`, and the build
results :class:`LocalEnvironmentBuild` and :class:`Wheelhouse`. Importing this
package is light (no uv run, no network): builds start only when asked.

Examples
--------
>>> from jupyter_mldeploy.environment import Environment
>>> env = Environment.from_pip_requirements("web", "requirements.txt")  # doctest: +SKIP
>>> env.build_local().python                                           # doctest: +SKIP
"""

from __future__ import annotations

from ._definition import DockerSection, PythonSection
from .conda_dependencies import CondaDependencies
from .environment import Environment
from .local_build import LocalEnvironmentBuild
from .spec import EnvironmentSpec
from .wheelhouse import Wheelhouse

__all__ = [
    "CondaDependencies",
    "DockerSection",
    "Environment",
    "EnvironmentSpec",
    "LocalEnvironmentBuild",
    "PythonSection",
    "Wheelhouse",
]
