"""``ModelPackage.push`` against a real registry on 127.0.0.1, and the image pulled back by its digest."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import InferenceConfig, Model
from jupyter_mldeploy.deploy.package import package
from jupyter_mldeploy.errors import ImagePushError, InvalidArgumentError
from jupyter_mldeploy.images.engine import shared_engine

pytestmark = pytest.mark.docker

SCRIPT = "def init():\n    pass\n\ndef run(raw):\n    return raw\n"


def test_a_package_is_pushed_reports_its_digest_and_pulls_back_by_it(
    local_registry: str, base_image: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, k_model: Model,
    docker_client: Any,
) -> None:
    monkeypatch.setenv("MLDEPLOY_BASE_IMAGE", base_image)
    (tmp_path / "score.py").write_text(SCRIPT)
    pkg = package([k_model], InferenceConfig("score.py", source_directory=str(tmp_path)), image_name="push-test")
    try:
        pkg.wait_for_creation()
        repository = f"{local_registry}/team/push-test"
        pushed = pkg.push(repository)
        name, _, digest = pushed.partition("@")
        assert name == repository and digest.startswith("sha256:") and len(digest) == 71
        assert pkg.to_dict()["pushed"] == pushed

        # the registry holds it under the package's tag, and serves the same manifest digest
        with urllib.request.urlopen(f"http://{local_registry}/v2/team/push-test/tags/list", timeout=10) as answer:
            tags = json.loads(answer.read())["tags"]
        tag = pkg.location.rpartition(":")[2]
        assert tag in tags
        request = urllib.request.Request(
            f"http://{local_registry}/v2/team/push-test/manifests/{tag}", method="HEAD",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.headers["Docker-Content-Digest"] == digest

        # gone locally, back from the registry by digest: the same image
        built_id = docker_client.images.get(pkg.location).id
        docker_client.images.remove(f"{repository}:{tag}")
        engine = shared_engine()
        assert engine.pull_image(pushed) == built_id

        # a tag given in the repository is used
        again = pkg.push(f"{repository}:v2")
        assert again.partition("@")[2] == digest
    finally:
        for image in docker_client.images.list(name=f"{local_registry}/team/push-test"):
            for reference in image.tags + image.attrs.get("RepoDigests", []):
                _remove_quietly(docker_client, reference)
        pkg.delete()


def _remove_quietly(client: Any, reference: str) -> None:
    import docker.errors

    try:
        client.images.remove(reference)
    except docker.errors.DockerException:
        pass


def test_push_errors_name_the_problem_and_the_fix(local_registry: str, docker_client: Any, base_image: str) -> None:
    engine = shared_engine()
    with pytest.raises(InvalidArgumentError, match="is not an image repository"):
        from jupyter_mldeploy.images.engine import split_repository

        split_repository("127.0.0.1:5000/Bad Name", "1")
    with pytest.raises(InvalidArgumentError, match="is not in the Docker engine; build it first"):
        engine.push_image("mldeploy/never-built:1", f"{local_registry}/x", "1")
    # no registry on this port: the answer, and what to do
    with pytest.raises(ImagePushError) as refused:
        engine.push_image(base_image, "127.0.0.1:9/nothing-here", "1")
    assert "pushing to 127.0.0.1:9/nothing-here failed" in str(refused.value)
    assert "no registry answers at 127.0.0.1:9" in str(refused.value)
    docker_client.images.remove("127.0.0.1:9/nothing-here:1")
