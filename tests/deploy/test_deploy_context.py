"""The build context writer: layout, Dockerfile order, Azure's model-dir rule, exclusions, errors."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from jupyter_mldeploy.images.dockerfile import MODELS_ROOT, SOURCE_ROOT, VENV
from jupyter_mldeploy.images.context import (
    BuildContext,
    model_dir_for,
    normalize_models,
    write_build_context,
)
from jupyter_mldeploy.errors import (
    InvalidArgumentError,
    InvalidNameError,
    ModelPathError,
    PathEscapeError,
    TargetExistsError,
)

from ._service import write_model, write_service_source


@pytest.fixture
def fake_wheelhouse(tmp_path: Path) -> Path:
    """A wheelhouse folder with two (empty) wheel files and no requirements.txt."""
    folder = tmp_path / "wh"
    folder.mkdir()
    (folder / "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl").write_bytes(b"x")
    (folder / "inference_schema-1.8-py3-none-any.whl").write_bytes(b"y")
    (folder / "notes.txt").write_text("not a wheel")
    return folder


@pytest.fixture
def fake_runtime(tmp_path: Path) -> Path:
    wheel = tmp_path / "jupyter_mldeploy-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"z")
    return wheel


def _write(tmp_path: Path, wh: Path, rt: Path, name: str = "ctx", **kwargs: object):
    src = write_service_source(tmp_path / f"src-{name}")
    defaults: dict[str, object] = {
        "base_image": "mldeploy/python-base:bookworm",
        "wheelhouse_dir": wh,
        "runtime_wheel": rt,
        "models": {"ridge": {1: write_model(tmp_path / f"m-{name}" / "model.json", 2, 1)}},
        "source_dir": src,
        "entry_script": "score.py",
        "env_hash": "hash1",
    }
    defaults.update(kwargs)
    return write_build_context(tmp_path / name, **defaults)  # type: ignore[arg-type]


def test_layout_and_dockerfile_order(tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path) -> None:
    info = _write(tmp_path, fake_wheelhouse, fake_runtime)
    assert sorted(p.name for p in info.path.iterdir()) == [
        ".dockerignore", "Dockerfile", "azureml-models", "runtime", "src", "wheels",
    ]
    assert (info.path / "runtime" / fake_runtime.name).is_file()
    assert (info.path / "azureml-models" / "ridge" / "1" / "model.json").is_file()
    assert (info.path / "wheels" / "ENV_HASH").read_text().strip() == "hash1"
    # requirements generated from wheel names when the wheelhouse has none; non-wheels skipped
    assert (info.path / "wheels" / "requirements.txt").read_text().split() == [
        "inference-schema==1.8", "numpy==1.26.4",
    ]
    assert not (info.path / "wheels" / "notes.txt").exists()

    lines = [line.strip() for line in info.dockerfile.read_text().splitlines() if line and not line.startswith("#")]

    order = [
        "FROM mldeploy/python-base:bookworm AS env",
        f"RUN python3 -m venv {VENV}",
        "COPY wheels/ /tmp/wheels/",
        f"RUN {VENV}/bin/python -m pip install --no-index",
        "FROM mldeploy/python-base:bookworm",
        "RUN if getent passwd 1000",
        f"COPY --from=env {VENV}",
        "COPY runtime/",
        "COPY --chown=1000:1000 azureml-models/",  # the container's user owns models and code: modes kept
        "COPY --chown=1000:1000 src/",
        "ENV AML_APP_ROOT=\"/var/azureml-app\" \\",
        "AZUREML_MODEL_DIR=\"/var/azureml-app/azureml-models/ridge/1\" \\",
        "USER 1000:1000",
        "EXPOSE 5001",
        "HEALTHCHECK",
        "CMD",
    ]
    at = -1
    for prefix in order:  # each instruction comes after the previous one
        at = next(
            (i for i in range(at + 1, len(lines)) if lines[i] == prefix or lines[i].startswith(prefix + " ")),
            None,
        )
        assert at is not None, f"{prefix!r} missing or out of order in:\n" + "\n".join(lines)
    assert '"--host", "0.0.0.0", "--port", "5001"' in lines[-1]
    assert info.env["AZUREML_MODEL_DIR"] == f"{MODELS_ROOT}/ridge/1"
    assert info.env["AZUREML_SOURCE_DIRECTORY"] == SOURCE_ROOT
    assert info.env["AZUREML_ENTRY_SCRIPT"] == "score.py"
    assert info.env["AML_APP_ROOT"] == "/var/azureml-app"
    assert info.models_label == "ridge:1"


def test_env_stage_does_not_depend_on_models_or_code(
    tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path
) -> None:
    """Only the wheelhouse and env hash feed the environment stage: the layer cache needs that."""
    a = _write(tmp_path, fake_wheelhouse, fake_runtime, "a")
    b = _write(
        tmp_path, fake_wheelhouse, fake_runtime, "b",
        models={"ridge": {2: write_model(tmp_path / "other" / "model.json", 5, 5)}, "extra": {7: fake_runtime}},
        env_vars={"GREETING": "hi"},
    )
    c = _write(tmp_path, fake_wheelhouse, fake_runtime, "c", env_hash="hash2")

    def env_stage(info) -> str:
        text = info.dockerfile.read_text()
        return text[text.index("FROM "): text.index("# --- stage 2")]

    assert env_stage(a) == env_stage(b)
    assert env_stage(a).replace("hash1", "hash2") == env_stage(c)  # only the env hash label differs
    same = filecmp.dircmp(a.path / "wheels", b.path / "wheels")
    assert not same.diff_files and not same.left_only and not same.right_only
    changed = filecmp.dircmp(a.path / "wheels", c.path / "wheels")
    assert changed.diff_files == ["ENV_HASH"]
    assert a.dockerfile.read_text() != b.dockerfile.read_text()  # models and env differ later on


def test_azure_model_dir_rule_and_folder_models(tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path) -> None:
    folder_model = tmp_path / "folder-model"
    (folder_model / "sub").mkdir(parents=True)
    (folder_model / "offset.json").write_text("{}")
    (folder_model / "sub" / "README").write_text("r")
    info = _write(
        tmp_path, fake_wheelhouse, fake_runtime,
        models=[("linear", 2, write_model(tmp_path / "l2" / "model.json", 1, 1)),
                ("linear", 1, write_model(tmp_path / "l1" / "model.json", 1, 1)),
                ("offset", "3", folder_model)],
    )
    root = info.path / "azureml-models"
    assert (root / "linear" / "1" / "model.json").is_file()
    assert (root / "linear" / "2" / "model.json").is_file()
    assert (root / "offset" / "3" / "offset.json").is_file()  # a folder model's contents, not the folder
    assert (root / "offset" / "3" / "sub" / "README").is_file()
    assert info.model_dir == MODELS_ROOT  # several models: the root, as Azure does
    assert info.models == (("linear", "1"), ("linear", "2"), ("offset", "3"))
    assert model_dir_for([("ridge", "4")]) == f"{MODELS_ROOT}/ridge/4"
    assert model_dir_for([]) == MODELS_ROOT


def test_source_copy_excludes_caches_vcs_and_amlignore(
    tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path
) -> None:
    src = write_service_source(tmp_path / "app")
    (src / ".venv" / "bin").mkdir(parents=True)
    (src / ".venv" / "bin" / "python").write_text("")
    (src / "data").mkdir()
    (src / "data" / "big.parquet").write_text("x")
    (src / "data" / "keep.json").write_text("{}")
    (src / "pkg").mkdir()
    (src / "pkg" / "util.py").write_text("X = 1\n")
    (src / ".amlignore").write_text("# comment\n*.parquet\nnotebooks/\n")
    (src / "notebooks").mkdir()
    (src / "notebooks" / "train.ipynb").write_text("{}")
    info = write_build_context(
        tmp_path / "ctx", base_image="b:1", wheelhouse_dir=fake_wheelhouse, runtime_wheel=fake_runtime,
        source_dir=src, entry_script="score.py", env_hash="h",
    )
    copied = sorted(p.relative_to(info.path / "src").as_posix() for p in (info.path / "src").rglob("*"))
    assert copied == ["data", "data/keep.json", "helpers.py", "pkg", "pkg/util.py", "score.py"]
    assert info.model_dir == MODELS_ROOT  # no models


def test_mldeploy_home_inside_the_source_folder_is_left_out(
    tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook folder holding its own MLDEPLOY_HOME: the context (written under it) must not copy itself."""
    src = write_service_source(tmp_path / "project")
    home = src / "state" / "mldeploy-home"
    monkeypatch.setenv("MLDEPLOY_HOME", str(home))
    (home / "models").mkdir(parents=True)
    (home / "models" / "blob").write_text("registry data")
    (src / "state" / "keep.txt").write_text("mine")
    info = write_build_context(
        home / "builds" / "ctx", base_image="b:1", wheelhouse_dir=fake_wheelhouse, runtime_wheel=fake_runtime,
        source_dir=src, entry_script="score.py", env_hash="h",
    )
    copied = sorted(p.relative_to(info.path / "src").as_posix() for p in (info.path / "src").rglob("*"))
    assert copied == ["helpers.py", "score.py", "state", "state/keep.txt"]


def test_entry_script_without_source_dir_and_in_subfolder(
    tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path
) -> None:
    script = tmp_path / "somewhere" / "my_score.py"
    script.parent.mkdir()
    script.write_text("def init(): pass\ndef run(d): return d\n")
    info = write_build_context(
        tmp_path / "one", base_image="b:1", wheelhouse_dir=fake_wheelhouse, runtime_wheel=fake_runtime,
        entry_script=str(script), env_hash="h",
    )
    assert sorted(p.name for p in (info.path / "src").iterdir()) == ["my_score.py"]
    assert info.entry_script == "my_score.py"

    src = tmp_path / "nested"
    (src / "app").mkdir(parents=True)
    (src / "app" / "score.py").write_text("")
    nested = write_build_context(
        tmp_path / "two", base_image="b:1", wheelhouse_dir=fake_wheelhouse, runtime_wheel=fake_runtime,
        source_dir=src, entry_script="app/score.py", env_hash="h",
    )
    assert nested.env["AZUREML_ENTRY_SCRIPT"] == "app/score.py"


def test_env_vars_are_escaped_for_dockerfile(tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path) -> None:
    info = _write(tmp_path, fake_wheelhouse, fake_runtime, env_vars={"PRICE": 'costs $5 "now" \\o/'})
    assert ' PRICE="costs \\$5 \\"now\\" \\\\o/"\n' in info.dockerfile.read_text()
    with pytest.raises(InvalidArgumentError, match="BAD-NAME"):
        _write(tmp_path, fake_wheelhouse, fake_runtime, "x", env_vars={"BAD-NAME": "1"})
    with pytest.raises(InvalidArgumentError, match="line break"):
        _write(tmp_path, fake_wheelhouse, fake_runtime, "y", env_vars={"A": "1\n2"})


def test_errors_say_what_to_do(tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path) -> None:
    with pytest.raises(ModelPathError, match=r"wheelhouse .* is not a folder.*download_wheels"):
        _write(tmp_path, tmp_path / "missing", fake_runtime, "a")
    with pytest.raises(ModelPathError, match=r"runtime wheel .* is not a \.whl"):
        _write(tmp_path, fake_wheelhouse, tmp_path / "nope.whl", "b")
    with pytest.raises(ModelPathError, match=r"'other.py' is not a file in source directory"):
        _write(tmp_path, fake_wheelhouse, fake_runtime, "c", entry_script="other.py")
    with pytest.raises(PathEscapeError, match="relative to that folder"):
        _write(tmp_path, fake_wheelhouse, fake_runtime, "d", entry_script="../score.py")
    with pytest.raises(ModelPathError, match=r"model ridge:1 path .* does not exist; download the model"):
        _write(tmp_path, fake_wheelhouse, fake_runtime, "e", models={"ridge": {1: tmp_path / "gone.pkl"}})
    with pytest.raises(InvalidNameError):
        normalize_models({"bad/name": {1: "x"}})
    with pytest.raises(InvalidArgumentError, match="must map versions to paths"):
        normalize_models({"ridge": "model.pkl"})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgumentError, match="env_hash"):
        _write(tmp_path, fake_wheelhouse, fake_runtime, "f", env_hash="has space")
    _write(tmp_path, fake_wheelhouse, fake_runtime, "g")
    with pytest.raises(TargetExistsError, match="exist_ok=True"):
        _write(tmp_path, fake_wheelhouse, fake_runtime, "g")
    again = _write(tmp_path, fake_wheelhouse, fake_runtime, "g", exist_ok=True)
    assert again.dockerfile.is_file()


def test_python_command_is_configurable(fake_wheelhouse: Path, fake_runtime: Path, tmp_path: Path) -> None:
    ctx = BuildContext(
        base_image="python:3.12-slim", wheelhouse_dir=fake_wheelhouse, runtime_wheel=fake_runtime,
        entry_script="score.py", env_hash="h", source_dir=write_service_source(tmp_path / "s"),
        python="/usr/local/bin/python3.12",
    )
    text = ctx.dockerfile()
    assert f"RUN /usr/local/bin/python3.12 -m venv {VENV}" in text
    assert text.count("FROM python:3.12-slim") == 2


def test_a_runtime_wheel_in_the_wheelhouse_stays_out_of_the_environment_layer(
    tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path
) -> None:
    (fake_wheelhouse / "jupyter_mldeploy-0.1.0+gabc-py3-none-any.whl").write_bytes(b"r")
    (fake_wheelhouse / "requirements.txt").write_text(
        "# header\nJupyter-MLDeploy==0.1.0+gabc --hash=sha256:00\nnumpy==1.26.4 --hash=sha256:11\n"
    )
    info = _write(tmp_path, fake_wheelhouse, fake_runtime)
    assert (info.path / "wheels" / "requirements.txt").read_text() == "# header\nnumpy==1.26.4 --hash=sha256:11\n"
    assert not list((info.path / "wheels").glob("jupyter_mldeploy-*"))
    assert [p.name for p in (info.path / "runtime").glob("*.whl")] == [fake_runtime.name]


def test_pip_and_setuptools_leave_the_image_unless_asked_for(
    tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path
) -> None:
    info = _write(tmp_path, fake_wheelhouse, fake_runtime, "plain")
    assert "pip uninstall -y -q pip setuptools" in info.dockerfile.read_text()
    (fake_wheelhouse / "requirements.txt").write_text("numpy==1.26.4\nSetupTools==69.0\n# pip==1\n")
    kept = _write(tmp_path, fake_wheelhouse, fake_runtime, "kept")
    assert "pip uninstall -y -q pip\n" in kept.dockerfile.read_text()


def _tiny_wheel(folder: Path, name: str, requires: list[str]) -> Path:
    import zipfile

    wheel = folder / f"{name}-1.0-py3-none-any.whl"
    meta = "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "VALUE = 42\n")
        archive.writestr(f"{name}-1.0.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n{meta}")
        archive.writestr(f"{name}-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{name}-1.0.dist-info/RECORD", "")
    return wheel


def test_runtime_installer_unpacks_the_wheel_and_checks_its_requirements(
    tmp_path: Path, fake_wheelhouse: Path
) -> None:
    """The runtime/ installer runs in the image without pip: check it on the host in a bare venv."""
    import shutil
    import subprocess
    import sys
    import sysconfig

    import packaging

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )
    here = Path(packaging.__file__).parent  # packaging is in the environment, as in the image
    shutil.copytree(here, purelib / "packaging")
    for dist_info in here.parent.glob("packaging-*.dist-info"):
        shutil.copytree(dist_info, purelib / dist_info.name)
    assert sysconfig.get_paths()["purelib"] != str(purelib)

    good_dir = tmp_path / "good"
    good_dir.mkdir()
    wheel = _tiny_wheel(good_dir, "demo_runtime", ["packaging>=1", "pywin32>=1; sys_platform == 'win32'"])
    info = write_build_context(
        tmp_path / "ctx", base_image="b:1", wheelhouse_dir=fake_wheelhouse, runtime_wheel=wheel,
        entry_script=str(wheel), env_hash="h",
    )
    installer = info.path / "runtime" / "install_runtime.py"
    done = subprocess.run([str(python), str(installer)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    check = subprocess.run([str(python), "-c", "import demo_runtime; print(demo_runtime.VALUE)"],
                           capture_output=True, text=True, check=True)
    assert check.stdout.strip() == "42"
    assert (purelib / "demo_runtime-1.0.dist-info" / "INSTALLER").is_file()

    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    _tiny_wheel(bad_dir, "needy_runtime", ["packaging>=999", "no-such-dep-mldeploy"])
    shutil.copy(installer, bad_dir / installer.name)
    failed = subprocess.run([str(python), str(bad_dir / installer.name)], capture_output=True, text=True, check=False)
    assert failed.returncode != 0
    assert "needs packages the environment lacks" in failed.stderr
    assert "packaging>=999 (found" in failed.stderr and "no-such-dep-mldeploy (not installed)" in failed.stderr
    assert not (purelib / "needy_runtime").exists()


def test_models_from_the_registry_land_where_get_model_path_looks(
    tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path
) -> None:
    """Registry paths (file or folder model) in, Azure's NAME/VERSION layout out."""
    from jupyter_mldeploy.registry.model import Model

    pkl = tmp_path / "ridge.pkl"
    pkl.write_bytes(b"weights")
    folder = tmp_path / "tok"
    (folder / "vocab").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "vocab" / "words.txt").write_text("a b")
    ridge = Model.register(model_path=str(pkl), model_name="ridge")
    tok = Model.register(model_path=str(folder), model_name="tok")
    models = {m.name: {m.version: Model.get_model_path(m.name, m.version)} for m in (ridge, tok)}
    info = _write(tmp_path, fake_wheelhouse, fake_runtime, models=models)
    root = info.path / "azureml-models"
    assert (root / "ridge" / "1" / "ridge.pkl").read_bytes() == b"weights"
    assert sorted(p.relative_to(root / "tok" / "1").as_posix() for p in (root / "tok" / "1").rglob("*")) == [
        "config.json", "vocab", "vocab/words.txt",
    ]
    assert info.models_label == "ridge:1,tok:1"


def test_private_files_keep_their_modes_and_dangling_links_are_skipped(
    tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path
) -> None:
    """Nothing is widened to world-readable: COPY --chown gives the files to uid 1000 with their modes."""
    import os
    import stat

    src = write_service_source(tmp_path / "app")
    (src / "score.py").chmod(0o600)
    (src / "gone.txt").symlink_to(tmp_path / "does-not-exist")
    secret_model = write_model(tmp_path / "m" / "model.json", 1, 1)
    secret_model.chmod(0o600)
    info = write_build_context(
        tmp_path / "ctx", base_image="b:1", wheelhouse_dir=fake_wheelhouse, runtime_wheel=fake_runtime,
        source_dir=src, entry_script="score.py", env_hash="h", models={"m": {1: secret_model.parent}},
    )
    for path in [info.path / "src" / "score.py", info.path / "azureml-models" / "m" / "1" / "model.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert "COPY --chown=1000:1000 src/ /var/azureml-app/src/" in info.dockerfile.read_text()
    assert not os.path.lexists(info.path / "src" / "gone.txt")
    assert secret_model.stat().st_mode & 0o077 == 0  # the user's own files are not touched


def _secrets_folder(root: Path) -> Path:
    src = write_service_source(root)
    (src / ".ssh").mkdir()
    (src / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    (src / ".aws").mkdir()
    (src / ".aws" / "credentials").write_text("aws_secret_access_key=x")
    (src / ".env").write_text("PASSWORD=hunter2")
    (src / ".env.public").write_text("COLOUR=blue")
    (src / "tls.pem").write_text("CERT")
    (src / "conf").mkdir()
    (src / "conf" / "id_ed25519").write_text("KEY")
    (src / "conf" / "settings.json").write_text("{}")
    (src / "data").mkdir()
    (src / "data" / "big.bin").write_text("x")
    for secret in (".ssh/id_rsa", ".aws/credentials", ".env", "tls.pem"):
        (src / secret).chmod(0o600)
    return src


def test_dotfiles_and_secrets_are_left_out_and_named(tmp_path: Path) -> None:
    from jupyter_mldeploy.source_copy import copy_source

    src = _secrets_folder(tmp_path / "app")
    copied = copy_source(src, tmp_path / "copy")
    kept = sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*"))
    assert kept == ["conf", "conf/settings.json", "data", "data/big.bin", "helpers.py", "score.py"]
    assert copied.left_out == [".aws/", ".env", ".env.public", ".ssh/", "conf/id_ed25519", "tls.pem"]
    assert copied.files == 4
    note = copied.note()
    assert note is not None and ".ssh/" in note and ".mldeployignore" in note
    assert ".git" not in note and "__pycache__" not in note  # caches and VCS go quietly


def test_mldeployignore_takes_things_in_and_leaves_others_out(tmp_path: Path) -> None:
    from jupyter_mldeploy.source_copy import copy_source

    src = _secrets_folder(tmp_path / "app")
    (src / ".mldeployignore").write_text("# gitignore syntax\n!.env.public\ndata/\n")
    copied = copy_source(src, tmp_path / "copy")
    kept = sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*"))
    assert kept == [".env.public", "conf", "conf/settings.json", "helpers.py", "score.py"]
    assert "data/" in copied.left_out and ".env.public" not in copied.left_out and ".env" in copied.left_out


def test_secrets_stay_out_of_a_saved_dockerfile_context(
    tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path
) -> None:
    src = _secrets_folder(tmp_path / "app")
    info = write_build_context(
        tmp_path / "ctx", base_image="b:1", wheelhouse_dir=fake_wheelhouse, runtime_wheel=fake_runtime,
        source_dir=src, entry_script="score.py", env_hash="h",
    )
    everything = [p.relative_to(info.path).as_posix() for p in info.path.rglob("*")]
    for secret in ("id_rsa", "credentials", ".env", "tls.pem", "id_ed25519"):
        assert not any(name.endswith(secret) for name in everything), secret
    assert ".ssh/" in info.left_out and "tls.pem" in info.left_out


def test_links_leaving_the_source_or_model_folder_are_refused(
    tmp_path: Path, fake_wheelhouse: Path, fake_runtime: Path
) -> None:
    """A link to a secret outside must not carry it into an image; ignored folders are not checked."""
    from jupyter_mldeploy.errors import PathEscapeError

    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.pem").write_text("private")
    src = write_service_source(tmp_path / "app")
    (src / ".venv").mkdir()
    (src / ".venv" / "python").symlink_to("/usr/bin/python3")  # ignored folder: fine
    (src / "inside.py").symlink_to(src / "helpers.py")  # a link inside: fine
    info = write_build_context(
        tmp_path / "ok", base_image="b:1", wheelhouse_dir=fake_wheelhouse, runtime_wheel=fake_runtime,
        source_dir=src, entry_script="score.py", env_hash="h",
    )
    assert (info.path / "src" / "inside.py").read_text() == (src / "helpers.py").read_text()
    (src / "creds").symlink_to(secret)
    with pytest.raises(PathEscapeError, match="outside"):
        write_build_context(
            tmp_path / "leak", base_image="b:1", wheelhouse_dir=fake_wheelhouse, runtime_wheel=fake_runtime,
            source_dir=src, entry_script="score.py", env_hash="h",
        )
    (src / "creds").unlink()
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"1")
    (model / "creds").symlink_to(secret)
    with pytest.raises(PathEscapeError, match="outside"):
        write_build_context(
            tmp_path / "leak2", base_image="b:1", wheelhouse_dir=fake_wheelhouse, runtime_wheel=fake_runtime,
            source_dir=src, entry_script="score.py", env_hash="h", models={"m": {1: model}},
        )
