"""The registry browser over a real registry (per-test MLDEPLOY_HOME) and real deployments.

Models are registered with ``Model.register`` (files, a folder, tags, properties); the tests
drive the panel as a user would (set ``.value``, ``.click()``) and assert what it shows with
``visible_text`` and on widget values. Deploys use the process target (real scoring server on
127.0.0.1) and, in one ``docker`` test, the real Docker engine with the offline base image.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_script import SCALE_SCRIPT

from jupyter_mldeploy import Model, Webservice
from jupyter_mldeploy.errors import ModelNotFoundError
from jupyter_mldeploy.widgets import RegistryBrowser
from jupyter_mldeploy.widgets._base import visible_text
from jupyter_mldeploy.registry.tags import parse_tag_filter


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Model]:
    """``k`` in three versions (tags dev, prod, prod+team) and a folder model ``forest`` with two files."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "k.txt").write_text("3")
    found = {
        "k1": Model.register(str(src / "k.txt"), "k", tags={"stage": "dev"}),
        "k2": Model.register(str(src / "k.txt"), "k", tags={"stage": "prod"}),
        "k3": Model.register(
            str(src / "k.txt"),
            "k",
            tags={"stage": "prod", "team": "ml"},
            description="k, third try",
        ),
    }
    folder = src / "forest"
    folder.mkdir()
    (folder / "trees.bin").write_bytes(b"\x01" * 1536)
    (folder / "meta.json").write_text('{"depth": 4}')
    found["forest"] = Model.register(
        str(folder),
        "forest",
        properties={"accuracy": "0.93"},
        model_framework="ScikitLearn",
        model_framework_version="1.5.0",
    )
    return found


@pytest.fixture
def browser() -> Iterator[RegistryBrowser]:
    """A browser on the default registry, closed (tickers stopped) after the test."""
    panel = RegistryBrowser()
    yield panel
    panel.close()


def _options(select: Any) -> list[Any]:
    return [value for _label, value in select.options]


# --- browsing --------------------------------------------------------------------------------


def test_empty_registry_says_how_to_register(browser: RegistryBrowser) -> None:
    text = visible_text(browser)
    assert "0 models, 0 versions" in text
    assert "The registry is empty" in text
    assert "Model.register('model.pkl', model_name='ridge')" in text
    assert "%mldeploy register model.pkl --name ridge" in text
    assert browser.deploy_button.disabled and browser.selected is None
    assert {"mldeploy-panel", "mldeploy-registry-browser"} <= set(browser._dom_classes)


def test_lists_models_with_latest_version_and_versions_newest_first(
    models: dict[str, Model], browser: RegistryBrowser
) -> None:
    assert _options(browser.models) == ["forest", "k"]
    labels = [label for label, _ in browser.models.options]
    assert labels[0].startswith("forest  (v1, 1 version)")
    assert labels[1].startswith("k  (v3, 3 versions)")
    assert "2 models, 4 versions" in visible_text(browser)
    assert "The registry is empty" not in visible_text(browser)

    browser.models.value = "k"
    assert _options(browser.versions) == [3, 2, 1]
    assert browser.versions.value == 3
    assert "[stage=prod, team=ml]" in browser.versions.label
    browser.versions.value = 1
    assert browser.selected == models["k1"]
    assert "k:1" in visible_text(browser.details)


def test_filter_by_name_is_a_live_case_insensitive_substring(
    models: dict[str, Model], browser: RegistryBrowser
) -> None:
    browser.name_filter.value = "ORE"
    assert _options(browser.models) == ["forest"]
    assert "1 model, 1 version match (of 2 models, 4 versions)" in visible_text(browser)
    browser.name_filter.value = "nothing-like-this"
    assert _options(browser.models) == [] and browser.selected is None
    assert "No model matches these filters" in visible_text(browser)
    assert browser.deploy_button.disabled
    browser.name_filter.value = ""
    assert _options(browser.models) == ["forest", "k"]


@pytest.mark.parametrize(
    ("text", "wanted", "versions_of_k"),
    [
        ("stage=prod", [["stage", "prod"]], [3, 2]),
        ("stage", [["stage"]], [3, 2, 1]),
        ("stage=prod, team", [["stage", "prod"], ["team"]], [3]),
    ],
)
def test_filter_by_tag_uses_model_list_semantics(
    models: dict[str, Model],
    browser: RegistryBrowser,
    text: str,
    wanted: list[list[str]],
    versions_of_k: list[int],
) -> None:
    assert parse_tag_filter(text) == wanted
    browser.tag_filter.value = text
    assert _options(browser.models) == ["k"]  # forest has no tags
    assert browser.models.value == "k"
    assert _options(browser.versions) == versions_of_k
    # the same versions as the API gives for the same filter
    assert [m.version for m in Model.list(tags=wanted)] == versions_of_k


def test_bad_tag_filter_is_shown_in_the_panel_and_cleared_when_fixed(
    models: dict[str, Model], browser: RegistryBrowser
) -> None:
    browser.tag_filter.value = "=prod"
    text = visible_text(browser)
    assert "Error:" in text and "tag filter '=prod' has no key" in text and "key=value" in text
    browser.tag_filter.value = "stage=dev"
    assert "Error" not in visible_text(browser)
    assert _options(browser.versions) == [1]


def test_details_show_facts_tags_properties_files_and_sizes(
    models: dict[str, Model], browser: RegistryBrowser
) -> None:
    browser.select("forest")
    text = visible_text(browser.details)
    forest = models["forest"]
    assert "forest:1" in text
    assert forest.created_time.strftime("%Y-%m-%d %H:%M:%S UTC") in text
    assert "ScikitLearn 1.5.0" in text
    assert "accuracy   0.93" in text and "no tags" in text
    assert "forest/trees.bin   1.5 KiB" in text
    assert "forest/meta.json   12 B" in text
    assert "total: 2 files    1.5 KiB" in text  # 1548 bytes
    trees_sha = hashlib.sha256(b"\x01" * 1536).hexdigest()
    assert trees_sha[:12] in text and trees_sha not in text
    assert "Model.get_model_path('forest', version=1)" in text

    browser.select("k", 3)
    text = visible_text(browser.details)
    assert "k, third try" in text and "stage   prod" in text and "team   ml" in text
    assert "no properties" in text

    browser.path_button.click()
    shown = visible_text(browser.path)
    assert shown.strip().startswith("Local path")
    path = shown.split("copy):", 1)[1].strip()
    assert Path(path).name == "k.txt" and Path(path).read_text() == "3"


def test_refresh_shows_a_model_registered_after_the_browser_opened(
    models: dict[str, Model], browser: RegistryBrowser, tmp_path: Path
) -> None:
    browser.select("k", 2)
    (tmp_path / "new.txt").write_text("new")
    Model.register(str(tmp_path / "new.txt"), "alpha")
    Model.register(str(tmp_path / "new.txt"), "k")
    assert _options(browser.models) == ["forest", "k"]  # not yet
    browser.refresh_button.click()
    assert _options(browser.models) == ["alpha", "forest", "k"]
    assert "3 models, 6 versions" in visible_text(browser)
    assert (browser.models.value, browser.versions.value) == ("k", 2)  # the selection stays
    assert _options(browser.versions) == [4, 3, 2, 1]


def test_for_model_opens_on_that_version(models: dict[str, Model]) -> None:
    browser = RegistryBrowser.for_model(models["k2"])
    try:
        assert (browser.models.value, browser.versions.value) == ("k", 2)
        assert browser.selected == models["k2"]
        assert "k:2" in visible_text(browser)
    finally:
        browser.close()
    compact = RegistryBrowser.for_model(models["forest"], compact=True)
    try:
        text = visible_text(compact)
        assert "forest:1" in text and "[Deploy…]" in text and "[Browse registry]" in text
        assert "Models" not in text and "k  (v3" not in text  # the lists are folded away
        compact.browse_button.click()
        assert "2 models, 4 versions" in visible_text(compact)
        assert "[Browse registry]" not in visible_text(compact)
    finally:
        compact.close()


def test_for_model_of_a_deleted_version_says_so_and_shows_no_other(models: dict[str, Model]) -> None:
    Model("k", version=2).delete()  # deleted elsewhere: the CLI, another kernel
    compact = RegistryBrowser.for_model(models["k2"], compact=True)
    try:
        text = visible_text(compact)
        assert "k:2 was deleted from the registry." in text and "Browse registry" in text
        assert compact.selected is None and compact.details.value == ""  # not k:3's details
        assert "k:3" not in text and compact.deploy_button.disabled
    finally:
        compact.close()
    with pytest.raises(ModelNotFoundError, match=r"model 'k' has no version 2 .*\(it has 3, 1\)"):
        RegistryBrowser().select("k", 2)


def test_model_whose_every_version_was_deleted_still_displays(
    models: dict[str, Model], monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython

    class FakeKernelShell:
        kernel = object()

    models["forest"].delete()
    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeKernelShell())
    made: list[RegistryBrowser] = []
    original = RegistryBrowser.for_model.__func__  # type: ignore[attr-defined]

    def recording(cls: type[RegistryBrowser], model: Model, **kwargs: Any) -> RegistryBrowser:
        made.append(original(cls, model, **kwargs))
        return made[-1]

    monkeypatch.setattr(RegistryBrowser, "for_model", classmethod(recording))
    try:
        bundle = models["forest"]._repr_mimebundle_()  # must not raise
        assert bundle["text/plain"].startswith("Model forest:1 (folder")
        assert "(forest:1 was deleted from the registry: this is what it was.)" in bundle["text/plain"]
        assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == made[0].model_id
        assert "forest:1 was deleted from the registry." in visible_text(made[0])
        assert made[0].selected is None
    finally:
        for panel in made:
            panel.close()


def test_add_and_remove_a_tag(models: dict[str, Model], browser: RegistryBrowser) -> None:
    browser.select("k", 1)
    browser.tag_edit.value = "owner = ana"
    browser.add_tag_button.click()
    assert Model("k", version=1).tags == {"stage": "dev", "owner": "ana"}
    assert "Tagged k:1 with owner=ana." in visible_text(browser)
    assert "owner   ana" in visible_text(browser.details) and browser.tag_edit.value == ""
    assert browser.versions.value == 1 and "owner=ana" in browser.versions.label

    browser.tag_edit.value = "no-value-given"
    browser.add_tag_button.click()
    assert "add a tag as key=value, e.g. stage=prod; got 'no-value-given'" in visible_text(browser)

    browser.tag_edit.value = "nope"
    browser.remove_tag_button.click()
    assert "k:1 has no tag 'nope' (its tags: owner, stage)" in visible_text(browser)
    browser.tag_edit.value = "stage"
    browser.remove_tag_button.click()
    assert Model("k", version=1).tags == {"owner": "ana"}
    assert "Removed tag 'stage' from k:1." in visible_text(browser)


def test_delete_version_asks_first(models: dict[str, Model], browser: RegistryBrowser) -> None:
    browser.select("k", 2)
    browser.delete_button.click()
    assert "Delete  k:2 ?" in visible_text(browser)
    browser.cancel_delete.click()  # kept
    assert "Delete  k:2 ?" not in visible_text(browser)
    assert [m.version for m in Model.list(name="k")] == [3, 2, 1]

    browser.delete_button.click()
    assert browser.confirm_delete.description == "Yes, delete k:2"
    browser.confirm_delete.click()
    assert [m.version for m in Model.list(name="k")] == [3, 1]
    assert _options(browser.versions) == [3, 1] and browser.versions.value == 3
    assert "Deleted k:2." in visible_text(browser)
    assert "2 models, 3 versions" in visible_text(browser)

    # a changed selection closes the question
    browser.delete_button.click()
    browser.versions.value = 1
    assert "Delete  k:" not in visible_text(browser)


def test_an_explicit_registry_is_browsed_instead_of_the_default(
    models: dict[str, Model], tmp_path: Path
) -> None:
    from jupyter_mldeploy.errors import InvalidArgumentError
    from jupyter_mldeploy.registry import Registry

    other = Registry(tmp_path / "other-home")
    (tmp_path / "w.txt").write_text("w")
    other.register(tmp_path / "w.txt", "elsewhere")
    for registry in (other, str(tmp_path / "other-home")):
        panel = RegistryBrowser(registry=registry)
        try:
            assert _options(panel.models) == ["elsewhere"]
            assert "1 model, 1 version" in visible_text(panel)
        finally:
            panel.close()
    with pytest.raises(InvalidArgumentError, match="for_model\\(\\) takes a Model, got str"):
        RegistryBrowser.for_model("k:1")  # type: ignore[arg-type]


# --- the Model display hook -----------------------------------------------------------------


def test_model_displays_as_text_in_a_terminal_without_importing_ipywidgets(
    models: dict[str, Model], mldeploy_home: Path
) -> None:
    code = textwrap.dedent(
        """
        import sys
        from jupyter_mldeploy import Model
        bundle = Model("forest")._repr_mimebundle_()
        print(sorted(bundle))
        print(bundle["text/plain"])
        print("ipywidgets" in sys.modules, "IPython" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"MLDEPLOY_HOME": str(mldeploy_home), "PATH": "/usr/bin:/bin"},
    ).stdout
    lines = out.splitlines()
    assert lines[0] == "['text/plain']"
    assert lines[1] == "Model forest:1 (folder, 2 files, 1.5 kB)"
    assert "  framework:   ScikitLearn 1.5.0" in lines
    assert "  properties:  accuracy=0.93" in lines
    assert any(line.startswith("    forest/trees.bin") and "1.5 kB" in line for line in lines)
    assert lines[-1] == "False False"
    # __repr__ is unchanged
    assert repr(models["forest"]).startswith("Model(name='forest', version=1, files=2")


def test_model_displays_as_the_compact_browser_in_a_kernel(
    models: dict[str, Model], monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython

    class FakeKernelShell:
        kernel = object()

    made: list[RegistryBrowser] = []
    original = RegistryBrowser.for_model.__func__  # type: ignore[attr-defined]

    def recording(cls: type[RegistryBrowser], model: Model, **kwargs: Any) -> RegistryBrowser:
        made.append(original(cls, model, **kwargs))
        return made[-1]

    monkeypatch.setattr(RegistryBrowser, "for_model", classmethod(recording))
    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeKernelShell())
    try:
        bundle = models["k2"]._repr_mimebundle_()
        assert bundle["text/plain"].startswith("Model k:2 (file, 1 file, 1 B)")
        view = bundle["application/vnd.jupyter.widget-view+json"]
        assert len(made) == 1 and view["model_id"] == made[0].model_id
        assert made[0].selected == models["k2"] and "[Browse registry]" in visible_text(made[0])
        # a front end asking for text only gets no widget
        assert list(models["k2"]._repr_mimebundle_(include=["text/plain"])) == ["text/plain"]
        assert len(made) == 1
    finally:
        for panel in made:
            panel.close()
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert list(models["k2"]._repr_mimebundle_()) == ["text/plain"]


# --- the deploy form ----------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The notebook's folder: holds score.py; relative paths in the form start here."""
    folder = tmp_path / "nb"
    folder.mkdir()
    (folder / "score.py").write_text(SCALE_SCRIPT)
    monkeypatch.chdir(folder)
    return folder


def test_deploy_form_opens_prefilled_and_cancel_hides_it(
    k_model: Model, browser: RegistryBrowser, workdir: Path
) -> None:
    form = browser.deploy_form
    assert not form.is_open and "Service" not in visible_text(browser)
    browser.deploy_button.click()
    assert form.is_open
    assert form.service_name.value == "k-svc" and form.entry_script.value == "score.py"
    assert form.port.value == "" and form.overwrite.value is False
    assert form.target.value in ("process", "docker")
    assert "Deploy k:1" in visible_text(browser)
    form.cancel.click()
    assert not form.is_open and "Deploy k:1" not in visible_text(browser)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("service_name", "bad name!", "invalid service name 'bad name!'"),
        ("service_name", "", "invalid service name ''"),
        ("entry_script", "missing.py", "entry script 'missing.py' not found"),
        ("entry_script", "", "the entry script is blank"),
        ("port", "abc", "port must be a whole number from 1 to 65535, got 'abc'"),
        ("port", "70000", "port must be a whole number from 1 to 65535, got '70000'"),
        ("port", "²", "port must be a whole number from 1 to 65535, got '²'"),  # isdigit(), not int()
        ("port", "٨٠", "port must be a whole number from 1 to 65535, got '٨٠'"),  # int() takes it
        ("env_file", "nope.txt", "environment file 'nope.txt' not found"),
        ("source_dir", "no-such-dir", "entry script 'score.py' not found"),
    ],
)
def test_deploy_form_validation_messages(
    k_model: Model, browser: RegistryBrowser, workdir: Path, field: str, value: str, message: str
) -> None:
    browser.deploy_button.click()
    form = browser.deploy_form
    getattr(form, field).value = value
    form.target.value = "process"
    form.deploy.click()  # must not raise
    text = visible_text(form)
    assert "Error:" in text and message in text
    assert "Traceback" not in text
    assert form.is_open and browser.deployment is None
    assert Webservice.list() == []


@pytest.mark.usefixtures("no_leaked_services")
def test_deploy_with_the_process_target_really_deploys(
    k_model: Model, browser: RegistryBrowser, workdir: Path
) -> None:
    browser.deploy_button.click()
    form = browser.deploy_form
    form.target.value = "process"
    form.deploy.click()
    assert "Error" not in visible_text(browser), visible_text(browser)
    assert not form.is_open
    assert browser.deployment is not None
    assert browser.deployment_box.children == (browser.deployment,)
    assert "mldeploy-deployment-panel" in browser.deployment._dom_classes
    service = browser.service
    assert service is not None and service.name == "k-svc"
    service.wait_for_deployment(timeout_sec=120)
    assert service.run({"data": [1, 2]}) == [3.0, 6.0]
    assert service.models == ["k:1"] and service.compute_type == "process"
    # the panel shows the service (its live view refreshes on its own)
    deadline = time.monotonic() + 30
    while "Healthy" not in visible_text(browser.deployment) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "k-svc" in visible_text(browser) and "Healthy" in visible_text(browser.deployment)

    # deploying again under the same name needs the overwrite box
    browser.deploy_button.click()
    form.deploy.click()
    assert "a service named 'k-svc' exists already" in visible_text(form)
    assert "overwrite" in visible_text(form)
    # with it, the service's one panel stays and follows the new deployment (not closed, not doubled)
    panel = browser.deployment
    form.overwrite.value = True
    form.deploy.click()
    assert browser.service is not service and browser.deployment is panel
    assert panel.service is browser.service and panel.ticker.running
    browser.service.wait_for_deployment(timeout_sec=120)
    assert browser.service.run({"data": [1]}) == [3.0]


def test_docker_is_disabled_with_a_note_when_it_cannot_run(
    k_model: Model, browser: RegistryBrowser, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLDEPLOY_BASE_IMAGE", "mldeploy/no-such-image:never")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{workdir}/no-docker.sock")
    browser.deploy_button.click()
    form = browser.deploy_form
    assert form.target.value == "process" and form.target.disabled
    assert "Docker is off: no Docker engine answers" in visible_text(form)


@pytest.mark.docker
@pytest.mark.usefixtures("no_leaked_services")
def test_deploy_with_the_docker_target(
    docker_home: Path, k_model: Model, browser: RegistryBrowser, workdir: Path
) -> None:
    browser.deploy_button.click()
    form = browser.deploy_form
    assert form.target.value == "docker" and not form.target.disabled  # what deploy() would pick
    form.service_name.value = "k-dock"
    form.deploy.click()
    assert "Error" not in visible_text(browser), visible_text(browser)
    service = browser.service
    assert service is not None and service.name == "k-dock"
    service.wait_for_deployment(timeout_sec=600)
    assert service.compute_type == "docker"
    assert service.run({"data": [2]}) == [6.0]
    assert browser.deployment is not None and "k-dock" in visible_text(browser)
