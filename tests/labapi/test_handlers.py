"""The /mldeploy/api/ routes against a real Jupyter server, a temporary registry and real process services.

Every call goes through Jupyter's auth (token header) unless a test says it leaves it out;
bad input is checked for its status, its ``reason`` and the words of its message.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import warnings
from typing import Any

import pytest

from jupyter_mldeploy import __version__

from .conftest import Fetch, payload

pytestmark = pytest.mark.usefixtures("services")


async def test_version_names_server_and_frontend(api: Fetch) -> None:
    answer = payload(await api("version"))
    assert answer["server"] == __version__
    assert answer["api"] == 1
    # the test server's Jupyter paths are temporary: no labextension is installed there
    assert answer["frontend"] is None


async def test_models_lists_registered_models_with_size_and_tags(api: Fetch) -> None:
    answer = payload(await api("models"))
    assert answer["total"] == 1
    [group] = answer["models"]
    assert group["name"] == "k" and group["versions"] == [1]
    assert group["latest"]["tags"] == {"stage": "test"}
    assert group["latest"]["file_count"] == 1 and group["latest"]["size"] == 1
    assert group["latest"]["size_text"] == "1 B"

    assert payload(await api("models", params={"q": "K"}))["models"][0]["name"] == "k"
    assert payload(await api("models", params={"q": "nothing"}))["models"] == []
    assert payload(await api("models", params={"tags": "stage=prod"}))["models"] == []
    assert len(payload(await api("models", params={"tags": "stage=test"}))["models"]) == 1


async def test_model_and_version_show_files(api: Fetch) -> None:
    model = payload(await api("models", "k"))
    assert model["name"] == "k"
    [version] = model["versions"]
    assert [f["path"] for f in version["files"]] == ["k.txt"]
    one = payload(await api("models", "k", "1"))
    assert one["version"] == 1 and one["files"][0]["size"] == 1


async def test_unknown_model_and_version_are_404_and_a_bad_version_400(api: Fetch) -> None:
    missing = await api("models", "nope")
    assert missing.code == 404
    error = payload(missing)
    assert error["reason"] == "ModelNotFoundError" and "nope" in error["message"]
    assert (await api("models", "k", "7")).code == 404
    bad = await api("models", "k", "latest")
    assert bad.code == 400 and "whole number" in payload(bad)["message"]


async def test_services_show_state_target_port_uri_and_models(api: Fetch, services: dict[str, Any]) -> None:
    listed = {s["name"]: s for s in payload(await api("services"))["services"]}
    assert set(listed) == {"scale", "raw"}
    scale = listed["scale"]
    assert scale["state"] == "Healthy" and scale["compute_type"] == "process"
    assert scale["port"] == services["scale"].port
    assert scale["scoring_uri"] == f"http://127.0.0.1:{scale['port']}/score"
    assert scale["models"] == ["k:1"]

    detail = payload(await api("services", "scale"))
    assert detail["entry_script"].endswith("score.py")
    assert [p["name"] for p in detail["phases"]][:2] == ["resolve", "environment"]


async def test_unknown_service_is_404_on_every_route(api: Fetch) -> None:
    for parts, method, body in (
        (("services", "ghost"), "GET", None),
        (("services", "ghost", "logs"), "GET", None),
        (("services", "ghost", "score"), "POST", {"body": "{}"}),
        (("services", "ghost", "reload"), "POST", {}),
        (("services", "ghost"), "DELETE", None),
        (("deployments", "ghost", "progress"), "GET", None),
    ):
        answer = await api(*parts, method=method, body=body)
        assert answer.code == 404, parts
        error = payload(answer)
        assert error["reason"] == "ServiceNotFoundError" and "ghost" in error["message"], parts


async def test_logs_tail(api: Fetch) -> None:
    answer = payload(await api("services", "scale", "logs", params={"tail": "50"}))
    assert answer["tail"] == 50
    assert "init loaded k = 3.0" in answer["text"]
    for bad in ("-1", "abc", "0", "100001"):
        refused = await api("services", "scale", "logs", params={"tail": bad})
        assert refused.code == 400
        assert payload(refused)["message"] == f"tail must be a whole number from 1 to 100000, got {bad!r}."


async def test_score_answers_status_latency_headers_and_body(api: Fetch) -> None:
    answer = payload(await api("services", "scale", "score", method="POST", body={"body": '{"data": [1, 2]}'}))
    assert answer["status"] == 200
    assert json.loads(answer["text"]) == {"scaled": [3.0, 6.0]}
    assert answer["latency_ms"] > 0 and answer["content_type"].startswith("application/json")
    assert "x-ms-request-id" in {k.lower() for k in answer["headers"]}

    # the service's own error is an answer too, shown as it came
    failed = payload(await api("services", "scale", "score", method="POST", body={"body": '{"data": [-1]}'}))
    assert failed["status"] == 500 and "negative input -1" in failed["text"]


async def test_score_summarises_a_binary_body(api: Fetch) -> None:
    answer = payload(await api("services", "raw", "score", method="POST", body={"body": "x", "content_type": "text/plain"}))
    assert answer["status"] == 200 and answer["binary"] is True
    assert answer["size"] == 1 + 1024  # the request's byte, then bytes 0..255 four times
    assert answer["hex"].startswith("00000000  78 00 01 02")
    assert len(answer["hex"].splitlines()) == 4  # the first 64 bytes only


async def test_score_bad_input_is_400_naming_what_is_wrong(api: Fetch) -> None:
    not_json = await api("services", "scale", "score", method="POST", body="{not json")
    assert not_json.code == 400
    assert payload(not_json)["message"].startswith("the request body is not JSON (JSONDecodeError at line 1, column 2)")
    typed_badly = await api("services", "scale", "score", method="POST", body={"body": '{"data": [1,'})
    assert typed_badly.code == 400 and "line 1" in payload(typed_badly)["message"]
    unknown = await api("services", "scale", "score", method="POST", body={"bdy": "{}"})
    assert unknown.code == 400
    assert payload(unknown)["message"] == (
        "POST services/NAME/score: unknown field(s) 'bdy'; the fields are body, content_type, headers, method."
    )
    # the server keeps serving after bad requests
    assert payload(await api("services", "scale", "score", method="POST", body={"body": '{"data": [1]}'}))["status"] == 200


async def test_example_swagger_and_snippet(api: Fetch) -> None:
    example = payload(await api("services", "scale", "example"))
    assert example["example"] == {"data": [1.0, 2.0]}
    assert json.loads(example["body"]) == {"data": [1.0, 2.0]}
    swagger = payload(await api("services", "scale", "swagger.json"))
    assert "/score" in json.dumps(swagger["paths"])
    code = payload(await api("services", "scale", "snippet"))["code"]
    assert "Webservice('scale')" in code and '{"data": [1.0, 2.0]}' in code
    # the snippet really calls the service
    namespace: dict[str, Any] = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "<snippet>", "exec"), namespace)  # noqa: S102


async def test_deploy_follow_progress_score_and_delete(api: Fetch) -> None:
    started = await api("deployments", method="POST", body={
        "name": "second", "models": ["k:1"], "entry_script": "app/score.py", "source_dir": "app",
        "target": "process",
    })
    assert started.code == 202, started.body
    assert payload(started)["progress"] == "deployments/second/progress"
    seen: list[dict[str, Any]] = []
    since, deadline = 0, time.monotonic() + 180
    while time.monotonic() < deadline:
        progress = payload(await api("deployments", "second", "progress", params={"since": str(since)}))
        seen.extend(progress["events"])
        since = progress["next"]
        if progress["done"]:
            break
        await asyncio.sleep(0.3)
    assert progress["done"] and progress["ok"], progress
    assert progress["state"] == "Healthy"
    assert [p["name"] for p in progress["phases"]] == ["resolve", "environment", "start", "init", "ready"]
    assert seen, "no progress events were reported"

    assert payload(await api("services", "second", "score", method="POST", body={"body": '{"data": [2]}'}))["status"] == 200
    reloaded = await api("services", "second", "reload", method="POST", body={})
    assert reloaded.code == 200 and payload(reloaded)["state"] == "Healthy"

    deleted = await api("services", "second", method="DELETE")
    assert payload(deleted) == {"deleted": "second"}
    assert "second" not in {s["name"] for s in payload(await api("services"))["services"]}
    assert (await api("services", "second")).code == 404


async def test_deploy_refuses_a_taken_name_and_a_port_in_use(api: Fetch, services: dict[str, Any]) -> None:
    body = {"name": "scale", "models": ["k"], "entry_script": "app/score.py", "source_dir": "app", "target": "process"}
    taken = await api("deployments", method="POST", body=body)
    assert taken.code == 409 and payload(taken)["reason"] == "ServiceExistsError"
    assert "overwrite" in payload(taken)["message"]

    port_of_scale = services["scale"].port
    clash = await api("deployments", method="POST", body={**body, "name": "clash", "port": port_of_scale})
    assert clash.code == 409
    error = payload(clash)
    assert error["reason"] == "PortInUseError" and str(port_of_scale) in error["message"]
    assert "scale" in error["message"]

    with socket.socket() as other:  # a port another program holds
        other.bind(("127.0.0.1", 0))
        other.listen()
        held = other.getsockname()[1]
        busy = await api("deployments", method="POST", body={**body, "name": "clash", "port": held})
    assert busy.code == 409 and str(held) in payload(busy)["message"]
    assert (await api("services", "clash")).code == 404  # nothing was recorded


async def test_deploy_paths_never_escape_the_jupyter_root(api: Fetch, lab_root: Any) -> None:
    (lab_root.parent / "outside.py").write_text("def init(): pass\ndef run(x): return x\n")
    base = {"name": "escape", "models": ["k"], "target": "process"}
    for fields in (
        {"entry_script": "../outside.py"},
        {"entry_script": str(lab_root.parent / "outside.py")},
        {"entry_script": "app/score.py", "source_dir": ".."},
        {"entry_script": "app/score.py", "env_file": "../../etc/passwd"},
    ):
        answer = await api("deployments", method="POST", body={**base, **fields})
        assert answer.code == 400, fields
        error = payload(answer)
        assert error["reason"] == "PathEscapeError" and "outside the Jupyter root" in error["message"], fields
    (lab_root / "link.py").symlink_to(lab_root.parent / "outside.py")
    linked = await api("deployments", method="POST", body={**base, "entry_script": "link.py"})
    assert linked.code == 400 and payload(linked)["reason"] == "PathEscapeError"
    assert (await api("services", "escape")).code == 404


async def test_deploy_bad_input_is_400_or_404(api: Fetch) -> None:
    cases = [
        ("[]", 400, "the request body must be a JSON object, got list."),
        ({"models": ["k"], "entry_script": "app/score.py"}, 400, "'name' is required: give it as a string."),
        ({"name": "x", "models": [], "entry_script": "app/score.py"}, 400, "'models' must be a list"),
        ({"name": "x", "models": ["k"], "entry_script": "app/nope.py"}, 400, "entry script 'app/nope.py' not found"),
        ({"name": "x", "models": ["k"], "entry_script": "app/score.py", "port": "eighty"}, 400, "'port' must be"),
        ({"name": "x", "models": ["k"], "entry_script": "app/score.py", "target": "moon"}, 400, "moon"),
        ({"name": "Bad Name!", "models": ["k"], "entry_script": "app/score.py"}, 400, "Bad Name!"),
        ({"name": "x", "models": ["nomodel"], "entry_script": "app/score.py"}, 404, "nomodel"),
        ({"name": "x", "models": ["/etc/passwd"], "entry_script": "app/score.py"}, 400, "/etc/passwd"),
    ]
    for body, status, words in cases:
        answer = await api("deployments", method="POST", body=body)
        assert answer.code == status, (body, answer.body)
        assert words in payload(answer)["message"], (body, payload(answer))
    assert (await api("services", "x")).code == 404


async def test_unknown_route_is_a_json_404(api: Fetch) -> None:
    answer = await api("nothing", "here")
    assert answer.code == 404
    assert payload(answer)["reason"] == "NoSuchRoute"


async def test_every_route_refuses_requests_without_auth(api: Fetch) -> None:
    routes = [
        ("version", "GET"), ("targets", "GET"), ("models", "GET"), ("models/k", "GET"), ("models/k/1", "GET"),
        ("services", "GET"), ("services/scale", "GET"), ("services/scale/logs", "GET"),
        ("services/scale/swagger.json", "GET"), ("services/scale/example", "GET"),
        ("services/scale/snippet", "GET"), ("services/scale/score", "POST"),
        ("services/scale/reload", "POST"), ("services/scale", "DELETE"), ("deployments", "POST"),
        ("deployments/scale/progress", "GET"), ("elsewhere", "GET"),
    ]
    for path, method in routes:
        body = "{}" if method == "POST" else None
        answer = await api(*path.split("/"), method=method, body=body, headers={"Authorization": ""})
        assert answer.code == 403, (path, method, answer.code)
    # nothing was deleted or reloaded: the service still answers
    assert payload(await api("services", "scale"))["state"] == "Healthy"


async def test_a_logged_in_browser_needs_the_xsrf_token_to_change_anything(
    api: Fetch, jp_fetch: Any, jp_serverapp: Any
) -> None:
    token = jp_serverapp.identity_provider.token
    login = await api("version", params={"token": token}, headers={"Authorization": ""})
    assert login.code == 200
    page = await jp_fetch("login", headers={"Authorization": ""}, raise_error=False)
    cookies = "; ".join(
        c.split(";", 1)[0] for c in login.headers.get_list("Set-Cookie") + page.headers.get_list("Set-Cookie")
    )
    assert "_xsrf=" in cookies, cookies
    xsrf = next(c.split("=", 1)[1] for c in cookies.split("; ") if c.startswith("_xsrf="))
    as_browser = {"Authorization": "", "Cookie": cookies}
    assert (await api("services", headers=as_browser)).code == 200  # the login cookie is enough to read
    refused = await api("services", "scale", method="DELETE", headers=as_browser)
    assert refused.code == 403 and "_xsrf" in payload(refused)["message"]
    allowed = await api("services", "scale", "score", method="POST", body={"body": '{"data": [1]}'},
                        headers={**as_browser, "X-XSRFToken": xsrf})
    assert allowed.code == 200 and payload(allowed)["status"] == 200
    assert payload(await api("services", "scale"))["state"] == "Healthy"


def test_every_handler_verb_is_authenticated(jp_server_config: dict[str, Any], jp_configurable_serverapp: Any) -> None:
    """With allow_unauthenticated_access=False, Jupyter warns about any verb lacking @authenticated: none of ours."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = jp_configurable_serverapp(config=jp_server_config)
    assert app.allow_unauthenticated_access is False
    assert "jupyter_mldeploy" in app.web_app.settings  # the extension loaded
    assert [str(w.message) for w in caught if "authenticated" in str(w.message)] == []

    # the check does see a verb without the decorator (so the empty list above means something)
    from jupyter_mldeploy.labapi.handlers import MLDeployHandler

    class Careless(MLDeployHandler):
        async def get(self) -> None:
            self.answer({})

    with warnings.catch_warnings(record=True) as planted:
        warnings.simplefilter("always")
        app.web_app.add_handlers(".*$", [("/mldeploy/api/careless", Careless)])
    assert any("GET of Careless" in str(w.message) for w in planted)
