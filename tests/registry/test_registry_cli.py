"""``mldeploy models ...`` through cli.main and once through the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from registry_helpers import sha256_of

from jupyter_mldeploy import Model
from jupyter_mldeploy.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_register_list_show_download_delete(
    make_tree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_tree("m", {"model.pkl": b"p" * 2000, "sub/vocab.txt": b"words"})
    code, out, err = run(
        capsys,
        "models",
        "register",
        str(root),
        "--name",
        "ridge",
        "--tag",
        "stage=dev",
        "--tag",
        "team=a=b",
        "--property",
        "auc=0.9",
        "--description",
        "first",
        "--framework",
        "ScikitLearn",
        "--framework-version",
        "1.5",
    )
    assert (code, err) == (0, "")
    assert out.strip() == "registered ridge:1 (2 file(s), 2.0 kB)"
    model = Model("ridge")
    assert model.tags == {"stage": "dev", "team": "a=b"}
    assert model.properties == {"auc": "0.9"}
    assert (model.description, model.framework, model.framework_version) == (
        "first",
        "ScikitLearn",
        "1.5",
    )

    code, out, _ = run(
        capsys, "models", "register", str(root / "model.pkl"), "--name", "ridge", "--json"
    )
    assert code == 0 and json.loads(out)["id"] == "ridge:2"

    code, out, _ = run(capsys, "models", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "FILES", "SIZE", "CREATED", "(UTC)", "TAGS"]
    assert lines[1].split()[:4] == ["ridge", "2", "1", "2.0"]
    assert lines[2].split()[:3] == ["ridge", "1", "2"]
    assert lines[2].rstrip().endswith("stage=dev, team=a=b")

    code, out, _ = run(capsys, "models", "list", "--name", "ridge", "--tag", "stage=dev", "--json")
    assert [m["id"] for m in json.loads(out)] == ["ridge:1"]
    code, out, _ = run(capsys, "models", "list", "--latest", "--json")
    assert [m["id"] for m in json.loads(out)] == ["ridge:2"]

    code, out, _ = run(capsys, "models", "show", "ridge:1")
    assert code == 0
    assert "id           ridge:1" in out
    assert "m/sub/vocab.txt" in out and sha256_of(root / "sub" / "vocab.txt") in out
    code, out, _ = run(capsys, "models", "show", "ridge", "--json")
    assert json.loads(out)["version"] == 2

    code, out, _ = run(capsys, "models", "download", "ridge:1", str(tmp_path / "dl"))
    assert code == 0 and out.strip() == str(tmp_path / "dl" / "m")
    assert (tmp_path / "dl" / "m" / "sub" / "vocab.txt").read_bytes() == b"words"
    code, out, _ = run(capsys, "models", "download", "ridge:1", str(tmp_path / "dl"), "--exist-ok")
    assert code == 0

    code, out, _ = run(capsys, "models", "verify")
    assert (code, out.strip()) == (0, "all stored files match their sha256")
    code, out, _ = run(capsys, "models", "verify", "ridge:1", "--json")
    assert (code, json.loads(out)) == (0, [])

    code, out, _ = run(capsys, "models", "delete", "ridge:1")
    assert (code, out.strip()) == (0, "deleted ridge:1")
    code, out, _ = run(capsys, "models", "gc", "--json")
    assert code == 0 and set(json.loads(out)) == {"temp_files", "blobs", "bytes_freed", "copies"}
    code, out, _ = run(capsys, "models", "gc")
    assert code == 0 and out.startswith("removed 0 temp file(s)")
    assert [m.id for m in Model.list()] == ["ridge:2"]


def test_az_ml_model_register_and_download_spellings(
    make_tree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``az ml model register -p ./models -n sentiment ...`` and ``az ml model download -i ID -t DIR`` work as typed."""
    root = make_tree("models", {"vectorizer.pkl": b"v" * 10, "classifier.pkl": b"c" * 20})
    code, out, err = run(capsys, "models", "register", "-p", str(root), "-n", "sentiment", "-d", "first try",
                         "--tag", "stage=dev", "--tag", "team=nlp", "--property", "accuracy=0.9",
                         "--model-framework", "ScikitLearn", "-w", "my-ws", "-g", "my-rg", "--json")
    assert (code, err) == (0, "")
    record = json.loads(out)
    assert (record["id"], record["description"], record["framework"]) == ("sentiment:1", "first try", "ScikitLearn")
    assert (record["tags"], record["properties"]) == ({"stage": "dev", "team": "nlp"}, {"accuracy": "0.9"})
    assert sorted(f["path"].rsplit("/", 1)[-1] for f in record["files"]) == ["classifier.pkl", "vectorizer.pkl"]

    target = tmp_path / "restored"
    code, out, _ = run(capsys, "models", "download", "sentiment:1", "-t", str(target))
    assert code == 0 and (Path(out.strip()) / "classifier.pkl").read_bytes() == b"c" * 20
    (Path(out.strip()) / "classifier.pkl").write_bytes(b"edited")
    code, _, err = run(capsys, "models", "download", "-i", "sentiment:1", "-t", str(target))
    assert code == 1 and "exists already" in err and "--overwrite" in err  # nothing replaced without --overwrite
    assert (Path(out.strip()) / "classifier.pkl").read_bytes() == b"edited"
    code, again, _ = run(capsys, "models", "download", "-i", "sentiment:1", "-t", str(target), "--overwrite")
    assert code == 0 and again == out
    assert (Path(out.strip()) / "classifier.pkl").read_bytes() == b"c" * 20  # replaced by the registered bytes


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["models", "register", "-n", "m"], "missing PATH: give it as PATH or -p/--model-path"),
        (["models", "register", "{root}", "-p", "{tmp}/other", "-n", "m"], "give PATH once"),
        (["models", "download", "-t", "{tmp}/x"], "missing NAME[:VERSION]: give it as NAME[:VERSION] or -i/--model-id"),
        (["models", "download", "known:1"], "missing DIR: give it as DIR or -t/--target-dir"),
    ],
)
def test_az_ml_spellings_missing_or_doubled_values_are_one_line(
    make_tree, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    root = make_tree("m", {"model.pkl": b"p"})
    Model.register(root, "known")
    code, out, err = run(capsys, *[a.format(root=root, tmp=tmp_path) for a in argv])
    assert (code, out) == (1, "")
    assert message in err and err.count("\n") == 1


def test_empty_registry_listing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "list")
    assert (code, out.strip()) == (0, "no models registered")
    code, out, _ = run(capsys, "models", "list", "--json")
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["models", "register", "{tmp}/missing.pkl", "--name", "m"], "does not exist"),
        (["models", "register", "{root}", "--name", "bad/name"], "invalid model name 'bad/name'"),
        (
            ["models", "register", "{root}", "--name", "m", "--tag", "novalue"],
            "bad --tag 'novalue'",
        ),
        (
            ["models", "register", "{root}", "--name", "m", "--child-path", "../x"],
            "would leave the model folder",
        ),
        (
            ["models", "register", "{root}", "--name", "m", "--child-path", "/etc/passwd"],
            "is absolute",
        ),
        (["models", "show", "ghost"], "no model named 'ghost'"),
        (["models", "show", "known:7"], "model 'known' has no version 7; its versions are: 1"),
        (["models", "show", "known:x"], "bad version in 'known:x'"),
        (["models", "delete", "known"], "'known' has no version: write NAME:VERSION"),
        (["models", "delete", "known:3"], "its versions are: 1"),
        (["models", "download", "known:1", "{root}"], "exists already"),
        (["models", "download", "ghost:1", "{tmp}/new"], "no model named 'ghost'"),
    ],
)
def test_bad_input_gives_one_line_and_exit_1(
    make_tree, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    root = make_tree("m", {"model.pkl": b"p"})
    Model.register(root, "known")
    args = [a.format(tmp=tmp_path, root=root) for a in argv]
    code, out, err = run(capsys, *args)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("mldeploy: error: ")
    assert message in err
    assert "Traceback" not in err


def test_verify_reports_damage_with_exit_1(
    make_tree, mldeploy_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = Model.register(make_tree("m", {"model.pkl": b"p"}), "dmg")
    blob = mldeploy_home / "objects" / "sha256" / model.files[0].sha256[:2] / model.files[0].sha256
    blob.unlink()
    code, out, err = run(capsys, "models", "verify")
    assert code == 1
    assert out.strip() == f"{model.files[0].sha256}: missing; used by dmg:1/m/model.pkl"
    assert err.startswith("mldeploy: error: 1 stored file(s) are damaged or missing")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["models", "register", "somewhere"])
    assert exc.value.code == 2
    assert "--name" in capsys.readouterr().err


def _console_script() -> str:
    script = Path(sys.executable).with_name("mldeploy")
    if not script.exists():
        pytest.fail(f"the mldeploy console script is not installed next to {sys.executable}")
    return str(script)


def test_real_console_script(make_tree, tmp_path: Path, mldeploy_home: Path) -> None:
    root = make_tree("m", {"model.pkl": b"p" * 10})
    env = dict(os.environ, MLDEPLOY_HOME=str(mldeploy_home))
    env.pop("MLDEPLOY_DEBUG", None)
    done = subprocess.run(
        [_console_script(), "models", "register", str(root), "--name", "cli", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == "cli:1"
    assert Model("cli").files[0].sha256 == sha256_of(root / "model.pkl")
    bad = subprocess.run(
        [_console_script(), "models", "download", "cli:9", str(tmp_path / "x")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "mldeploy: error: model 'cli' has no version 9; its versions are: 1. "
        "Use one of them, or leave out the version for the latest."
    )
    assert bad.stdout == ""
