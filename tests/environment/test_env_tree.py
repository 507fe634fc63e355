"""The host-built environment of Docker deployments: what a tree pins, and which tree a new one starts from."""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_mldeploy.environment.env_tree import META, _parent, _pins


def _tree(root: Path, name: str, pins: list[str], python: str = "3.11") -> Path:
    folder = root / name
    (folder / "site-packages").mkdir(parents=True)
    (folder / META).write_text(json.dumps({"pins": pins, "python_version": python}))
    return folder


def test_pins_are_canonical_and_leave_the_runtime_out(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# comment\n"
        "Scikit_Learn==1.5.1 \\\n    --hash=sha256:abc\n"
        "numpy==2.0.0 ; python_version >= '3.9'\n"
        "jupyter-mldeploy==0.1.0+gabc\n"
        "-e ./local\n"
    )
    assert _pins(requirements) == {"scikit-learn==1.5.1", "numpy==2.0.0"}


def test_a_new_tree_starts_from_the_largest_tree_it_only_adds_to(tmp_path: Path) -> None:
    _tree(tmp_path, "small", ["six==1.0"])
    best = _tree(tmp_path, "large", ["six==1.0", "numpy==2.0"])
    _tree(tmp_path, "other-version", ["six==1.0", "numpy==1.9", "toolz==1.0"])  # would downgrade numpy
    _tree(tmp_path, "other-python", ["six==1.0", "numpy==2.0", "toolz==1.0"], python="3.12")
    (tmp_path / "unfinished" / "site-packages").mkdir(parents=True)  # no tree.json: still being built
    wanted = {"six==1.0", "numpy==2.0", "toolz==1.0"}
    assert _parent(tmp_path, wanted, "3.11", exclude="new") == best
    assert _parent(tmp_path, wanted, "3.11", exclude="large") == tmp_path / "small"
    assert _parent(tmp_path, {"pandas==2.0"}, "3.11", exclude="new") is None
