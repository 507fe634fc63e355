"""Download every wheel an environment needs for another interpreter and platform.

Containers (and air-gapped machines) cannot reach a package index, so the
host resolves and downloads for them: ``uv pip compile`` resolves the
environment plus the scoring runtime for the target Python and platform into a
``pylock.toml`` (which lists each package's files with their sha256), the best
matching wheel of each package is downloaded (in parallel, hash-checked, cached
by sha256 under ``$MLDEPLOY_HOME/cache/wheels``) and a pinned, hash-checked
``requirements.txt`` is written next to them::

    pip install --no-index --find-links /wheels -r /wheels/requirements.txt

A package that has only a source archive is built into a wheel on the host
when the target is the host's own kind (same Python ``X.Y`` available locally,
same CPU architecture, Linux); otherwise :class:`WheelDownloadError` names it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform as host_platform
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging import tags
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename

from .._config import mldeploy_home
from .._runtime import SCORING_RUNTIME_REQUIREMENTS, runtime_wheel
from ..errors import InvalidArgumentError, WheelDownloadError
from ._interpreters import find_interpreters
from ._uv import LogFn, run_uv
from .spec import EnvironmentSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: glibc assumed for Docker-style platforms (``linux/amd64``): Debian 10 / RHEL 8 and newer.
DEFAULT_GLIBC = (2, 28)
META_FILE = "wheelhouse.json"
_UV_GLIBC_MINORS = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)
_ARCHES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}
_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_DOWNLOAD_THREADS = 8


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
        return TargetPlatform(_ARCHES[docker.group(1)], DEFAULT_GLIBC)
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


def _python_tuple(python_version: str) -> tuple[int, int]:
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


def _marker_env(python: tuple[int, int], target: TargetPlatform) -> dict[str, str]:
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


@dataclass(frozen=True)
class Wheelhouse:
    """A folder of wheels plus the pinned ``requirements.txt`` that installs them offline.

    Attributes
    ----------
    path
        The folder.
    requirements_file
        ``path / "requirements.txt"`` (``name==version --hash=sha256:...`` lines).
    wheels
        The wheel files, sorted.
    python_version, platform
        The target (``'3.11'``, ``'manylinux_2_28_x86_64'``).
    spec_hash
        The environment's spec hash.
    built_on_host
        Packages that had no wheel and were built from source on the host.
    seconds
        Wall time of the call.
    """

    path: Path
    requirements_file: Path
    wheels: tuple[Path, ...]
    python_version: str
    platform: str
    spec_hash: str
    built_on_host: tuple[str, ...]
    seconds: float

    @property
    def install_command(self) -> str:
        """The command that installs the wheelhouse offline (folder mounted at ``/wheels``)."""
        return "pip install --no-index --find-links /wheels -r /wheels/requirements.txt"


@dataclass
class _Pick:
    name: str
    version: str
    url: str | None = None
    path: Path | None = None
    sha256: str | None = None
    filename: str = ""
    sdist_url: str | None = None
    sdist_sha256: str | None = None
    sdist_path: Path | None = None


def _file_entry(entry: dict[str, Any]) -> tuple[str | None, Path | None, str | None, str]:
    """(url, local path, sha256, filename) of a pylock file entry."""
    url = entry.get("url")
    path = Path(entry["path"]) if entry.get("path") else None
    sha = (entry.get("hashes") or {}).get("sha256")
    if url and url.startswith("file:"):
        path, url = Path(unquote(urlparse(url).path)), None
    filename = entry.get("name") or (path.name if path else unquote(urlparse(url or "").path).rsplit("/", 1)[-1])
    return url, path, sha, filename


def _pick_files(lock: dict[str, Any], python: tuple[int, int], target: TargetPlatform) -> list[_Pick]:
    """Choose the best wheel (or note the sdist) of every package the lock installs on the target."""
    rank = {tag: i for i, tag in enumerate(target_tags(python, target))}
    env = _marker_env(python, target)
    picks: list[_Pick] = []
    for package in lock.get("packages", []):
        marker = package.get("marker")
        if marker and not Marker(marker).evaluate(env):
            continue
        pick = _Pick(name=canonicalize_name(package["name"]), version=str(package.get("version", "")))
        candidates = list(package.get("wheels") or [])
        archive = package.get("archive")
        if archive:
            candidates.append(archive)
        best: tuple[int, dict[str, Any]] | None = None
        for entry in candidates:
            _, _, _, filename = _file_entry(entry)
            if not filename.endswith(".whl"):
                continue
            try:
                wheel_tags = parse_wheel_filename(filename)[3]
            except ValueError:
                continue
            score = min((rank[t] for t in wheel_tags if t in rank), default=None)
            if score is not None and (best is None or score < best[0]):
                best = (score, entry)
        if best is not None:
            pick.url, pick.path, pick.sha256, pick.filename = _file_entry(best[1])
        else:
            sdist = package.get("sdist") or (archive if archive else None)
            if sdist:
                pick.sdist_url, pick.sdist_path, pick.sdist_sha256, _ = _file_entry(sdist)
            elif package.get("directory") or package.get("vcs"):
                pick.sdist_path = Path(package["directory"]["path"]) if package.get("directory") else None
        picks.append(pick)
    return picks


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_dir() -> Path:
    path = mldeploy_home() / "cache" / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _index_credentials(spec: EnvironmentSpec) -> dict[str, str]:
    """``host -> Authorization header`` for index URLs that carry ``user:password@``.

    uv strips credentials from the file URLs it writes into the lock, so
    downloads from a private index send them again, to that host only.
    """
    found: dict[str, str] = {}
    for url in (spec.index_url, *spec.extra_index_urls, *spec.find_links):
        if not url:
            continue
        parsed = urlparse(url)
        if parsed.username and parsed.hostname:
            pair = f"{unquote(parsed.username)}:{unquote(parsed.password or '')}"
            found[parsed.hostname] = "Basic " + base64.b64encode(pair.encode()).decode()
    return found


def _fetch(
    url: str, sha256: str | None, filename: str, name: str, auth: dict[str, str] | None = None
) -> Path:
    """Download ``url`` into the sha256-keyed cache (reused when present) and return the cached file."""
    key = sha256 or hashlib.sha256(url.encode()).hexdigest()
    cached = _cache_dir() / key[:2] / key / filename
    if cached.is_file() and (sha256 is None or _sha256(cached) == sha256):
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for _attempt in range(3):
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".part-")
        try:
            digest = hashlib.sha256()
            request = urllib.request.Request(url)
            header = (auth or {}).get(urlparse(url).hostname or "")
            if header:
                request.add_header("Authorization", header)
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=120) as response:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if sha256 and digest.hexdigest() != sha256:
                raise WheelDownloadError(
                    f"the download of {filename} ({name}) does not match its recorded sha256: the index "
                    "served other bytes. Try again; if it persists, the index or a proxy alters files."
                )
            os.replace(tmp, cached)
            return cached
        except urllib.error.HTTPError as err:
            last = err
            if err.code in (401, 403, 404):
                break  # retrying will not help
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            last = err
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    if isinstance(last, urllib.error.HTTPError) and last.code in (401, 403):
        advice = ("the index refused it: give the credentials in the index URL "
                  "(--extra-index-url https://USER:TOKEN@host/simple)")
    else:
        advice = "check the network access to the package index (proxy, certificates: SSL_CERT_FILE) and try again"
    raise WheelDownloadError(f"cannot download {filename} for {name} from {url}: {last}; {advice}.") from last


def _place(source: Path, dest_dir: Path) -> Path:
    """Hard-link (or copy) ``source`` into ``dest_dir``; return the placed file."""
    target = dest_dir / source.name
    if target.exists():
        if target.stat().st_size == source.stat().st_size and _sha256(target) == _sha256(source):
            return target
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target


def _host_can_build(python: tuple[int, int], target: TargetPlatform) -> str | None:
    """Return a local interpreter path when the target is this host's kind, else None."""
    if not sys.platform.startswith("linux"):
        return None
    if _ARCHES.get(host_platform.machine().lower()) != target.arch:
        return None
    found = find_interpreters(SpecifierSet(f"=={python[0]}.{python[1]}.*"))
    return str(found[0].path) if found else None


def _build_sdists(
    picks: list[_Pick], python: tuple[int, int], target: TargetPlatform, work: Path, say: LogFn,
    auth: dict[str, str],
) -> list[Path]:
    """Build wheels on the host for the packages that only have source archives."""
    need = [p for p in picks if not p.filename]
    if not need:
        return []
    names = ", ".join(f"{p.name}=={p.version}" for p in need)
    interpreter = _host_can_build(python, target)
    if interpreter is None:
        raise WheelDownloadError(
            f"no wheel for Python {python[0]}.{python[1]} on {target.tag} exists for: {names} (only "
            "source archives). Pin a version that publishes wheels for that target, or build for a "
            "target matching this machine (same Python version installed here, same CPU "
            "architecture), where missing wheels are built on the host."
        )
    accepted = set(target_tags(python, target))
    built: list[Path] = []
    out_dir = work / "built"
    for pick in need:
        source = pick.sdist_path
        if source is None and pick.sdist_url:
            source = _fetch(pick.sdist_url, pick.sdist_sha256, pick.sdist_url.rsplit("/", 1)[-1], pick.name, auth)
        if source is None:
            raise WheelDownloadError(f"{pick.name} has neither a wheel nor a source archive in the resolution.")
        key = hashlib.sha256(f"{_sha256(source)}:{interpreter}".encode()).hexdigest()
        cached = _cache_dir() / "built" / key
        wheels = sorted(cached.glob("*.whl"))
        if wheels:
            say(f"[mldeploy] reusing the wheel built earlier for {pick.name}=={pick.version}")
        else:
            say(f"[mldeploy] building a wheel for {pick.name}=={pick.version} from source on this host")
            done = run_uv(["build", "--no-config", "--wheel", "--python", interpreter, "--out-dir",
                           str(out_dir / pick.name), str(source)], cwd=work, log=say)
            wheels = sorted((out_dir / pick.name).glob("*.whl"))
            if done.returncode != 0 or not wheels:
                raise WheelDownloadError(
                    f"{pick.name}=={pick.version} has no wheel for the target and building one from "
                    f"source failed:\n{done.tail()}\nPin a version that publishes wheels, or install "
                    "its build requirements (compilers, headers) on this host."
                )
        wheel = wheels[0]
        if not set(parse_wheel_filename(wheel.name)[3]) & accepted:
            raise WheelDownloadError(
                f"{pick.name}=={pick.version}: the wheel built on this host ({wheel.name}) does not "
                f"fit {target.tag}; pin a version that publishes wheels for the target."
            )
        if not cached.is_dir():
            cached.mkdir(parents=True, exist_ok=True)
            wheel = Path(shutil.copy2(wheel, cached / wheel.name))
        pick.filename, pick.path, pick.sha256 = wheel.name, wheel, _sha256(wheel)
        built.append(wheel)
    return built


def download_wheels(
    spec: EnvironmentSpec,
    dest: str | os.PathLike[str],
    *,
    python_version: str = "3.11",
    platform: str = "linux/amd64",
    include_runtime_wheel: bool = True,
    log: LogFn | None = None,
) -> Wheelhouse:
    """Resolve ``spec`` + the scoring runtime for a target and put every wheel into ``dest``.

    See :meth:`Environment.download_wheels` for the parameters.

    Raises
    ------
    WheelDownloadError
        Resolution failed, or a package has no wheel for the target (named).
    InvalidArgumentError
        Unreadable ``python_version`` or ``platform``.
    """
    started = time.monotonic()
    say = log or (lambda line: None)
    python = _python_tuple(python_version)
    target = parse_platform(platform)
    dest_dir = Path(dest).expanduser().resolve()
    dest_dir.mkdir(parents=True, exist_ok=True)
    wheel = runtime_wheel()
    with tempfile.TemporaryDirectory(prefix="mldeploy-wheels-") as tmp:
        work = Path(tmp)
        requirements = [*spec.requirements, *SCORING_RUNTIME_REQUIREMENTS, f"jupyter-mldeploy @ {wheel.as_uri()}"]
        (work / "requirements.in").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        say(f"[mldeploy] resolving for Python {python[0]}.{python[1]} on {target.tag}")
        resolved = run_uv(
            ["pip", "compile", "--no-config", "requirements.in", "--python-version", f"{python[0]}.{python[1]}",
             "--python-platform", target.uv_platform(), "--format", "pylock.toml", "-o", "pylock.toml",
             "--no-header", "--quiet", *spec.uv_options()],
            cwd=work, log=say,
        )
        if resolved.returncode != 0:
            text = "\n".join(resolved.lines)
            named = [r.split("[")[0].split("@")[0].strip() for r in spec.requirements]
            named = sorted({n for n in (re.split(r"[<>=!~; ]", n)[0] for n in named) if n and n in text})
            which = f" (the resolver's error names: {', '.join(named)})" if named else ""
            raise WheelDownloadError(
                f"resolving the environment for Python {python[0]}.{python[1]} on {target.tag} failed{which}. "
                f"uv said:\n{resolved.tail()}\nFix the requirements (names, versions that exist for "
                "that Python), then try again."
            )
        lock = tomllib.loads((work / "pylock.toml").read_text(encoding="utf-8"))
        picks = _pick_files(lock, python, target)
        auth = _index_credentials(spec)
        built = _build_sdists(picks, python, target, work, say, auth)

        def fetch(pick: _Pick) -> Path:
            if pick.path is not None:
                return pick.path
            assert pick.url is not None
            return _fetch(pick.url, pick.sha256, pick.filename, pick.name, auth)

        downloads = [p for p in picks if p.path is None]
        say(f"[mldeploy] fetching {len(downloads)} wheel(s) ({len(picks)} packages)")
        with ThreadPoolExecutor(max_workers=_DOWNLOAD_THREADS) as pool:
            sources = list(pool.map(fetch, picks))
        _remove_previous(dest_dir)
        placed: list[tuple[_Pick, Path]] = []
        for pick, source in zip(picks, sources):
            if pick.name == "jupyter-mldeploy" and not include_runtime_wheel:
                continue
            placed.append((pick, _place(source, dest_dir)))
    lines = [
        "# Written by jupyter-mldeploy: install offline with",
        "#   pip install --no-index --find-links /wheels -r /wheels/requirements.txt",
        f"# target: Python {python[0]}.{python[1]}, {target.tag}; environment spec hash {spec.spec_hash}",
    ]
    for pick, path in sorted(placed, key=lambda item: item[0].name):
        lines.append(f"{pick.name}=={pick.version} --hash=sha256:{_sha256(path)}")
    requirements_file = dest_dir / "requirements.txt"
    requirements_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wheels = tuple(sorted(path for _, path in placed))
    meta = {
        "spec_hash": spec.spec_hash,
        "python_version": f"{python[0]}.{python[1]}",
        "platform": target.tag,
        "wheels": [p.name for p in wheels],
        "built_on_host": [w.name for w in built],
    }
    (dest_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    house = Wheelhouse(
        path=dest_dir,
        requirements_file=requirements_file,
        wheels=wheels,
        python_version=f"{python[0]}.{python[1]}",
        platform=target.tag,
        spec_hash=spec.spec_hash,
        built_on_host=tuple(canonicalize_name(parse_wheel_filename(w.name)[0]) for w in built),
        seconds=time.monotonic() - started,
    )
    say(f"[mldeploy] {len(wheels)} wheel(s) in {dest_dir} ({house.seconds:.1f} s)")
    return house


def _remove_previous(dest_dir: Path) -> None:
    """Remove the wheels an earlier call wrote into ``dest_dir`` (listed in its wheelhouse.json)."""
    meta = dest_dir / META_FILE
    if not meta.is_file():
        return
    try:
        previous = json.loads(meta.read_text(encoding="utf-8")).get("wheels", [])
    except ValueError:
        return
    for name in previous:
        path = dest_dir / Path(name).name
        if path.suffix == ".whl" and path.is_file():
            path.unlink()
