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


def test_wheel_holds_the_runtime_alone(tmp_path: Path) -> None:
    with zipfile.ZipFile(_runtime.runtime_wheel(tmp_path)) as archive:
        names = {n for n in archive.namelist() if not n.split("/")[0].endswith(".dist-info")}
    assert "jupyter_mldeploy/scoring/app.py" in names and "jupyter_mldeploy/errors.py" in names
    for face_or_host in ("widgets/", "cli/", "magics.py", "deploy/", "registry/", "images/", "client/"):
        assert not any(n.startswith(f"jupyter_mldeploy/{face_or_host}") for n in names), face_or_host


def test_fingerprint_ignores_everything_but_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "jupyter_mldeploy"
    shutil.copytree(_runtime.package_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_runtime, "package_dir", lambda: copy)
    before = _runtime.runtime_fingerprint()
    for edited in ("widgets/request_panel.py", "cli/deploy.py", "magics.py", "deploy/docker.py"):
        (copy / edited).write_text((copy / edited).read_text() + "\n# edited\n")
    assert _runtime.runtime_fingerprint() == before  # no image or environment is rebuilt for these
    (copy / "scoring" / "app.py").write_text((copy / "scoring" / "app.py").read_text() + "\n# edited\n")
    assert _runtime.runtime_fingerprint() != before


def test_the_runtime_runs_from_its_wheel_alone(tmp_path: Path) -> None:
    """Unpacked on its own (as in an image), the runtime imports every scoring module and starts."""
    import os
    import subprocess
    import sys

    site = tmp_path / "site"
    with zipfile.ZipFile(_runtime.runtime_wheel(tmp_path)) as archive:
        archive.extractall(site)
    modules = sorted(
        "jupyter_mldeploy.scoring." + p.stem
        for p in (site / "jupyter_mldeploy" / "scoring").glob("*.py") if p.stem != "__main__"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import jupyter_mldeploy\n"
        "assert jupyter_mldeploy.__file__.startswith(sys.argv[1]), jupyter_mldeploy.__file__\n"
        "from jupyter_mldeploy import rawhttp, AMLRequest\n"  # the lazy names entry scripts use
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    subprocess.run([sys.executable, "-c", code, str(site)], check=True, env=env, cwd=tmp_path, timeout=60)
    helped = subprocess.run(
        [sys.executable, "-m", "jupyter_mldeploy.scoring", "--help"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )
    assert helped.returncode == 0 and "--entry-script" in helped.stdout, helped.stderr
