"""The target of a wheelhouse: a Linux CPU architecture, its oldest glibc and a CPython ``X.Y``.

:func:`parse_platform` reads the spellings users give (``linux/amd64``,
``manylinux_2_17_x86_64``, ``manylinux2014_aarch64``, ``x86_64-manylinux_2_28``)
into a :class:`TargetPlatform`, which knows its PEP 600 tag, uv's
``--python-platform`` value and the platform tags it accepts;
:func:`target_tags` and :func:`marker_env` give the wheel tags and the
environment-marker values of an interpreter on that target, so a resolution can
be judged for a machine that is not this one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging import tags

from ..errors import InvalidArgumentError

#: glibc assumed for Docker-style platforms (``linux/amd64``): Debian 10 / RHEL 8 and newer.
DEFAULT_GLIBC = (2, 28)
#: Machine names (Docker's and the kernel's) -> the architecture in wheel tags.
ARCHES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}
_UV_GLIBC_MINORS = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)
_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


@dataclass(frozen=True)
class TargetPlatform:
    """A Linux target: CPU architecture and the oldest glibc it must run on."""

    arch: str
    glibc: tuple[int, int]

    @property
    def tag(self) -> str:
        """The PEP 600 platform tag, e.g. ``manylinux_2_28_x86_64``."""
        return f"manylinux_{self.glibc[0]}_{self.glibc[1]}_{self.arch}"

    def uv_platform(self) -> str:
        """uv's ``--python-platform`` value: the newest uv knows that the target still runs."""
        minor = max((m for m in _UV_GLIBC_MINORS if m <= self.glibc[1]), default=17)
        return f"{self.arch}-manylinux_2_{minor}"

    def wheel_platforms(self) -> list[str]:
        """Platform tags the target accepts, best first (``linux_<arch>`` last: host-built wheels)."""
        lowest = 17 if self.arch == "aarch64" else 5
        out: list[str] = []
        for minor in range(self.glibc[1], lowest - 1, -1):
            out.append(f"manylinux_2_{minor}_{self.arch}")
            for legacy, (_, legacy_minor) in _LEGACY.items():
                if legacy_minor == minor:
                    out.append(f"{legacy}_{self.arch}")
        out.append(f"linux_{self.arch}")
        return out


def parse_platform(text: str) -> TargetPlatform:
    """Read ``linux/amd64``, ``manylinux_2_17_x86_64``, ``manylinux2014_aarch64`` or ``x86_64-manylinux_2_28``.

    Raises
    ------
    InvalidArgumentError
        For other values (the message lists the accepted forms).
    """
    value = str(text).strip().lower()
    docker = re.fullmatch(r"linux/(amd64|x86_64|arm64|aarch64)(?:/v8)?", value)
    if docker:
        return TargetPlatform(ARCHES[docker.group(1)], DEFAULT_GLIBC)
    pep600 = re.fullmatch(r"manylinux_(\d+)_(\d+)_(x86_64|aarch64)", value)
    if pep600:
        return TargetPlatform(pep600.group(3), (int(pep600.group(1)), int(pep600.group(2))))
    legacy = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_(x86_64|aarch64)", value)
    if legacy:
        return TargetPlatform(legacy.group(2), _LEGACY[legacy.group(1)])
    uv_style = re.fullmatch(r"(x86_64|aarch64)-manylinux(?:_(\d+)_(\d+)|(2014))", value)
    if uv_style:
        glibc = (2, 17) if uv_style.group(4) else (int(uv_style.group(2)), int(uv_style.group(3)))
        return TargetPlatform(uv_style.group(1), glibc)
    raise InvalidArgumentError(
        f"platform {text!r} is not understood: use 'linux/amd64' or 'linux/arm64' (Docker style, "
        f"glibc {DEFAULT_GLIBC[0]}.{DEFAULT_GLIBC[1]}+), a wheel tag like 'manylinux_2_17_x86_64', "
        "or uv's 'x86_64-manylinux_2_28'. Only Linux targets are supported."
    )


def python_tuple(python_version: str) -> tuple[int, int]:
    """``"3.11"`` (or ``"3.11.4"``) -> ``(3, 11)``; anything else raises InvalidArgumentError."""
    match = re.fullmatch(r"(\d+)\.(\d+)(?:\.\d+)?", str(python_version).strip())
    if not match:
        raise InvalidArgumentError(
            f"python_version {python_version!r} is not valid: give the target interpreter as 'X.Y', e.g. '3.11'."
        )
    return int(match.group(1)), int(match.group(2))


def target_tags(python: tuple[int, int], target: TargetPlatform) -> list[tags.Tag]:
    """Every wheel tag the target interpreter accepts, best first."""
    platforms = target.wheel_platforms()
    interpreter = f"cp{python[0]}{python[1]}"
    found = list(tags.cpython_tags(python_version=python, abis=[interpreter], platforms=platforms))
    found += list(tags.compatible_tags(python_version=python, interpreter=interpreter, platforms=platforms))
    return found


def marker_env(python: tuple[int, int], target: TargetPlatform) -> dict[str, str]:
    """The PEP 508 marker values of CPython ``python`` on ``target`` (to evaluate a lock's markers)."""
    version = f"{python[0]}.{python[1]}"
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "os_name": "posix",
        "platform_machine": target.arch,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{version}.0",
        "python_version": version,
        "sys_platform": "linux",
    }
