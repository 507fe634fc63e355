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

import hashlib
import json
import os
import platform as host_platform
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename

from .._runtime import SCORING_RUNTIME_REQUIREMENTS, runtime_wheel
from ..errors import WheelDownloadError
from ._interpreters import find_interpreters
from ._platforms import (
    ARCHES,
    TargetPlatform,
    marker_env,
    parse_platform,
    python_tuple,
    target_tags,
)
from ._uv import LogFn, run_uv
from ._wheel_cache import cache_dir, fetch, index_credentials, place, sha256_of
from .spec import EnvironmentSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

META_FILE = "wheelhouse.json"
_DOWNLOAD_THREADS = 8


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
    env = marker_env(python, target)
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


def _host_can_build(python: tuple[int, int], target: TargetPlatform) -> str | None:
    """Return a local interpreter path when the target is this host's kind, else None."""
    if not sys.platform.startswith("linux"):
        return None
    if ARCHES.get(host_platform.machine().lower()) != target.arch:
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
            source = fetch(pick.sdist_url, pick.sdist_sha256, pick.sdist_url.rsplit("/", 1)[-1], pick.name, auth)
        if source is None:
            raise WheelDownloadError(f"{pick.name} has neither a wheel nor a source archive in the resolution.")
        key = hashlib.sha256(f"{sha256_of(source)}:{interpreter}".encode()).hexdigest()
        cached = cache_dir() / "built" / key
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
        pick.filename, pick.path, pick.sha256 = wheel.name, wheel, sha256_of(wheel)
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
    python = python_tuple(python_version)
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
        auth = index_credentials(spec)
        built = _build_sdists(picks, python, target, work, say, auth)

        def fetch_pick(pick: _Pick) -> Path:
            if pick.path is not None:
                return pick.path
            assert pick.url is not None
            return fetch(pick.url, pick.sha256, pick.filename, pick.name, auth)

        downloads = [p for p in picks if p.path is None]
        say(f"[mldeploy] fetching {len(downloads)} wheel(s) ({len(picks)} packages)")
        with ThreadPoolExecutor(max_workers=_DOWNLOAD_THREADS) as pool:
            sources = list(pool.map(fetch_pick, picks))
        _remove_previous(dest_dir)
        placed: list[tuple[_Pick, Path]] = []
        for pick, source in zip(picks, sources):
            if pick.name == "jupyter-mldeploy" and not include_runtime_wheel:
                continue
            placed.append((pick, place(source, dest_dir)))
    lines = [
        "# Written by jupyter-mldeploy: install offline with",
        "#   pip install --no-index --find-links /wheels -r /wheels/requirements.txt",
        f"# target: Python {python[0]}.{python[1]}, {target.tag}; environment spec hash {spec.spec_hash}",
    ]
    built_names = {p.name for p in picks if p.path is not None and p.path in built}
    for pick, path in sorted(placed, key=lambda item: item[0].name):
        # a downloaded or host-built wheel's sha256 is known (checked when it was cached); a local file's is not
        known = pick.sha256 if pick.url is not None or pick.name in built_names else None
        lines.append(f"{pick.name}=={pick.version} --hash=sha256:{known or sha256_of(path)}")
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
