"""Nothing leaves the source folder and no secret reaches an image (the two high findings of the security review).

Reproduced as the review did: a symlink out of the source folder, and ``.ssh/id_rsa``,
``.aws/credentials``, ``.env`` (all 0600) beside ``score.py``; deployed to Docker for real,
packaged as a Dockerfile context, and looked at inside the container and the image.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import InferenceConfig, Model
from jupyter_mldeploy.deploy import deploy, package_from_files
from jupyter_mldeploy.deploy.docker import LocalWebservice
from jupyter_mldeploy.errors import PathEscapeError

LISTING_SCRIPT = textwrap.dedent(
    """
    import json, os, stat

    HERE = os.path.dirname(os.path.abspath(__file__))

    def init():
        pass

    def run(raw_data):
        files = sorted(os.path.relpath(os.path.join(d, f), HERE) for d, _, fs in os.walk(HERE) for f in fs)
        weights = os.path.join(HERE, "weights.bin")
        info = os.stat(weights)
        with open(weights) as handle:
            content = handle.read()
        return {"files": files, "mode": stat.S_IMODE(info.st_mode), "owner": info.st_uid,
                "weights": content, "uid": os.getuid()}
    """
)


def _project(root: Path) -> Path:
    """A careless project folder: score.py beside keys, credentials and a private data file."""
    app = root / "project"
    app.mkdir(parents=True)
    (app / "score.py").write_text(LISTING_SCRIPT)
    (app / "weights.bin").write_text("w-123")
    (app / "weights.bin").chmod(0o600)
    for secret, text in ((".ssh/id_rsa", "PRIVATE KEY"), (".aws/credentials", "aws_secret_access_key=x"),
                         (".env", "PASSWORD=hunter2")):
        (app / secret).parent.mkdir(parents=True, exist_ok=True)
        (app / secret).write_text(text)
        (app / secret).chmod(0o600)
    return app


@pytest.mark.docker
def test_a_symlink_out_of_the_source_folder_is_refused_by_a_docker_deploy(
    docker_home: Path, tmp_path: Path, k_model: Model
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the secret")
    (outside / "secret.txt").chmod(0o600)
    app = _project(tmp_path)
    (app / "leak.txt").symlink_to(outside / "secret.txt")
    service = deploy("leaky", [k_model], InferenceConfig("score.py", source_directory=str(app)),
                     LocalWebservice.deploy_configuration())
    with pytest.raises(PathEscapeError, match=r"leak\.txt links to .*secret\.txt, outside .*project"):
        service.wait_for_deployment(timeout_sec=600)
    copied = [p.name for p in (docker_home / "services" / "leaky" / "src").rglob("*")]
    assert "leak.txt" not in copied and "secret.txt" not in copied
    assert service.state == "Failed"
    service.delete()


@pytest.mark.docker
def test_secrets_stay_out_of_the_container_and_the_image_and_modes_are_kept(
    docker_home: Path, tmp_path: Path, k_model: Model, docker_client: Any
) -> None:
    app = _project(tmp_path)
    service = deploy("careful", [k_model], InferenceConfig("score.py", source_directory=str(app)),
                     LocalWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=600)
    try:
        logged = [e.text for e in service.progress.events_since(0)]  # type: ignore[union-attr]
        assert any("left out of the copy: .aws/, .env, .ssh/" in line for line in logged), logged

        # the running container (its mounted copy of the source folder)
        answer = service.run({})
        assert answer["files"] == ["score.py", "weights.bin"]
        assert answer["weights"] == "w-123" and answer["uid"] == 1000  # readable by the container's user...
        assert answer["mode"] == 0o600  # ...and still private: nothing widened to world-readable
        on_host = sorted(p.relative_to(docker_home / "services" / "careful" / "src").as_posix()
                         for p in (docker_home / "services" / "careful" / "src").rglob("*"))
        assert on_host == ["score.py", "weights.bin"]

        # the service's image holds no source at all (it is mounted): nothing to leak there
        empty = docker_client.containers.run(
            service._record.image, ["python3", "-c", "import os; print(os.listdir('/var/azureml-app/src'))"],
            remove=True, network_disabled=True)
        assert empty.strip() == b"[]"

        # an image that bakes the source in (Model.package), without any mount: the same files,
        # owned by the container's user, private
        pkg = Model.package([k_model], InferenceConfig("score.py", source_directory=str(app)),
                            image_name="mldeploy-test/careful", image_label=uuid.uuid4().hex[:8])
        pkg.wait_for_creation()
        check = (
            "import json, os, stat\n"
            "root = '/var/azureml-app/src'\n"
            "files = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)\n"
            "info = os.stat(root + '/weights.bin')\n"
            "try:\n"
            "    open(root + '/weights.bin').read(); readable = True\n"
            "except PermissionError:\n"
            "    readable = False\n"
            "print(json.dumps({'files': files, 'mode': stat.S_IMODE(info.st_mode), 'owner': info.st_uid,"
            " 'readable': readable}))\n"
        )
        image = pkg.location
        as_owner = json.loads(docker_client.containers.run(
            image, ["python3", "-c", check], remove=True, user="1000:1000", network_disabled=True))
        assert as_owner == {"files": ["score.py", "weights.bin"], "mode": 0o600, "owner": 1000, "readable": True}
        as_stranger = json.loads(docker_client.containers.run(
            image, ["python3", "-c", check], remove=True, user="1001:1001", network_disabled=True))
        assert as_stranger["readable"] is False  # another user in the image cannot read it
        docker_client.images.remove(image, force=True)
    finally:
        service.delete(delete_image=True)


def test_a_saved_dockerfile_package_holds_no_secret(tmp_path: Path, k_model: Model) -> None:
    """``mldeploy package --dockerfile-only``'s path: the context written for later, no engine needed."""
    app = _project(tmp_path)
    package = package_from_files(["k"], str(app / "score.py"), generate_dockerfile=True)
    package.wait_for_creation(timeout_sec=600)
    out = package.save(tmp_path / "saved")
    package.delete()
    names = [p.relative_to(out).as_posix() for p in out.rglob("*")]
    assert "src/weights.bin" in names and "src/score.py" in names
    for secret in ("id_rsa", "credentials", ".env", ".ssh", ".aws"):
        assert not any(Path(n).name == secret for n in names), (secret, names)
    assert any("left out of the copy: .aws/, .env, .ssh/" in e.text for e in package.progress.events_since(0))
