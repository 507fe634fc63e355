"""requirements.txt reading: comments, includes, options, paths, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_mldeploy.environment._requirements import (
    normalize_requirement,
    parse_pip_lines,
    read_requirements_file,
)
from jupyter_mldeploy.errors import EnvironmentSpecError


def test_reads_requirements_options_and_includes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("requests>=2  # http\n--extra-index-url https://extra.example/simple\n")
    (tmp_path / "requirements.txt").write_text(
        "# comment\n\n-r base.txt\nPyYAML==6.0.1 \\\n    --hash=sha256:abc\nScikit_Learn[Alldeps] >= 1.0; python_version >= '3.8'\n--pre\n"
    )
    parsed = read_requirements_file(tmp_path / "requirements.txt")
    assert parsed.requirements == [
        "requests>=2",
        "pyyaml==6.0.1",
        'scikit-learn[alldeps]>=1.0; python_version >= "3.8"',
    ]
    assert parsed.extra_index_urls == ["https://extra.example/simple"]
    assert parsed.pre is True
    assert any("--hash" in note for note in parsed.notes)


def test_wheel_paths_become_named_file_urls(tmp_path: Path) -> None:
    wheel = tmp_path / "dist" / "my_pkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"not really a wheel")
    (tmp_path / "requirements.txt").write_text("./dist/my_pkg-1.0-py3-none-any.whl\n")
    parsed = read_requirements_file(tmp_path / "requirements.txt")
    assert parsed.requirements == [f"my-pkg @ {wheel.resolve().as_uri()}"]


def test_missing_package_file_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("./dist/gone-1.0-py3-none-any.whl\n")
    with pytest.raises(EnvironmentSpecError, match=r"gone-1.0-py3-none-any.whl does not exist"):
        read_requirements_file(tmp_path / "requirements.txt")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-e .", "editable installs cannot go into a deployment environment"),
        ("-c constraints.txt", "constraint files are not supported"),
        ("--no-index", "--no-index is not supported"),
        ("--frobnicate", "the pip option '--frobnicate' is not supported"),
        ("numpy >>= 1", "is not a valid pip requirement"),
    ],
)
def test_refused_lines_say_what_to_do(line: str, message: str) -> None:
    with pytest.raises(EnvironmentSpecError, match=message):
        parse_pip_lines([line], where="req.txt")


def test_missing_file_names_the_absolute_path(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentSpecError, match=rf"{tmp_path}/nope.txt does not exist"):
        read_requirements_file(tmp_path / "nope.txt")


def test_include_loops_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r b.txt\n")
    (tmp_path / "b.txt").write_text("-r a.txt\n")
    with pytest.raises(EnvironmentSpecError, match="includes itself"):
        read_requirements_file(tmp_path / "a.txt")


def test_normalize_requirement_is_canonical() -> None:
    assert normalize_requirement("Foo_Bar [b,A] <2 , >=1") == "foo-bar[a,b]<2,>=1"
    assert normalize_requirement("x @ https://h/x-1.whl ; sys_platform == 'linux'") == (
        'x @ https://h/x-1.whl ; sys_platform == "linux"'
    )
