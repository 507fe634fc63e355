"""Which environment changes a running server can take without a restart (only added packages), and the words for the rest."""

from __future__ import annotations

from jupyter_mldeploy.environment.changes import compare_installed, installed_pins

OLD = {"numpy": "2.4.6", "scikit-learn": "1.9.1", "six": "1.17.0"}


def test_only_additions_are_swappable_and_say_what_is_added() -> None:
    change = compare_installed(OLD, {**OLD, "tabulate": "0.10.0", "toolz": "1.0.0"}, "3.11", "3.11")
    assert change.swappable and change.reason is None
    assert change.summary == "adds tabulate==0.10.0, toolz==1.0.0"
    same = compare_installed(OLD, dict(OLD), "3.11", "3.11")  # a requirement that was there already (transitively)
    assert same.swappable and same.summary == "has the same packages"


def test_anything_else_restarts_and_names_what_moved() -> None:
    moved = compare_installed(OLD, {**OLD, "numpy": "2.4.5", "tabulate": "0.10.0"}, "3.11", "3.11")
    assert not moved.swappable and moved.reason == "the environment changed numpy 2.4.6 -> 2.4.5"
    assert moved.added == ("tabulate==0.10.0",)
    removed = compare_installed(OLD, {"numpy": "2.4.6"}, "3.11", "3.11")
    assert removed.reason == "the environment changed scikit-learn removed, six removed"
    python = compare_installed(OLD, {**OLD, "toolz": "1.0.0"}, "3.11", "3.12")
    assert python.reason == "the environment's Python changed (3.11 -> 3.12)"
    image = compare_installed(OLD, OLD, "3.11", "3.11", [("base image", "a:1", "b:2")])
    assert image.reason == "the base image changed (a:1 -> b:2)"
    many = compare_installed({f"p{i}": "1" for i in range(8)}, {}, "3.11", "3.11")
    assert many.reason is not None and many.reason.endswith("and 5 more")


def test_pins_from_freeze_and_wheelhouse_lines() -> None:
    pins = installed_pins([
        "# Written by jupyter-mldeploy", "NumPy==2.4.6 --hash=sha256:abc", "scikit_learn==1.9.1",
        "jupyter-mldeploy==0.1.0+g123", "localpkg @ file:///tmp/localpkg-1.0-py3-none-any.whl", "",
    ])
    # the runtime is left out (every environment has it); a local file counts by its URL
    assert pins == {"numpy": "2.4.6", "scikit-learn": "1.9.1", "localpkg": "file:///tmp/localpkg-1.0-py3-none-any.whl"}
