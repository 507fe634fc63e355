"""What the scoring server needs inside a deployment's environment.

Environment builds (virtualenvs and image layers) add
:data:`SCORING_RUNTIME_REQUIREMENTS` to the user's own packages, and install
jupyter-mldeploy itself from :func:`runtime_wheel`, so that
``python -m jupyter_mldeploy.scoring`` runs there. Keep the list in step with
the server's imports.

:func:`runtime_wheel` packs the scoring runtime of the *running* jupyter-mldeploy
(a source checkout or an installed copy alike) into a small, reproducible wheel
whose only dependencies are the scoring runtime's: the same bytes give the same
wheel, and its version carries a fingerprint of the runtime's files
(``0.1.0+g1a2b3c4d5e6f``), so an environment or image built with it is rebuilt
exactly when the runtime changes. The runtime is :data:`RUNTIME_FILES`: the
``scoring/`` package and the few modules it imports (the package root, the
version, the errors); editing a widget, the CLI or a deployment target changes
no fingerprint and rebuilds nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

#: Distributions the scoring server imports at run time (besides jupyter-mldeploy itself).
SCORING_RUNTIME_REQUIREMENTS: tuple[str, ...] = (
    "starlette>=0.37",
    "uvicorn>=0.30",
    "uvloop>=0.19; sys_platform != 'win32'",
    "httptools>=0.6",
    "inference-schema>=1.7",
    "pyyaml>=6",
    "packaging>=23",
)

#: What of the package goes into deployments: files and folders, relative to the package.
#: ``tests/test_layering.py`` checks that these import nothing else of the package.
RUNTIME_FILES: tuple[str, ...] = ("__init__.py", "_version.py", "errors.py", "py.typed", "scoring")

_EXCLUDED_DIRS = frozenset({"__pycache__", "node_modules"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".so.tmp")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def package_dir() -> Path:
    """Return the folder of the running ``jupyter_mldeploy`` package."""
    return Path(__file__).resolve().parent


def _package_files() -> list[tuple[str, Path]]:
    """Return ``(archive name, path)`` of every file the runtime wheel holds (:data:`RUNTIME_FILES`), sorted."""
    root = package_dir()
    files: list[tuple[str, Path]] = []
    for entry in RUNTIME_FILES:
        top = root / entry
        if top.is_file():
            files.append((f"jupyter_mldeploy/{entry}", top))
            continue
        for folder, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in _EXCLUDED_DIRS and not d.startswith("."))
            for name in names:
                if name.endswith(_EXCLUDED_SUFFIXES) or name.startswith("."):
                    continue
                path = Path(folder) / name
                files.append((f"jupyter_mldeploy/{path.relative_to(root).as_posix()}", path))
    return sorted(files)


def runtime_fingerprint() -> str:
    """Return a sha256 (hex) of the runtime's files, version and requirements.

    Environment build keys include it, so changing the scoring runtime rebuilds the
    environments and image layers that carry it (and changing anything else does not).
    """
    from ._version import __version__

    digest = hashlib.sha256(f"{__version__}\n{SCORING_RUNTIME_REQUIREMENTS!r}\n".encode())
    for name, path in _package_files():
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def runtime_version(fingerprint: str | None = None) -> str:
    """Return the runtime wheel's version: ``__version__`` plus a local label of the fingerprint."""
    from ._version import __version__

    return f"{__version__}+g{(fingerprint or runtime_fingerprint())[:12]}"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel_members(version: str) -> list[tuple[str, bytes]]:
    """Return every ``(archive name, bytes)`` of the runtime wheel, RECORD last."""
    members = [(name, path.read_bytes()) for name, path in _package_files()]
    dist_info = f"jupyter_mldeploy-{version}.dist-info"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            "Name: jupyter-mldeploy",
            f"Version: {version}",
            "Summary: jupyter-mldeploy scoring runtime (packed from the running copy)",
            "Requires-Python: >=3.10",
            *(f"Requires-Dist: {req}" for req in SCORING_RUNTIME_REQUIREMENTS),
            "",
        ]
    )
    wheel = "Wheel-Version: 1.0\nGenerator: jupyter-mldeploy\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members += [
        (f"{dist_info}/METADATA", metadata.encode()),
        (f"{dist_info}/WHEEL", wheel.encode()),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in members)
    record += f"{dist_info}/RECORD,,\n"
    members.append((f"{dist_info}/RECORD", record.encode()))
    return members


def runtime_wheel(dest_dir: str | os.PathLike[str] | None = None, *, fingerprint: str | None = None) -> Path:
    """Return an installable wheel of the running jupyter-mldeploy (built once per fingerprint).

    The wheel holds the package's files and depends only on
    :data:`SCORING_RUNTIME_REQUIREMENTS`. It is written reproducibly (fixed
    timestamps, sorted members) under ``$MLDEPLOY_HOME/cache/runtime/`` and
    reused while the code does not change.

    Parameters
    ----------
    dest_dir
        Folder to put the wheel in instead of the cache (a Docker build context).
    fingerprint
        :func:`runtime_fingerprint`'s value when the caller has it already.

    Returns
    -------
    Path
        The ``jupyter_mldeploy-<version>+g<fingerprint>-py3-none-any.whl`` file.

    Examples
    --------
    >>> from jupyter_mldeploy._runtime import runtime_wheel
    >>> runtime_wheel().name                     # doctest: +SKIP
    'jupyter_mldeploy-0.1.0+g1a2b3c4d5e6f-py3-none-any.whl'
    """
    from ._config import mldeploy_home

    fingerprint = fingerprint or runtime_fingerprint()
    version = runtime_version(fingerprint)
    folder = Path(dest_dir) if dest_dir is not None else mldeploy_home() / "cache" / "runtime"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"jupyter_mldeploy-{version}-py3-none-any.whl"
    if target.is_file():
        return target
    fd, tmp_name = tempfile.mkstemp(prefix=".runtime-", suffix=".whl", dir=folder)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp_name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in _wheel_members(version):
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target
