"""Before an image is built: which modules the entry script imports that the image will not have.

An entry script that imports ``sklearn`` deployed without an environment builds fine and
then fails in ``init()`` inside the container. :func:`missing_imports` reads the script
(and the other ``.py`` files of its source folder) with :mod:`ast` and compares their
top-level imports with what the image gets: the standard library, the wheels of its
wheelhouse, the source folder's own modules, and jupyter-mldeploy's runtime (with its
``azureml.*`` stand-ins). Deployments log the result as a warning, not an error: an
import inside ``try`` may be optional on purpose.

Without an environment, :func:`kernel_requirements` gives the image what the notebook has:
it maps the script's imports to the distributions installed where this code runs (the
kernel) and pins their versions; an import outside ``try`` that is not installed here
either is named, so the deployment can fail at once instead of in ``init()``.
"""

from __future__ import annotations

import ast
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

__all__ = ["KernelImports", "kernel_requirements", "missing_imports", "missing_imports_note", "wheel_modules"]

#: Always there in a deployment: our runtime and the azureml.* modules it stands in for.
RUNTIME_MODULES = frozenset({"jupyter_mldeploy", "azureml"})
#: At most this many source files are read (a huge source folder is sampled, not scanned).
MAX_FILES = 400


def wheel_modules(wheelhouse: Path) -> set[str]:
    """Top-level importable names the wheels in ``wheelhouse`` install (from their file lists)."""
    names: set[str] = set()
    for wheel in sorted(Path(wheelhouse).glob("*.whl")):
        try:
            with zipfile.ZipFile(wheel) as archive:
                entries = archive.namelist()
        except (OSError, zipfile.BadZipFile):
            continue  # a broken wheel fails the build with its own message
        for entry in entries:
            top = entry.split("/", 1)[0]
            if top.endswith((".dist-info", ".data")):
                continue
            if "/" in entry:
                names.add(top)  # a package folder
            elif top.endswith(".py"):
                names.add(top[:-3])  # a single-module distribution
            elif top.endswith((".so", ".pyd")):
                names.add(top.split(".", 1)[0])  # a compiled module: name.cpython-311-x86_64-linux-gnu.so
    return names


def _imports(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return set()  # the script check reports syntax errors itself
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".", 1)[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".", 1)[0])
    return found


def _required_imports(path: Path) -> set[str]:
    """Top-level modules ``path`` imports outside any ``try`` (so their absence is an error, not a choice)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return set()
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try | getattr(ast, "TryStar", ast.Try)):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".", 1)[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".", 1)[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@dataclass(frozen=True)
class KernelImports:
    """What :func:`kernel_requirements` found: pinned requirements, and the required modules nothing here installs."""

    requirements: tuple[str, ...]
    not_installed: tuple[str, ...]


def kernel_requirements(entry_script: Path, source_dir: Path | None) -> KernelImports:
    """Pins (``name==version``) of the installed distributions the script (and its folder) import.

    The modules come from :func:`missing_imports` with nothing available (so the standard
    library, the source folder's own modules and our runtime are left out); each maps to
    the distributions that install it here (``importlib.metadata.packages_distributions``).
    ``not_installed`` lists the entry script's imports outside ``try`` that no distribution
    here installs.

    Examples
    --------
    >>> kernel_requirements(Path("score.py"), Path("."))            # doctest: +SKIP
    KernelImports(requirements=('joblib==1.4.2', 'scikit-learn==1.5.1'), not_installed=())
    """
    owners = metadata.packages_distributions()
    pins: set[str] = set()
    unknown: set[str] = set()
    for module in missing_imports(entry_script, source_dir, ()):
        dists = [d for d in owners.get(module, []) if canonicalize_name(d) != "jupyter-mldeploy"]
        if not dists:
            unknown.add(module)
        for dist in dists:
            try:
                pins.add(f"{canonicalize_name(dist)}=={metadata.version(dist)}")
            except metadata.PackageNotFoundError:
                unknown.add(module)
    required = _required_imports(Path(entry_script))
    return KernelImports(tuple(sorted(pins)), tuple(sorted(unknown & required)))


def _local_modules(source_dir: Path) -> set[str]:
    names = {p.stem for p in source_dir.glob("*.py")}
    names |= {p.name for p in source_dir.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    names |= {p.name for p in source_dir.iterdir() if p.is_dir() and any(p.glob("*.py"))}  # namespace packages
    return names


def missing_imports(
    entry_script: Path, source_dir: Path | None, available: Iterable[str]
) -> list[str]:
    """Top-level modules imported by the entry script (and its source folder) that are not available.

    Parameters
    ----------
    entry_script
        The script's path.
    source_dir
        The folder copied into the image with it (``None``: the script alone).
    available
        Importable top-level names the image's packages give (e.g. :func:`wheel_modules`).

    Examples
    --------
    >>> missing_imports(Path("score.py"), None, {"numpy"})      # doctest: +SKIP
    ['joblib', 'sklearn']
    """
    files = [Path(entry_script)]
    known = set(available) | RUNTIME_MODULES | set(sys.stdlib_module_names) | {"__future__"}
    if source_dir is not None and Path(source_dir).is_dir():
        root = Path(source_dir)
        known |= _local_modules(root)
        files += [p for p in sorted(root.rglob("*.py"))[:MAX_FILES] if p != Path(entry_script)]
    imported: set[str] = set()
    for path in files:
        imported |= _imports(path)
    return sorted(name for name in imported if name not in known)


def missing_imports_note(entry_script: Path, source_dir: Path | None, wheelhouse: Path) -> str | None:
    """A one-line warning naming the modules the image will lack, or ``None`` when nothing is missing."""
    missing = missing_imports(entry_script, source_dir, wheel_modules(wheelhouse))
    if not missing:
        return None
    return (
        f"warning: {Path(entry_script).name} imports {', '.join(missing)}, which the image will not "
        "have, so init() would fail there: list their packages in the environment (e.g. "
        "InferenceConfig(..., environment=Environment.from_pip_requirements('env', 'requirements.txt')) "
        "or --env requirements.txt)"
    )
