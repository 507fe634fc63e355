"""child_paths and folder contents cannot escape the model folder (real symlinks, real files)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from jupyter_mldeploy import Model
from jupyter_mldeploy.errors import InvalidArgumentError, ModelPathError, PathEscapeError


def test_child_paths_pick_files_and_folders(make_tree) -> None:
    root = make_tree(
        "m", {"model.pkl": b"p", "notes.md": b"n", "assets/a.txt": b"a", "assets/deep/b.txt": b"b"}
    )
    model = Model.register(root, "picked", child_paths=["model.pkl", "assets", "./model.pkl"])
    assert [f.path for f in model.files] == ["m/assets/a.txt", "m/assets/deep/b.txt", "m/model.pkl"]
    one = Model.register(root, "one", child_paths="assets/deep/b.txt")
    assert [f.path for f in one.files] == ["m/assets/deep/b.txt"]
    assert (
        Path(one.download(root.parent / "out")).joinpath("assets", "deep", "b.txt").read_bytes()
        == b"b"
    )


@pytest.mark.parametrize("bad", ["../outside.txt", "assets/../../outside.txt", "..", "a/../.."])
def test_child_paths_with_dotdot_are_refused(make_tree, bad: str) -> None:
    root = make_tree("m", {"model.pkl": b"p", "assets/a.txt": b"a"})
    (root.parent / "outside.txt").write_bytes(b"secret")
    with pytest.raises(PathEscapeError, match="contains '..' and would leave the model folder"):
        Model.register(root, "m", child_paths=[bad])
    assert Model.list() == []


def test_absolute_child_paths_are_refused(make_tree, tmp_path: Path) -> None:
    root = make_tree("m", {"model.pkl": b"p"})
    with pytest.raises(PathEscapeError, match="is absolute"):
        Model.register(root, "m", child_paths=[str(root / "model.pkl")])
    with pytest.raises(PathEscapeError, match="is absolute"):
        Model.register(root, "m", child_paths=["/etc/passwd"])
    with pytest.raises(PathEscapeError, match="is absolute"):
        Model.register(root, "m", child_paths=["C:\\Windows\\win.ini"])


def test_missing_and_wrong_child_paths(make_tree) -> None:
    root = make_tree("m", {"model.pkl": b"p"})
    with pytest.raises(ModelPathError, match="child path 'nope.pkl' does not exist"):
        Model.register(root, "m", child_paths=["nope.pkl"])
    with pytest.raises(InvalidArgumentError, match="child_paths is an empty list"):
        Model.register(root, "m", child_paths=[])
    with pytest.raises(InvalidArgumentError, match="is a file"):
        Model.register(root / "model.pkl", "m", child_paths=["model.pkl"])


def test_symlink_to_outside_file_is_refused(make_tree, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"do not store me")
    root = make_tree("m", {"model.pkl": b"p"})
    os.symlink(secret, root / "innocent.txt")
    with pytest.raises(PathEscapeError, match="innocent.txt in the model folder is a symlink to"):
        Model.register(root, "m")
    with pytest.raises(PathEscapeError, match="outside the model folder"):
        Model.register(root, "m", child_paths=["innocent.txt"])
    # picking only the files inside works
    assert [f.path for f in Model.register(root, "m", child_paths=["model.pkl"]).files] == [
        "m/model.pkl"
    ]


def test_symlinked_folder_to_outside_is_refused(make_tree, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_bytes(b"x")
    root = make_tree("m", {"model.pkl": b"p"})
    os.symlink(outside, root / "linked", target_is_directory=True)
    with pytest.raises(PathEscapeError, match="outside the folder"):
        Model.register(root, "m")
    with pytest.raises(PathEscapeError, match="outside the model folder"):
        Model.register(root, "m", child_paths=["linked/x.txt"])


def test_relative_symlink_climbing_out_is_refused(make_tree, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_bytes(b"secret")
    root = make_tree("m", {"sub/model.pkl": b"p"})
    os.symlink("../../secret.txt", root / "sub" / "climb.txt")
    with pytest.raises(PathEscapeError):
        Model.register(root, "m")


def test_symlinks_inside_the_folder_are_stored_as_their_targets(make_tree) -> None:
    root = make_tree("m", {"real/model.pkl": b"weights", "real/vocab.txt": b"words"})
    os.symlink("real/model.pkl", root / "alias.pkl")
    os.symlink("real", root / "alias-dir", target_is_directory=True)
    model = Model.register(root, "links")
    files = {f.path: f for f in model.files}
    assert set(files) == {
        "m/alias.pkl",
        "m/alias-dir/model.pkl",
        "m/alias-dir/vocab.txt",
        "m/real/model.pkl",
        "m/real/vocab.txt",
    }
    assert files["m/alias.pkl"].sha256 == files["m/real/model.pkl"].sha256
    out = Path(model.download(root.parent / "out"))
    assert (out / "alias.pkl").read_bytes() == b"weights"
    assert not (out / "alias.pkl").is_symlink()


def test_symlink_loop_inside_the_folder_terminates(make_tree) -> None:
    root = make_tree("m", {"sub/model.pkl": b"p"})
    os.symlink("..", root / "sub" / "up", target_is_directory=True)
    model = Model.register(root, "loop")
    assert "m/sub/model.pkl" in [f.path for f in model.files]
    assert len(model.files) < 10


def test_broken_symlink_and_special_files(make_tree) -> None:
    root = make_tree("m", {"model.pkl": b"p"})
    os.symlink("gone.txt", root / "dangling.txt")
    with pytest.raises(
        ModelPathError, match="dangling.txt in the model folder is a broken symlink"
    ):
        Model.register(root, "m")
    os.unlink(root / "dangling.txt")
    os.mkfifo(root / "pipe")
    with pytest.raises(ModelPathError, match="pipe in the model folder is not a regular file"):
        Model.register(root, "m")


def test_download_refuses_paths_altered_in_the_database(make_tree, mldeploy_home: Path) -> None:
    model = Model.register(make_tree("m", {"model.pkl": b"p", "b.txt": b"b"}), "m")
    conn = sqlite3.connect(mldeploy_home / "registry.db")
    with conn:
        conn.execute("UPDATE model_files SET path = 'm/../../escaped.txt' WHERE path = 'm/b.txt'")
    conn.close()
    target = mldeploy_home.parent / "download-here"
    with pytest.raises(PathEscapeError, match="would leave the download folder"):
        Model("m", 1).download(target)
    assert not (mldeploy_home.parent.parent / "escaped.txt").exists()
    assert not target.exists()
    assert model.id == "m:1"


def test_download_never_writes_through_a_folder_link_planted_in_the_target(tmp_path: Path) -> None:
    """``models download --exist-ok`` into a folder holding ``mf -> /elsewhere``: nothing lands in /elsewhere."""
    from jupyter_mldeploy import Model
    from jupyter_mldeploy.cli import main

    (tmp_path / "mf").mkdir()
    (tmp_path / "mf" / "a.txt").write_text("model bytes")
    Model.register(str(tmp_path / "mf"), "linked")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "dl"
    target.mkdir()
    (target / "mf").symlink_to(elsewhere)
    assert main(["models", "download", "linked:1", str(target), "--exist-ok"]) == 0
    assert list(elsewhere.iterdir()) == []  # the planted link's target is untouched
    assert not (target / "mf").is_symlink() and (target / "mf" / "a.txt").read_text() == "model bytes"
