"""README's main job (scripts/demo.py) runs as a newcomer would run it."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_demo_registers_lists_deploys_and_scores(mldeploy_home: Path) -> None:
    env = {**os.environ, "MLDEPLOY_HOME": str(mldeploy_home)}
    mldeploy = str(Path(sys.executable).with_name("mldeploy"))
    try:
        for expected_version in (1, 2):  # a second run registers the next version and redeploys
            out = subprocess.run(
                [sys.executable, str(ROOT / "scripts" / "demo.py")],
                env=env, capture_output=True, text=True, timeout=180,
            )
            assert out.returncode == 0, out.stderr
            assert f"registered Model(name='diabetes-ridge', version={expected_version}" in out.stdout
            assert f"diabetes-ridge:{expected_version}" in out.stdout
            assert "[init] done" in out.stdout
            predictions = re.search(r"->  \[([-\d.e]+), ([-\d.e]+)\]", out.stdout)
            assert predictions, out.stdout
            # Ridge on the diabetes data predicts values in the target's range (25..346)
            assert all(0 < float(v) < 400 for v in predictions.groups())
        services = subprocess.run([mldeploy, "services"], env=env, capture_output=True, text=True)
        assert "diabetes-ridge" in services.stdout and "Healthy" in services.stdout
        assert "diabetes-ridge:2" in services.stdout
    finally:
        subprocess.run([mldeploy, "delete", "diabetes-ridge"], env=env, capture_output=True)


@pytest.mark.slow
def test_lab_opens_the_first_tutorial_from_a_working_copy(tmp_path: Path, mldeploy_home: Path) -> None:
    """README's `scripts/lab`: JupyterLab (token auth, 127.0.0.1) serving a copy of the tutorials."""
    import secrets
    import signal
    import time
    import urllib.request

    from jupyter_mldeploy._net import free_port

    work = tmp_path / "tutorials"
    work.mkdir()
    mine = work / "02-yours.ipynb"  # a notebook already there is never overwritten
    mine.write_text("{}")
    edited = work / "01-deploy-from-a-notebook.ipynb"
    edited.write_text((ROOT / "notebooks" / edited.name).read_text().replace('"# ', '"# My tutorial: ', 1))
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "MLDEPLOY_HOME": str(mldeploy_home),
        "MLDEPLOY_TUTORIALS": str(work),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    log = (tmp_path / "lab.log").open("wb")
    lab = subprocess.Popen(
        [str(ROOT / "scripts" / "lab"), "--no-browser", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert lab.poll() is None, (tmp_path / "lab.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "lab.log").read_text()
            time.sleep(0.3)
        request = urllib.request.Request(f"{base}/api/contents/{edited.name}")
        with pytest.raises(urllib.error.HTTPError) as denied:  # token auth is on
            urllib.request.urlopen(request, timeout=10)
        assert denied.value.code == 403
        denied.value.close()
        request.add_header("Authorization", f"token {token}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            notebook = __import__("json").load(answer)
        assert notebook["type"] == "notebook"
        assert "My tutorial" in edited.read_text()  # kept, not overwritten by the repo copy
        for nb in (ROOT / "notebooks").glob("*.ipynb"):
            assert (work / nb.name).exists(), nb.name
            assert f"[lab]   {nb.name}" in (tmp_path / "lab.log").read_text(), f"scripts/lab lists {nb.name}"
        assert f"{edited.name}" in (tmp_path / "lab.log").read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
        log.close()
