"""The Azure-style Model API over a real registry in a fresh MLDEPLOY_HOME."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest
from registry_helpers import object_files, sha256_of

import jupyter_mldeploy
from jupyter_mldeploy import Model
from jupyter_mldeploy.errors import (
    IntegrityError,
    InvalidArgumentError,
    InvalidNameError,
    ModelNotFoundError,
    ModelPathError,
    TargetExistsError,
)
from jupyter_mldeploy.registry import Registry, default_registry


def test_model_is_exported_lazily_from_the_package() -> None:
    from jupyter_mldeploy.registry.model import Model as RegisteredModel

    assert jupyter_mldeploy.Model is Model
    # the registry's Model, with Azure's static deploy/package added above the deployment layer
    assert issubclass(Model, RegisteredModel) and Model.__module__ == "jupyter_mldeploy.api"
    assert callable(Model.deploy) and callable(Model.package)
    assert not hasattr(RegisteredModel, "deploy")  # the registry knows nothing of deployments


def test_register_single_file(tmp_path: Path) -> None:
    source = tmp_path / "model.pkl"
    source.write_bytes(b"weights" * 1000)
    model = Model.register(
        str(source),
        "ridge",
        tags={"stage": "dev"},
        properties={"accuracy": 0.93},
        description="a ridge model",
        model_framework="ScikitLearn",
        model_framework_version="1.5.0",
    )
    assert (model.name, model.version, model.id) == ("ridge", 1, "ridge:1")
    assert model.tags == {"stage": "dev"}
    assert model.properties == {"accuracy": "0.93"}
    assert model.description == "a ridge model"
    assert model.framework == model.model_framework == "ScikitLearn"
    assert model.framework_version == "1.5.0"
    assert model.created_time.tzinfo is not None
    assert abs((datetime.now(timezone.utc) - model.created_time).total_seconds()) < 3600
    [entry] = model.files
    assert (entry.path, entry.size, entry.sha256) == ("model.pkl", 7000, sha256_of(source))
    assert model.size == 7000


def test_register_folder_stores_posix_paths_under_the_folder_name(
    make_tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in Azure ML, a folder model keeps its folder's name: model_dir/model.pkl."""
    root = make_tree(
        "model_dir", {"model.pkl": b"a" * 10, "sub/deep/vocab.txt": b"words", "conf.json": b"{}"}
    )
    model = Model.register(root, "folder-model")
    assert [f.path for f in model.files] == [
        "model_dir/conf.json",
        "model_dir/model.pkl",
        "model_dir/sub/deep/vocab.txt",
    ]
    by_path = {f.path: f for f in model.files}
    assert by_path["model_dir/sub/deep/vocab.txt"].sha256 == sha256_of(
        root / "sub" / "deep" / "vocab.txt"
    )
    assert model.record.kind == "folder"
    assert model.record.root == "model_dir"
    # a trailing slash or a relative "." path names the same folder
    assert Model.register(str(root) + "/", "folder-model").files == model.files
    monkeypatch.chdir(root)
    assert Model.register(".", "folder-model").files == model.files


def test_versions_count_up_per_name(make_tree) -> None:
    a = make_tree("a", {"f": b"1"})
    assert [Model.register(a, "one").version for _ in range(3)] == [1, 2, 3]
    assert Model.register(a, "two").version == 1
    assert Model("one").version == 3
    assert Model("two").version == 1


def test_identical_content_is_stored_once(make_tree, mldeploy_home: Path) -> None:
    root = make_tree("m", {"a.bin": b"x" * 100, "b.bin": b"x" * 100, "c.bin": b"other"})
    Model.register(root, "dedup")
    assert len(object_files(mldeploy_home)) == 2
    Model.register(root, "dedup")
    Model.register(root / "c.bin", "another-name")
    assert len(object_files(mldeploy_home)) == 2
    big = make_tree("big", {"large.bin": os.urandom(6 << 20)})  # above the small-file limit
    Model.register(big, "big")
    Model.register(big, "big")
    assert len(object_files(mldeploy_home)) == 3
    assert not list((mldeploy_home / "tmp" / "objects").iterdir())


def test_get_by_name_version_and_id(make_tree) -> None:
    root = make_tree("m", {"f": b"1"})
    Model.register(root, "ridge")
    Model.register(root, "ridge")
    assert Model("ridge").version == 2
    assert Model("ridge", 1).version == 1
    assert Model("ridge", version=1).id == "ridge:1"
    assert Model.get("ridge").version == 2
    assert Model.get("ridge", 1).version == 1
    assert Model(id="ridge:1").version == 1
    assert Model(name="ridge").version == 2
    assert Model("ridge") == Model.get("ridge", 2)
    assert Model("ridge") != Model("ridge", 1)


def test_azure_style_calls_with_a_workspace_argument(make_tree) -> None:
    ws = object()  # stands for an azureml Workspace: accepted and ignored
    root = make_tree("m", {"f": b"1"})
    model = Model.register(ws, model_path=str(root), model_name="ported")
    assert model.id == "ported:1"
    assert Model.register(ws, str(root), "ported").version == 2
    assert (
        Model.register(workspace=ws, model_path=root, model_name="ported", datasets=[]).version == 3
    )
    assert Model(ws, "ported", version=1).id == "ported:1"
    assert Model(ws, name="ported").version == 3
    assert [m.version for m in Model.list(ws, name="ported")] == [3, 2, 1]
    assert Model.get_model_path("ported", 1, ws).endswith("/1/m")


def test_list_newest_first_with_azure_filters(make_tree) -> None:
    root = make_tree("m", {"f": b"1"})
    Model.register(root, "a", tags={"stage": "dev"})
    Model.register(root, "b", tags={"stage": "prod", "team": "x"}, properties={"auc": "0.9"})
    Model.register(root, "a", tags={"stage": "prod"})
    assert [m.id for m in Model.list()] == ["a:2", "b:1", "a:1"]
    assert [m.id for m in Model.list(name="a")] == ["a:2", "a:1"]
    assert [m.id for m in Model.list(tags=["team"])] == ["b:1"]
    assert [m.id for m in Model.list(tags=[["stage", "prod"]])] == ["a:2", "b:1"]
    assert [m.id for m in Model.list(tags=[["stage", "prod"], ["team"]])] == ["b:1"]
    assert [m.id for m in Model.list(tags=["stage"], name="a")] == ["a:2", "a:1"]
    assert [m.id for m in Model.list(properties=[["auc", "0.9"]])] == ["b:1"]
    assert [m.id for m in Model.list(properties=["missing"])] == []
    assert [m.id for m in Model.list(latest=True)] == ["a:2", "b:1"]
    with pytest.raises(InvalidArgumentError, match="bad tags filter"):
        Model.list(tags=[{"stage": "dev"}])


def test_tags_properties_description(make_tree) -> None:
    model = Model.register(make_tree("m", {"f": b"1"}), "ridge", tags={"a": "1"})
    model.add_tags({"b": "2", "a": "3"})
    assert model.tags == {"a": "3", "b": "2"}
    model.remove_tags(["a", "not-there"])
    assert Model("ridge").tags == {"b": "2"}
    model.add_properties({"acc": "0.9"})
    model.add_properties({"acc": "0.9", "f1": "0.8"})  # same value again is fine
    with pytest.raises(InvalidArgumentError, match="properties are add-only") as err:
        model.add_properties({"acc": "0.5"})
    assert "'acc'" in str(err.value) and "'0.9'" in str(err.value)
    assert Model("ridge").properties == {"acc": "0.9", "f1": "0.8"}
    model.update(description="new text")
    assert Model("ridge").description == "new text"
    assert Model("ridge").tags == {"b": "2"}  # tags untouched when not given
    model.update(tags={"only": "this"})
    fresh = Model("ridge")
    assert fresh.tags == {"only": "this"}
    assert fresh.description == "new text"
    model.update_tags_properties(
        add_tags={"x": "1"}, remove_tags=["only"], add_properties={"z": "9"}
    )
    fresh.reload()
    assert fresh.tags == {"x": "1"}
    assert fresh.properties["z"] == "9"
    with pytest.raises(InvalidArgumentError, match="tags must be a dict"):
        model.add_tags(["a"])  # type: ignore[arg-type]


def test_delete_never_reuses_numbers_and_frees_only_unshared_bytes(
    make_tree, mldeploy_home: Path
) -> None:
    shared = make_tree("one", {"shared.bin": b"s" * 50, "own1.bin": b"first"})
    other = make_tree("two", {"shared.bin": b"s" * 50, "own2.bin": b"second"})
    Model.register(shared, "m")
    Model.register(other, "m")
    assert len(object_files(mldeploy_home)) == 3
    Model("m", 2).delete()
    assert len(object_files(mldeploy_home)) == 2  # own2 freed, shared kept for m:1
    with pytest.raises(ModelNotFoundError, match="its versions are: 1"):
        Model("m", 2)
    assert Model.register(other, "m").version == 3
    Model("m", 1).delete()
    Model("m", 3).delete()
    assert object_files(mldeploy_home) == []
    assert Model.register(other, "m").version == 4


def test_download_file_and_folder_models(make_tree, tmp_path: Path) -> None:
    root = make_tree("m", {"model.pkl": b"pickle", "sub/vocab.txt": b"words"})
    folder_model = Model.register(root, "folder")
    file_model = Model.register(root / "model.pkl", "file")
    out = folder_model.download(tmp_path / "out1")
    assert out == str(tmp_path / "out1" / "m")  # Azure returns the model's folder
    assert (tmp_path / "out1" / "m" / "sub" / "vocab.txt").read_bytes() == b"words"
    assert (tmp_path / "out1" / "m" / "model.pkl").read_bytes() == b"pickle"
    assert [p.name for p in (tmp_path / "out1").iterdir()] == ["m"]
    path = file_model.download(tmp_path / "out2")
    assert path == str(tmp_path / "out2" / "model.pkl")
    assert Path(path).read_bytes() == b"pickle"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_download_onto_existing_folder_needs_exist_ok(make_tree, tmp_path: Path) -> None:
    model = Model.register(make_tree("m", {"model.pkl": b"new", "b.txt": b"b"}), "m")
    target = tmp_path / "existing"
    (target / "m").mkdir(parents=True)
    (target / "m" / "model.pkl").write_bytes(b"old")
    (target / "m" / "keep.txt").write_bytes(b"mine")
    with pytest.raises(TargetExistsError, match="exists already: pass exist_ok=True"):
        model.download(target)
    assert (target / "m" / "model.pkl").read_bytes() == b"old"
    assert model.download(target, exist_ok=True) == str(target / "m")
    assert (target / "m" / "model.pkl").read_bytes() == b"new"
    assert (target / "m" / "keep.txt").read_bytes() == b"mine"
    assert (target / "m" / "b.txt").read_bytes() == b"b"
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(TargetExistsError, match="not a folder"):
        model.download(afile, exist_ok=True)


def test_download_detects_altered_blobs(make_tree, mldeploy_home: Path, tmp_path: Path) -> None:
    model = Model.register(make_tree("m", {"model.pkl": b"genuine bytes"}), "m")
    [blob] = object_files(mldeploy_home)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"tampered bytes")
    with pytest.raises(IntegrityError, match="was altered") as err:
        model.download(tmp_path / "out")
    assert model.files[0].sha256 in str(err.value)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    blob.unlink()
    with pytest.raises(IntegrityError, match="is missing"):
        model.download(tmp_path / "out")


def test_get_model_path_returns_a_read_only_copy(make_tree, mldeploy_home: Path) -> None:
    root = make_tree("m", {"model.pkl": b"pickle", "sub/vocab.txt": b"words"})
    Model.register(root / "model.pkl", "file-model")
    Model.register(root, "folder-model")
    file_path = Path(Model.get_model_path("file-model"))
    assert file_path.name == "model.pkl" and file_path.read_bytes() == b"pickle"
    assert file_path.is_relative_to(mldeploy_home.resolve())
    assert not file_path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    folder = Path(Model.get_model_path("folder-model", version=1))
    assert folder.name == "m" and folder.parent.name == "1"
    assert folder.is_dir() and (folder / "sub" / "vocab.txt").read_bytes() == b"words"
    assert Model.get_model_path("folder-model") == str(folder)  # reused, not copied again
    with pytest.raises(ModelNotFoundError):
        Model.get_model_path("absent")
    Model("folder-model", 1).delete()
    assert not folder.exists()


def test_repr_to_dict_and_json(make_tree) -> None:
    root = make_tree("m", {"a.bin": b"a" * 12_000, "b.bin": b"b" * 400})
    model = Model.register(root, "ridge", tags={"stage": "dev"})
    assert (
        repr(model)
        == "Model(name='ridge', version=1, files=2, size=12.4 kB, tags={'stage': 'dev'})"
    )
    data = json.loads(json.dumps(model.to_dict()))
    assert data["id"] == "ridge:1"
    assert data["size"] == 12_400
    assert data["files"][0] == {
        "path": "m/a.bin",
        "size": 12_000,
        "sha256": sha256_of(root / "a.bin"),
    }
    assert datetime.fromisoformat(data["created_time"]) == model.created_time
    assert model.serialize() == model.to_dict()


def test_not_found_errors_list_what_exists(make_tree) -> None:
    with pytest.raises(ModelNotFoundError, match="the registry at .* is empty"):
        Model("ghost")
    root = make_tree("m", {"f": b"1"})
    for name in ["alpha", "beta", "gamma"]:
        Model.register(root, name)
    Model.register(root, "alpha")
    with pytest.raises(ModelNotFoundError) as err:
        Model("alpah")
    assert "no model named 'alpah'" in str(err.value)
    assert "3 model name(s) exist: 'alpha', 'beta', 'gamma'" in str(err.value)
    with pytest.raises(
        ModelNotFoundError, match=r"model 'alpha' has no version 5; its versions are: 1, 2"
    ):
        Model("alpha", 5)
    with pytest.raises(LookupError):  # also a built-in LookupError for existing code
        Model.get("beta", 2)


def test_many_names_are_summarised(make_tree) -> None:
    root = make_tree("m", {"f": b"1"})
    reg = default_registry()
    for i in range(12):
        reg.register(root, f"model-{i:02d}")
    with pytest.raises(ModelNotFoundError, match=r"12 model name\(s\) exist: .* and 2 more"):
        Model("nope")


def test_bad_input_errors(make_tree, tmp_path: Path) -> None:
    root = make_tree("m", {"f": b"1"})
    with pytest.raises(InvalidNameError, match="invalid model name 'bad/name'"):
        Model.register(root, "bad/name")
    with pytest.raises(InvalidNameError):
        Model.register(root, "..")
    with pytest.raises(ModelPathError, match="does not exist"):
        Model.register(tmp_path / "missing.pkl", "m")
    with pytest.raises(FileNotFoundError):  # ModelPathError is also a FileNotFoundError
        Model.register(tmp_path / "missing.pkl", "m")
    with pytest.raises(ModelPathError, match="model_path is empty"):
        Model.register("", "m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelPathError, match="has no files"):
        Model.register(tmp_path / "empty", "m")
    (tmp_path / "zero.pkl").write_bytes(b"")
    with pytest.raises(ModelPathError, match="is empty"):
        Model.register(tmp_path / "zero.pkl", "m")
    with pytest.raises(InvalidArgumentError, match="needs model_name"):
        Model.register(root)
    Model.register(root, "m")
    with pytest.raises(InvalidArgumentError, match="version must be a positive integer"):
        Model("m", 0)
    with pytest.raises(InvalidArgumentError, match="version must be a positive integer"):
        Model("m", version="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="keys must be non-empty strings"):
        Model.register(root, "m", tags={"": "x"})
    with pytest.raises(TypeError, match="unexpected keyword"):
        Model.register(root, "m", colour="blue")
    with pytest.raises(InvalidArgumentError, match="run_id filters are not supported"):
        Model.list(run_id="abc")


def test_explicit_registry_is_independent_of_mldeploy_home(make_tree, tmp_path: Path) -> None:
    root = make_tree("m", {"f": b"1"})
    with Registry(tmp_path / "other-home") as other:
        record = other.register(root, "private")
    assert record.id == "private:1"
    assert (tmp_path / "other-home" / "registry.db").exists()
    assert Model.list() == []
    assert Model.get("private", registry=other).version == 1
    assert [m.id for m in Model.list(registry=other)] == ["private:1"]


def test_default_registry_follows_mldeploy_home_at_call_time(
    make_tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree("m", {"f": b"1"})
    Model.register(root, "first-home")
    monkeypatch.setenv("MLDEPLOY_HOME", str(tmp_path / "second"))
    assert default_registry().home == (tmp_path / "second").resolve()
    assert Model.list() == []
    Model.register(root, "second-home")
    assert [m.name for m in Model.list()] == ["second-home"]


def test_get_model_path_replaces_a_copy_from_an_older_registry(
    make_tree, mldeploy_home: Path
) -> None:
    """A copy left under models/NAME/1 by a registry that was reset is not served for a new ridge:1."""
    stale = mldeploy_home / "models" / "ridge" / "1"
    stale.mkdir(parents=True)
    (stale / "model.pkl").write_bytes(b"an old model")
    Model.register(make_tree("m", {"model.pkl": b"the new model"}) / "model.pkl", "ridge")
    path = Path(Model.get_model_path("ridge"))
    assert path.read_bytes() == b"the new model"
    assert Path(Model.get_model_path("ridge", 1)) == path


def test_constructor_filters_and_id_rules(make_tree) -> None:
    root = make_tree("m", {"f": b"1"})
    Model.register(root, "ridge", tags={"stage": "prod"}, model_framework="ScikitLearn")
    Model.register(root, "ridge", tags={"stage": "dev"})
    assert Model("ridge", tags=[["stage", "prod"]]).version == 1
    assert Model("ridge", tags=["stage"]).version == 2
    assert Model("ridge", model_framework="ScikitLearn").version == 1
    with pytest.raises(ModelNotFoundError, match="no version of model 'ridge' matches"):
        Model("ridge", tags=[["stage", "qa"]])
    with pytest.raises(InvalidArgumentError, match="either name .* or id"):
        Model("ridge", id="ridge:1")
    with pytest.raises(InvalidArgumentError, match="numeric version"):
        Model(id="ridge:latest")
    with pytest.raises(InvalidArgumentError, match="needs a name"):
        Model()
    assert Model(id="ridge").version == 2
    assert [m.version for m in Model.list("ridge", model_framework="ScikitLearn")] == [1]


def test_switching_homes_does_not_leak_open_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc")
    for i in range(5):  # warm up: the cache holds a few homes
        monkeypatch.setenv("MLDEPLOY_HOME", str(tmp_path / f"warm{i}"))
        default_registry().list()
    before = open_fds()
    for i in range(30):
        monkeypatch.setenv("MLDEPLOY_HOME", str(tmp_path / f"home{i}"))
        assert Model.list() == []
    assert open_fds() <= before + 3
