"""``mldeploy doctor``: what this machine offers for deployments, and how to fix what is missing.

Each check is independent and never raises: a failing check becomes a
:class:`Check` with ``ok=False`` and the one command (or step) that fixes it.
The CLI (``mldeploy doctor``) and, later, the notebook panels only present
what :func:`run_checks` returns.

Examples
--------
>>> from jupyter_mldeploy.doctor import run_checks
>>> for check in run_checks():                 # doctest: +SKIP
...     print(check.name, check.ok, check.detail)
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ._config import OFFLINE_BASE_IMAGE, base_image, mldeploy_home, repo_script
from ._net import port_is_free
from ._version import __version__
from .errors import MLDeployError

#: Ports users meet first: ``mldeploy serve``'s default and the Azure docs' LocalWebservice port.
DEFAULT_PORTS: tuple[int, ...] = (5001, 6789)


@dataclass(frozen=True)
class Check:
    """The result of one check.

    Attributes
    ----------
    name:
        What was checked (``"Docker engine"``).
    ok:
        Whether it is usable.
    detail:
        What was found (a version, a path, a size, or the error).
    fix:
        The one command or step that fixes it (empty when ``ok``).
    required:
        ``False`` for parts only some features need (Docker: the process target works without it).
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = False

    def to_dict(self) -> dict[str, object]:
        """Return the check as a JSON-ready dict."""
        return asdict(self)


def _docker_start_fix() -> str:
    from .images.engine import docker_start_fix

    return docker_start_fix()


def check_python() -> Check:
    """Report the Python interpreter and the jupyter-mldeploy version."""
    detail = f"Python {platform.python_version()} ({sys.executable}); jupyter-mldeploy {__version__}"
    ok = sys.version_info >= (3, 10)
    return Check("Python", ok, detail, "" if ok else "use Python 3.10 or newer", required=True)


def check_registry() -> Check:
    """Report where the registry lives, how big it is, and whether it is writable."""
    try:
        home = mldeploy_home()
        probe = home / ".doctor-write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        return Check(
            "Registry",
            False,
            f"{os.environ.get('MLDEPLOY_HOME', '~/.mldeploy')}: {err}",
            "point MLDEPLOY_HOME at a writable folder: export MLDEPLOY_HOME=$HOME/.mldeploy",
            required=True,
        )
    size = sum(p.stat().st_size for p in home.rglob("*") if p.is_file() and not p.is_symlink())
    try:
        from .registry.model import Model

        models = Model.list()
    except MLDeployError as err:
        return Check(
            "Registry", False, f"{home} ({_human(size)}): {str(err).splitlines()[0]}",
            "restore registry.db from a backup, or point MLDEPLOY_HOME at a new folder to start over",
            required=True,
        )
    counts = f", {len({m.name for m in models})} model(s) / {len(models)} version(s)"
    return Check("Registry", True, f"{home} ({_human(size)}{counts})", required=True)


def check_docker() -> Check:
    """Report whether a Docker engine answers, and its version."""
    try:
        import docker
    except ImportError:
        return Check(
            "Docker engine",
            False,
            "the docker SDK is not installed",
            'pip install "jupyter-mldeploy[docker]"',
        )
    try:
        client = docker.from_env(timeout=5)
        version = client.version()
        client.close()
    except Exception as err:  # noqa: BLE001 - any failure means "no engine"
        return Check("Docker engine", False, f"no engine answers: {_first_line(err)}", _docker_start_fix())
    return Check(
        "Docker engine",
        True,
        f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')}, "
        f"{version.get('Os', '?')}/{version.get('Arch', '?')})",
    )


def check_base_image() -> Check:
    """Report whether the configured base image (``MLDEPLOY_BASE_IMAGE``) is present locally."""
    image = base_image()
    name = f"Base image {image}"
    try:
        import docker
        import docker.errors

        client = docker.from_env(timeout=5)
    except Exception as err:  # noqa: BLE001
        return Check(name, False, f"cannot ask Docker: {_first_line(err)}", "fix the Docker engine first")
    try:
        img = client.images.get(image)
    except docker.errors.ImageNotFound:
        script = repo_script("build-base-image.sh")
        offline = (
            f"or offline: {script} {OFFLINE_BASE_IMAGE} && export MLDEPLOY_BASE_IMAGE={OFFLINE_BASE_IMAGE}"
            if script
            else "or set MLDEPLOY_BASE_IMAGE to a Python image you have"
        )
        return Check(name, False, "not present", f"docker pull {image}   ({offline})")
    except Exception as err:  # noqa: BLE001
        return Check(name, False, f"cannot ask Docker: {_first_line(err)}", _docker_start_fix())
    finally:
        client.close()
    return Check(name, True, f"present ({_human(int(img.attrs.get('Size', 0)))})")


def check_uv() -> Check:
    """Report the uv installer used to build environments (and pip as a fallback)."""
    try:
        from uv import find_uv_bin

        uv_bin = find_uv_bin()
        out = subprocess.run([uv_bin, "--version"], capture_output=True, text=True, timeout=20, check=False)
        uv_version = out.stdout.strip() or out.stderr.strip()
    except Exception as err:  # noqa: BLE001
        return Check("uv", False, f"not usable: {_first_line(err)}", 'pip install "uv>=0.4"', required=True)
    pip_version = "pip not found"
    try:
        import importlib.metadata

        pip_version = f"pip {importlib.metadata.version('pip')}"
    except importlib.metadata.PackageNotFoundError:
        pass
    return Check("uv", True, f"{uv_version} ({uv_bin}); {pip_version}", required=True)


def check_ports(ports: tuple[int, ...] = DEFAULT_PORTS) -> Check:
    """Report whether the usual ports are free on 127.0.0.1."""
    taken = [port for port in ports if not port_is_free(port)]
    free = [port for port in ports if port not in taken]
    detail = ", ".join([f"{p} free" for p in free] + [f"{p} taken" for p in taken])
    if taken:
        return Check(
            "Ports",
            False,
            detail,
            f"stop what listens on {', '.join(map(str, taken))} (e.g. 'ss -ltnp | grep :{taken[0]}') "
            "or pass another --port",
        )
    return Check("Ports", True, detail)


def check_disk() -> Check:
    """Report free disk space where the registry lives."""
    home = mldeploy_home()
    usage = shutil.disk_usage(home)
    ok = usage.free > 2 * 1024**3
    return Check(
        "Disk",
        ok,
        f"{_human(usage.free)} free of {_human(usage.total)} at {home}",
        "" if ok else "free some space or point MLDEPLOY_HOME at a bigger disk",
    )


ALL_CHECKS: tuple[Callable[[], Check], ...] = (
    check_python,
    check_registry,
    check_uv,
    check_docker,
    check_base_image,
    check_ports,
    check_disk,
)


def run_checks() -> list[Check]:
    """Run every check and return the results in a stable order (never raises)."""
    results = []
    for check in ALL_CHECKS:
        try:
            results.append(check())
        except Exception as err:  # noqa: BLE001 - one broken check must not hide the others
            results.append(Check(check.__name__.removeprefix("check_"), False, f"check failed: {err}"))
    return results


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
