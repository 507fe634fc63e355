"""The canonical, hashable form of what an environment installs.

:func:`resolve_spec` turns :class:`CondaDependencies` into an
:class:`EnvironmentSpec`: a python version range, sorted normalised pip
requirements and the pip options that change what is installed. Its
:attr:`~EnvironmentSpec.spec_hash` is the same for the same packages written in
another order, case or spacing, and ignores the environment's name and
variables (they do not change the installed files).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from ..errors import CondaOnlyPackageError
from ._conda_map import conda_version_to_pip, pip_equivalent
from ._requirements import normalize_requirement, parse_pip_lines
from .conda_dependencies import CondaDependencies, host_python_version

#: Bump when the canonical form changes, so old hashes are not reused by mistake.
SPEC_FORMAT = 1

#: Azure ML serving packages the scoring runtime replaces: left out, with a note.
#: (Entry scripts' ``azureml.*`` imports are served by ``scoring.azureml_shim``.)
REPLACED_BY_RUNTIME: dict[str, str] = {
    "azureml-defaults": "the jupyter-mldeploy scoring runtime replaces Azure's serving stack",
    "azureml-inference-server-http": "the jupyter-mldeploy scoring server replaces it",
    "azureml-contrib-services": "AMLRequest/AMLResponse/rawhttp come from jupyter-mldeploy's azureml shim",
}


@dataclass(frozen=True)
class EnvironmentSpec:
    """What an environment installs, in canonical form.

    Attributes
    ----------
    python
        PEP 440 range the interpreter must satisfy (``'==3.11.*'``).
    requirements
        Sorted, de-duplicated, normalised PEP 508 requirements.
    index_url, extra_index_urls, find_links, pre
        pip options that change what is installed.
    notes
        What the conda translation skipped or renamed (not part of the hash).
    conda_origins
        ``(pip name, conda spec)`` pairs for requirements that came from conda packages.
    """

    python: str
    requirements: tuple[str, ...]
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    pre: bool = False
    notes: tuple[str, ...] = field(default=(), compare=False)
    conda_origins: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def python_specifier(self) -> SpecifierSet:
        """The python range as a :class:`~packaging.specifiers.SpecifierSet`."""
        return SpecifierSet(self.python)

    def canonical(self) -> dict[str, Any]:
        """Return the JSON-able canonical form that :attr:`spec_hash` digests."""
        return {
            "format": SPEC_FORMAT,
            "python": self.python,
            "requirements": list(self.requirements),
            "local_files": _local_file_digests(self.requirements),
            "index_url": self.index_url,
            "extra_index_urls": list(self.extra_index_urls),
            "find_links": list(self.find_links),
            "pre": self.pre,
        }

    @property
    def spec_hash(self) -> str:
        """sha256 (hex) of :meth:`canonical`: equal for equal package sets in any order."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def uv_options(self) -> list[str]:
        """Return the uv command-line options for the pip options of this spec."""
        args: list[str] = []
        if self.index_url:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        if self.pre:
            args.append("--prerelease=allow")
        return args

    def conda_origin(self, pip_name: str) -> str | None:
        """Return the conda spec a requirement came from, or None if it was a pip package."""
        name = canonicalize_name(pip_name)
        return next((spec for pip, spec in self.conda_origins if pip == name), None)


def _local_file_digests(requirements: tuple[str, ...]) -> dict[str, str]:
    """sha256 of local package files named by ``file://`` URLs, so a rebuilt wheel changes the hash."""
    digests: dict[str, str] = {}
    for text in requirements:
        url = Requirement(text).url
        if not url or not url.startswith("file:"):
            continue
        path = Path(unquote(urlparse(url).path))
        if path.is_file():
            digests[url] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            digests[url] = "missing"
    return digests


def python_range(version: str | None) -> str:
    """Turn a conda-style python version (``'3.10'``, ``'>=3.9'``) into a PEP 440 range.

    Raises
    ------
    EnvironmentSpecError
        When the version cannot be read.
    """
    version = (version or host_python_version()).strip()
    return conda_version_to_pip(version, f"python={version}")


def resolve_spec(deps: CondaDependencies) -> EnvironmentSpec:
    """Translate ``deps`` into an :class:`EnvironmentSpec` (conda packages become pip ones).

    Raises
    ------
    CondaOnlyPackageError
        Naming every conda package that has no PyPI equivalent, with what to do.
    EnvironmentSpecError
        For specs and requirements that cannot be read.
    """
    requirements: list[str] = []
    notes: list[str] = []
    origins: list[tuple[str, str]] = []
    conda_only: list[str] = []
    for spec in deps.conda_packages:
        found = pip_equivalent(spec)
        if found.conda_only_hint:
            conda_only.append(f"{spec!r} ({found.conda_only_hint})")
            continue
        if found.note:
            notes.append(found.note)
        if found.requirement:
            req = normalize_requirement(found.requirement, f"conda package {spec!r}")
            requirements.append(req)
            origins.append((canonicalize_name(Requirement(req).name), spec))
    if conda_only:
        raise CondaOnlyPackageError(
            f"{len(conda_only)} conda package(s) have no PyPI equivalent: {'; '.join(conda_only)}. "
            "Environments are built from PyPI: remove them from the conda file, or list the "
            "PyPI equivalent under 'pip:'."
        )
    pip = parse_pip_lines(deps._pip, base_dir=deps._base_dir, where="pip section")
    notes.extend(pip.notes)
    for req in pip.requirements:
        reason = REPLACED_BY_RUNTIME.get(canonicalize_name(Requirement(req).name))
        if reason:
            notes.append(f"left out pip package {req!r}: {reason}")
        else:
            requirements.append(req)
    return EnvironmentSpec(
        python=python_range(deps.get_python_version()),
        requirements=tuple(sorted(set(requirements))),
        index_url=pip.index_url,
        extra_index_urls=tuple(pip.extra_index_urls),
        find_links=tuple(pip.find_links),
        pre=pip.pre,
        notes=tuple(notes),
        conda_origins=tuple(origins),
    )

