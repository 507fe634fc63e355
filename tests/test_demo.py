"""README's main job (scripts/demo.py) runs as a newcomer would run it."""

from __future__ import annotations

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
