"""The scoring runtime wheel: reproducible, runtime-only dependencies, fingerprinted."""

from __future__ import annotations

import base64
import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from jupyter_mldeploy import _runtime


def test_wheel_is_reproducible_and_complete(tmp_path: Path) -> None:
    one = _runtime.runtime_wheel(tmp_path / "a")
    two = _runtime.runtime_wheel(tmp_path / "b")
    assert one.name == two.name
    assert one.read_bytes() == two.read_bytes()
    assert one.name.startswith("jupyter_mldeploy-") and one.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(one) as archive:
        names = archive.namelist()
        assert "jupyter_mldeploy/scoring/contract.py" in names
        assert not any("__pycache__" in n for n in names)
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(f"{dist_info}/METADATA").decode()
        requires = [line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist")]
        assert requires == list(_runtime.SCORING_RUNTIME_REQUIREMENTS)
        for line in archive.read(f"{dist_info}/RECORD").decode().splitlines():
            name, digest, size = line.split(",")
            if not digest:
                continue
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data)


def test_default_location_is_cached(mldeploy_home: Path) -> None:
    wheel = _runtime.runtime_wheel()
    assert wheel.parent == mldeploy_home / "cache" / "runtime"
    stamp = wheel.stat().st_mtime_ns
    assert _runtime.runtime_wheel() == wheel and wheel.stat().st_mtime_ns == stamp


def test_fingerprint_follows_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "jupyter_mldeploy"
    shutil.copytree(_runtime.package_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_runtime, "package_dir", lambda: copy)
    before = _runtime.runtime_fingerprint()
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "x.pyc").write_bytes(b"ignored")
    assert _runtime.runtime_fingerprint() == before
    (copy / "errors.py").write_text((copy / "errors.py").read_text() + "\n# changed\n")
    after = _runtime.runtime_fingerprint()
    assert after != before
    assert _runtime.runtime_wheel(tmp_path / "w").name.endswith(f"+g{after[:12]}-py3-none-any.whl")
