"""Fixtures for the server extension's handler tests: a real Jupyter server (pytest-jupyter) with auth required.

pytest-jupyter's fixtures are imported here, not loaded as a plugin for the whole suite, so
its per-test event loop and server clean-up apply to these tests only.

- ``jp_server_config``: the extension enabled, ``allow_unauthenticated_access=False``.
- ``lab_root``: the Jupyter root for the module (entry scripts live in it); ``jp_root_dir`` is it.
- ``mldeploy_home``: one ``MLDEPLOY_HOME`` for the module, so the service deployed once is seen
  by every test in it.
- ``services``: real process-target services in that home, deployed once per module:
  ``scale`` (k = 3, a swagger example) and ``raw`` (``@rawhttp``, answers binary bytes);
  both scripts come from ``tests/scale_script.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # the jp_* fixtures, for this folder only
from scale_script import RAW_SCRIPT, SCHEMA_SCALE_SCRIPT
from tornado.httpclient import HTTPClientError, HTTPResponse

SCALE, RAW = SCHEMA_SCALE_SCRIPT, RAW_SCRIPT


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Jupyter root: ``app/score.py`` (SCALE), ``raw/score.py`` (RAW), ``k.txt`` beside them."""
    root = tmp_path_factory.mktemp("jupyter-root")
    for folder, script in (("app", SCALE), ("raw", RAW)):
        (root / folder).mkdir()
        (root / folder / "score.py").write_text(script)
    (root / "k.txt").write_text("3")
    return root


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mldeploy-home")


@pytest.fixture
def mldeploy_home(module_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Overrides tests/conftest.py's per-test home: one home for the module's services."""
    monkeypatch.setenv("MLDEPLOY_HOME", str(module_home))
    return module_home


@pytest.fixture
def jp_root_dir(lab_root: Path) -> Path:
    return lab_root


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mldeploy": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture(scope="module")
def services(module_home: Path, lab_root: Path) -> Iterator[dict[str, Any]]:
    """``scale`` and ``raw``, real process-target services (deleted after the module)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLDEPLOY_HOME", str(module_home))
        if "MLDEPLOY_UV_CACHE_DIR" not in os.environ:
            patch.setenv("MLDEPLOY_UV_CACHE_DIR", str(module_home.parent / "uv-cache"))
        from jupyter_mldeploy import InferenceConfig, Model
        from jupyter_mldeploy.deploy import deploy
        from jupyter_mldeploy.deploy.process import ProcessWebservice
        from jupyter_mldeploy.deploy.service import Webservice

        model = Model.register(str(lab_root / "k.txt"), "k", tags={"stage": "test"})
        made = {}
        for name, folder in (("scale", "app"), ("raw", "raw")):
            made[name] = deploy(
                name, [model], InferenceConfig("score.py", source_directory=str(lab_root / folder)),
                ProcessWebservice.deploy_configuration(),
            )
        for service in made.values():
            service.wait_for_deployment(timeout_sec=180)
        try:
            yield made
        finally:
            for service in Webservice.list():
                service.delete()


Fetch = Callable[..., Awaitable[HTTPResponse]]


@pytest.fixture
def api(jp_fetch: Any) -> Fetch:
    """``await api("services", "scale", method="POST", body={...})``: a call to /mldeploy/api/ with the token.

    A dict ``body`` is sent as JSON. Error statuses are returned, not raised (``raise_error=False``).
    """

    def call(*parts: str, body: Any = None, **kwargs: Any) -> Awaitable[HTTPResponse]:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if body is not None:
            kwargs["body"] = body
        kwargs.setdefault("raise_error", False)
        return jp_fetch("mldeploy", "api", *parts, **kwargs)

    return call


def payload(response: HTTPResponse) -> Any:
    """The JSON body of an answer."""
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    return json.loads(response.body)


__all__ = ["HTTPClientError", "payload"]
