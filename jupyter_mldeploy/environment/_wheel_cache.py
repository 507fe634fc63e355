"""Wheel files for a wheelhouse: download into the sha256-keyed cache, then place them in the folder.

:func:`fetch` downloads a file once into ``$MLDEPLOY_HOME/cache/wheels`` (keyed
by its recorded sha256, checked while it streams, with retries and the private
index's credentials from :func:`index_credentials`) and reuses the cached copy
afterwards; :func:`place` hard-links (or copies) a cached file into the
wheelhouse folder; :func:`sha256_of` hashes a file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

from .._config import mldeploy_home
from ..errors import WheelDownloadError
from .spec import EnvironmentSpec


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """``$MLDEPLOY_HOME/cache/wheels`` (created): downloaded and host-built wheels, by sha256."""
    path = mldeploy_home() / "cache" / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def index_credentials(spec: EnvironmentSpec) -> dict[str, str]:
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


def fetch(
    url: str, sha256: str | None, filename: str, name: str, auth: dict[str, str] | None = None
) -> Path:
    """Download ``url`` into the sha256-keyed cache (reused when present) and return the cached file.

    A file is put into the cache only once its bytes matched ``sha256`` (under a name made of
    it), so a cached one is not hashed again: every environment change would re-read the
    ~100 MB of a scikit-learn environment's wheels for nothing (0.15 s of a 1.5 s change).
    """
    key = sha256 or hashlib.sha256(url.encode()).hexdigest()
    cached = cache_dir() / key[:2] / key / filename
    if cached.is_file():
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


def place(source: Path, dest_dir: Path) -> Path:
    """Hard-link (or copy) ``source`` into ``dest_dir``; return the placed file."""
    target = dest_dir / source.name
    if target.exists():
        if target.stat().st_size == source.stat().st_size and sha256_of(target) == sha256_of(source):
            return target
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target
