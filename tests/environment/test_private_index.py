"""Wheelhouses and builds from a private index that needs credentials (a real local HTTP index)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mldeploy import CondaDependencies, Environment
from jupyter_mldeploy.errors import WheelDownloadError

pytestmark = pytest.mark.slow
USER, TOKEN = "alice", "s3cret"


def _make_wheel(folder: Path) -> Path:
    """Write a tiny pure-python wheel ``privpkg-1.0`` (module ``privpkg``)."""
    wheel = folder / "privpkg-1.0-py3-none-any.whl"
    files = {
        "privpkg/__init__.py": b"VALUE = 42\n",
        "privpkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: privpkg\nVersion: 1.0\n",
        "privpkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={digest},{len(data)}\n"
    record += "privpkg-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("privpkg-1.0.dist-info/RECORD", record)
    return wheel


@pytest.fixture()
def private_index(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A PEP 503 index on 127.0.0.1 that answers only with basic auth; yields (host:port, paths seen)."""
    wheel = _make_wheel(tmp_path)
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def _answer(self, send_body: bool) -> None:
            seen.append(self.path)
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.end_headers()
                return
            if self.path.rstrip("/") == "/simple/privpkg":
                body = f'<html><body><a href="/files/{wheel.name}#sha256={sha}">{wheel.name}</a></body></html>'.encode()
                content_type = "text/html"
            elif self.path == f"/files/{wheel.name}":
                body, content_type = wheel.read_bytes(), "application/octet-stream"
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _env(index: str) -> Environment:
    env = Environment("private")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["privpkg==1.0"], python_version="3.11")
    env.python.conda_dependencies.set_pip_option(f"--extra-index-url {index}")
    return env


def test_wheelhouse_from_a_private_index_sends_credentials(private_index: tuple[str, list[str]], tmp_path: Path) -> None:
    host, seen = private_index
    env = _env(f"http://{USER}:{TOKEN}@{host}/simple")
    house = env.download_wheels(tmp_path / "w", python_version="3.11")
    assert any(w.name == "privpkg-1.0-py3-none-any.whl" for w in house.wheels)
    assert "/files/privpkg-1.0-py3-none-any.whl" in seen
    text = house.requirements_file.read_text()
    assert "privpkg==1.0 --hash=sha256:" in text and TOKEN not in text


def test_build_local_from_a_private_index(private_index: tuple[str, list[str]]) -> None:
    host, _ = private_index
    import subprocess

    build = _env(f"http://{USER}:{TOKEN}@{host}/simple").build_local()
    done = subprocess.run([str(build.python), "-c", "import privpkg; print(privpkg.VALUE)"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.stdout.strip() == "42", done.stderr


def test_wrong_credentials_fail_with_the_package_named(private_index: tuple[str, list[str]], tmp_path: Path) -> None:
    host, _ = private_index
    with pytest.raises(WheelDownloadError, match="privpkg"):
        _env(f"http://{USER}:wrong@{host}/simple").download_wheels(tmp_path / "w", python_version="3.11")
