"""InferenceConfig checks the entry script at once and says where it looked."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_mldeploy import Environment, InferenceConfig
from jupyter_mldeploy.errors import CondaOnlyPackageError, EntryScriptError, InvalidArgumentError


@pytest.fixture()
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    (folder / "pkg").mkdir(parents=True)
    (folder / "score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    (folder / "helpers.py").write_text("")
    (folder / "pkg" / "nested_score.py").write_text("")
    return folder


def test_script_relative_to_source_directory(src: Path) -> None:
    config = InferenceConfig(entry_script="score.py", source_directory=str(src))
    assert config.entry_script_path == src / "score.py"
    assert config.source_directory_path == src
    assert config.entry_script_relative == "score.py"
    assert config.to_dict()["entry_script_path"] == str(src / "score.py")
    assert "entry_script='score.py'" in repr(config)


def test_nested_script(src: Path) -> None:
    config = InferenceConfig("pkg/nested_score.py", source_directory=src)
    assert config.entry_script_relative == "pkg/nested_score.py"


def test_script_relative_to_current_folder(src: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(src.parent)
    config = InferenceConfig(entry_script="src/score.py")
    assert config.entry_script_path == src / "score.py"
    assert config.source_directory_path == src


def test_missing_script_says_where_it_looked_and_what_is_there(src: Path) -> None:
    with pytest.raises(EntryScriptError) as caught:
        InferenceConfig(entry_script="scor.py", source_directory=src)
    message = str(caught.value)
    assert f"looked at {src / 'scor.py'}" in message
    assert ".py files in" in message and "helpers.py, score.py" in message
    assert isinstance(caught.value, EntryScriptError)


def test_missing_script_without_source_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EntryScriptError, match=rf"looked at {tmp_path / 'score.py'} \(relative to the current folder"):
        InferenceConfig("score.py")


def test_missing_source_directory(tmp_path: Path) -> None:
    with pytest.raises(EntryScriptError, match=rf"source_directory .* is not a folder \(looked at {tmp_path / 'nope'}\)"):
        InferenceConfig("score.py", source_directory=tmp_path / "nope")


def test_script_outside_source_directory_is_refused(src: Path, tmp_path: Path) -> None:
    outside = tmp_path / "other.py"
    outside.write_text("")
    with pytest.raises(EntryScriptError, match="is outside source_directory"):
        InferenceConfig(str(outside), source_directory=src)


def test_environment_and_conda_file(src: Path) -> None:
    env = Environment("e")
    config = InferenceConfig("score.py", source_directory=src, environment=env)
    assert config.environment is env
    (src / "env.yml").write_text("dependencies:\n  - python=3.11\n  - pip:\n    - six\n")
    from_conda = InferenceConfig("score.py", source_directory=src, conda_file="env.yml", base_image="img:1")
    assert from_conda.environment is not None
    assert from_conda.environment.get_pip_requirements() == ["six"]
    assert from_conda.environment.docker.base_image == "img:1"
    (src / "gpu.yml").write_text("dependencies:\n  - cudatoolkit\n")
    with pytest.raises(CondaOnlyPackageError, match="cudatoolkit"):
        InferenceConfig("score.py", source_directory=src, conda_file="gpu.yml")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"runtime": "spark-py"}, "only Python entry scripts"),
        ({"environment": "not-an-env"}, "environment must be an Environment"),
        ({"environment": Environment("x"), "conda_file": "env.yml"}, "either environment= or conda_file="),
    ],
)
def test_bad_arguments(src: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        InferenceConfig("score.py", source_directory=src, **kwargs)  # type: ignore[arg-type]
