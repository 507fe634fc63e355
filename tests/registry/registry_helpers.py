"""Helpers shared by the registry tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

WORKER = Path(__file__).with_name("worker_register.py")


def sha256_of(path: Path) -> str:
    """Hash a file the plain way (independent of the code under test)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def object_files(home: Path) -> list[Path]:
    """Every blob file in the store."""
    root = home / "objects" / "sha256"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def temp_files(home: Path) -> list[Path]:
    """Every temp file of interrupted or running registers."""
    root = home / "tmp" / "objects"
    return sorted(root.iterdir()) if root.exists() else []


def worker_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a worker subprocess using ``home`` as MLDEPLOY_HOME."""
    env = dict(os.environ)
    env["MLDEPLOY_HOME"] = str(home)
    env.update(extra)
    return env


def worker_cmd(*args: str) -> list[str]:
    """Command line that runs worker_register.py with this interpreter."""
    return [sys.executable, str(WORKER), *args]
