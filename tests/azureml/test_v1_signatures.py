"""``Model.deploy`` and ``Model.package`` take every positional and keyword form of v1's signatures.

v1: ``Model.deploy(workspace, name, models, inference_config=None, deployment_config=None,
deployment_target=None, overwrite=False, show_output=False)`` and ``Model.package(workspace,
models, inference_config=None, generate_dockerfile=False, image_name=None, image_label=None)``,
where the workspace may be ``None`` (the local-only form). The forms are checked by what
reaches the deployment API (fast), and the form that used to fail ("got multiple values for
argument 'overwrite'") really deploys and answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_mldeploy import api
from jupyter_mldeploy.azureml import InferenceConfig, Model, Workspace
from jupyter_mldeploy.errors import InvalidArgumentError

WS = object()  # stands for a Workspace in the fast forms (anything that is not a name, path or list)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(api, "_deploy", lambda **kw: seen.append(("deploy", kw)) or "service")
    monkeypatch.setattr(api, "_package", lambda **kw: seen.append(("package", kw)) or "package")
    return seen


M, IC, DC = ["model"], "ic", "dc"
DEPLOYED = {"name": "svc", "models": M, "inference_config": IC, "deployment_config": DC, "overwrite": True}


@pytest.mark.parametrize(("args", "kwargs"), [
    ((None, "svc", M, IC, DC), {"overwrite": True}),                   # the form that failed
    ((None, "svc", M, IC, DC, None, True), {}),                        # v1 all positional (deployment_target=None)
    ((None, "svc", M, IC, DC, None, True, True), {}),                  # ... and show_output
    ((WS, "svc", M, IC, DC, None, True), {}),
    ((WS, "svc", M), {"inference_config": IC, "deployment_config": DC, "overwrite": True}),
    ((WS,), {"name": "svc", "models": M, "inference_config": IC, "deployment_config": DC, "overwrite": True}),
    ((), {"workspace": None, "name": "svc", "models": M, "inference_config": IC, "deployment_config": DC,
          "overwrite": True, "show_output": True}),
    ((), {"workspace": WS, "name": "svc", "models": M, "inference_config": IC, "deployment_config": DC,
          "overwrite": True}),
    (("svc", M, IC, DC, True), {}),                                    # this project's form, no workspace
    (("svc", M, IC), {"deployment_config": DC, "overwrite": True, "show_output": False}),
    ((), {"name": "svc", "models": M, "inference_config": IC, "deployment_config": DC, "overwrite": True}),
])
def test_every_deploy_form_reaches_deploy_with_the_same_arguments(
    calls: list[tuple[str, dict[str, Any]]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    assert Model.deploy(*args, **kwargs) == "service"
    assert calls == [("deploy", DEPLOYED)]


def test_deploy_defaults_and_bad_forms_are_clear(calls: list[tuple[str, dict[str, Any]]]) -> None:
    Model.deploy(None, "svc", M, IC)
    assert calls[-1][1] == {**DEPLOYED, "deployment_config": None, "overwrite": False}
    with pytest.raises(InvalidArgumentError, match=r"deployment_target .*deployment_config="):
        Model.deploy(None, "svc", M, IC, DC, "aks-cluster")
    with pytest.raises(InvalidArgumentError, match=r"Model.deploy\(workspace, name, models, .*multiple values"):
        Model.deploy(None, "svc", M, IC, name="again")
    with pytest.raises(InvalidArgumentError, match=r"Model.deploy\(name, models, .*too many"):
        Model.deploy("svc", M, IC, DC, True, 1, 2)
    with pytest.raises(InvalidArgumentError, match=r"unexpected keyword argument 'colour'"):
        Model.deploy(None, "svc", M, IC, colour="red")
    assert len(calls) == 1


PACKAGED = {"models": M, "inference_config": IC, "generate_dockerfile": True, "image_name": "img", "image_label": "7"}


@pytest.mark.parametrize(("args", "kwargs"), [
    ((None, M, IC, True, "img", "7"), {}),
    ((WS, M, IC, True, "img", "7"), {}),
    ((WS, M, IC), {"generate_dockerfile": True, "image_name": "img", "image_label": "7"}),
    ((None, M), {"inference_config": IC, "generate_dockerfile": True, "image_name": "img", "image_label": "7"}),
    ((), {"workspace": None, **PACKAGED}),
    ((), {"workspace": WS, **PACKAGED}),
    ((M, IC, True, "img", "7"), {}),                                   # no workspace
    ((M, IC), {"generate_dockerfile": True, "image_name": "img", "image_label": "7"}),
    ((), PACKAGED),
])
def test_every_package_form_reaches_package_with_the_same_arguments(
    calls: list[tuple[str, dict[str, Any]]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    assert Model.package(*args, **kwargs) == "package"
    assert calls == [("package", PACKAGED)]


def test_package_defaults_and_bad_forms(calls: list[tuple[str, dict[str, Any]]]) -> None:
    Model.package(None, M, IC)
    assert calls[-1][1] == {**PACKAGED, "generate_dockerfile": False, "image_name": None, "image_label": None}
    with pytest.raises(InvalidArgumentError, match=r"Model.package\(workspace, models, .*multiple values"):
        Model.package(None, M, IC, True, generate_dockerfile=True)


def test_workspace_none_really_deploys_and_answers(k_model: Model, tmp_path: Path) -> None:
    """v1's local-only form deploys (it failed with "got multiple values for argument 'overwrite'")."""
    from jupyter_mldeploy import ProcessWebservice

    app = tmp_path / "app"
    app.mkdir()
    (app / "score.py").write_text(
        "import os\n\ndef init():\n    global k\n"
        "    k = int(open(os.path.join(os.environ['AZUREML_MODEL_DIR'], 'k.txt')).read())\n\n"
        "def run(data):\n    return {'k': k}\n"
    )
    ic = InferenceConfig(entry_script="score.py", source_directory=str(app))
    service = Model.deploy(None, "v1-none", [k_model], ic, ProcessWebservice.deploy_configuration(), None, False)
    service.wait_for_deployment()
    assert service.run("{}") == {"k": 3}
    again = Model.deploy(Workspace.from_config(), "v1-none", [k_model], ic,
                         ProcessWebservice.deploy_configuration(), overwrite=True)
    again.wait_for_deployment()
    assert again.run("{}") == {"k": 3}
    package = Model.package(None, [k_model], ic, True, "v1-none-img")
    package.wait_for_creation()
    assert package.location == "v1-none-img:1" and (package.context_dir / "Dockerfile").is_file()
    package.delete()
    again.delete()
