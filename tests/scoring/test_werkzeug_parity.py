"""AMLRequest and AMLResponse answer as werkzeug's Request and Response do (what azmlinfsrv hands @rawhttp scripts).

Each request is built once as raw parts and given to both: werkzeug through a WSGI
environ (``EnvironBuilder``, as a WSGI server makes it), ours as the scoring server
makes it. Every attribute the issue lists is compared, value for value.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from werkzeug.datastructures import Headers as WHeaders
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WRequest
from werkzeug.wrappers import Response as WResponse

from jupyter_mldeploy.errors import ScoringInputError
from jupyter_mldeploy.scoring.aml import AMLRequest, AMLResponse

BOUNDARY = "----parity"


def _multipart() -> tuple[bytes, str]:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n",
    ]
    body = "".join(parts).encode() + b"\x89PNG\x00\x01" + (
        f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="b.png"\r\n'
        f"Content-Type: image/png\r\n\r\n").encode() + b"second" + f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"


CASES: dict[str, tuple[str, str, list[tuple[str, str]], bytes]] = {
    "json": ("POST", "a=1&a=2&b=", [("Content-Type", "application/json; charset=utf-8"), ("X-Custom", "v")],
             b'{"data": [1, 2]}'),
    "form": ("POST", "", [("Content-Type", "application/x-www-form-urlencoded")], b"f=3&g=4&f=5"),
    "multipart": ("POST", "q=x", [("Content-Type", _multipart()[1])], _multipart()[0]),
    "text": ("POST", "", [("Content-Type", "text/plain")], b"hello"),
    "bad-json": ("POST", "", [("Content-Type", "application/json")], b'{"data": '),
    "get": ("GET", "name=%C3%A9t%C3%A9&n=2", [("Accept", "text/html")], b""),
}


_opened: list[WRequest] = []


@pytest.fixture(autouse=True)
def _close_werkzeug_requests() -> Any:
    """werkzeug spools uploads to temporary files: close every request a test made."""
    yield
    while _opened:
        _opened.pop().close()


def _pair(case: str) -> tuple[WRequest, AMLRequest]:
    method, query, headers, body = CASES[case]
    builder = EnvironBuilder(path="/score", method=method, query_string=query, headers=headers, data=body,
                             base_url="http://127.0.0.1:5001", environ_overrides={"REMOTE_ADDR": "127.0.0.1"})
    if method == "GET":
        builder.content_length = None
    werk = WRequest(builder.get_environ())
    _opened.append(werk)
    # what the ASGI server hands over: lower-case names, Host and Content-Length as sent on the wire
    wire = [("host", "127.0.0.1:5001"), *((k.lower(), v) for k, v in headers)]
    if body:
        wire.append(("content-length", str(len(body))))
    ours = AMLRequest(method, "/score", query.encode(), wire, body, remote_addr="127.0.0.1")
    return werk, ours


@pytest.mark.parametrize("case", sorted(CASES))
def test_request_attributes_match_werkzeug(case: str) -> None:
    werk, ours = _pair(case)
    for attr in ("method", "path", "full_path", "url", "base_url", "host", "host_url", "url_root", "scheme",
                 "remote_addr", "content_type", "mimetype", "mimetype_params", "content_length", "is_json",
                 "query_string"):
        assert getattr(ours, attr) == getattr(werk, attr), attr
    assert list(ours.args.items(multi=True)) == list(werk.args.items(multi=True))
    assert ours.args.getlist("a") == werk.args.getlist("a")
    assert ours.args.to_dict() == werk.args.to_dict()
    assert list(ours.form.items(multi=True)) == list(werk.form.items(multi=True))
    assert list(ours.values.items(multi=True)) == list(werk.values.items(multi=True))
    assert ours.data == werk.data
    assert ours.get_data(as_text=True) == werk.get_data(as_text=True) or werk.mimetype in (
        "multipart/form-data", "application/x-www-form-urlencoded")  # ours keeps the body after form parsing


@pytest.mark.parametrize("case", sorted(CASES))
def test_request_headers_iterate_as_pairs_like_werkzeug(case: str) -> None:
    werk, ours = _pair(case)
    theirs = [(k, v) for k, v in werk.headers]  # azmlinfsrv's own valid_score.py does this
    mine = [(k, v) for k, v in ours.headers]
    assert dict(mine) == dict(theirs)
    assert dict(ours.headers) == dict(werk.headers)
    for name in ("content-type", "CONTENT-TYPE", "Host", "x-custom", "Missing"):
        assert ours.headers.get(name) == werk.headers.get(name)
        assert (name in ours.headers) == (name in werk.headers)
        assert ours.headers.getlist(name) == werk.headers.getlist(name)
    assert ours.headers.get("Content-Length", type=int) == werk.headers.get("Content-Length", type=int)
    with pytest.raises(TypeError):  # Flask's request headers are immutable too
        ours.headers["X-New"] = "1"
    with pytest.raises(TypeError):
        werk.headers["X-New"] = "1"


def test_files_match_werkzeug() -> None:
    werk, ours = _pair("multipart")
    assert list(ours.files) == list(werk.files)
    for mine, theirs in zip(ours.files.getlist("image"), werk.files.getlist("image"), strict=True):
        assert (mine.filename, mine.name, mine.content_type, mine.mimetype) == (
            theirs.filename, theirs.name, theirs.content_type, theirs.mimetype)
        assert mine.stream.read() == theirs.stream.read()
    first_ours, first_theirs = ours.files["image"], werk.files["image"]
    first_ours.stream.seek(0)
    first_theirs.stream.seek(0)
    assert first_ours.read() == first_theirs.read() == b"\x89PNG\x00\x01"
    saved_ours, saved_theirs = io.BytesIO(), io.BytesIO()
    first_ours.stream.seek(0)
    first_theirs.stream.seek(0)
    first_ours.save(saved_ours)
    first_theirs.save(saved_theirs)
    assert saved_ours.getvalue() == saved_theirs.getvalue()
    assert ours.form["field"] == werk.form["field"] == "value"
    assert ours.stream.read() == werk.stream.read() == b""  # the form parser consumed it in both


@pytest.mark.parametrize("case", ["json", "text", "bad-json", "form"])
def test_get_json_matches_werkzeug(case: str) -> None:
    werk, ours = _pair(case)
    assert ours.get_json(silent=True) == werk.get_json(silent=True)
    assert ours.get_json(force=True, silent=True) == werk.get_json(force=True, silent=True)
    try:
        expected: Any = werk.get_json()
    except Exception as err:  # noqa: BLE001 - werkzeug raises HTTPExceptions: 400 BadRequest or 415
        with pytest.raises(ScoringInputError) as info:
            ours.get_json()
        assert info.value.status == err.code  # type: ignore[attr-defined]
    else:
        assert ours.get_json() == expected
        assert ours.json == werk.json


def test_stream_reads_on_like_werkzeug() -> None:
    werk, ours = _pair("text")
    assert ours.stream.read(2) == werk.stream.read(2) == b"he"
    assert ours.stream.read() == werk.stream.read() == b"llo"


# --- responses ----------------------------------------------------------------------------


def _same_response(ours: AMLResponse, werk: WResponse) -> None:
    assert ours.status_code == werk.status_code
    assert ours.status == werk.status
    assert ours.content_type == werk.content_type
    assert ours.mimetype == werk.mimetype
    assert ours.get_data() == werk.get_data() and ours.data == werk.data
    assert ours.get_data(as_text=True) == werk.get_data(as_text=True)
    wanted = {k.lower(): v for k, v in werk.headers}
    mine = {k.lower(): v for k, v in ours.headers if k.lower() != "x-ms-run-function-failed"}
    assert mine == wanted


def test_response_defaults_and_setters_match_werkzeug() -> None:
    ours = AMLResponse("hello", 200)
    werk = WResponse("hello", 200, mimetype="text/plain")
    _same_response(ours, werk)
    for target in (ours, werk):
        target.status_code = 404
        target.headers["X-Thing"] = "1"
        target.headers.add("Set-Cookie", "a=1")
        target.headers.add("Set-Cookie", "b=2")
        target.set_data(b"gone")
        target.mimetype = "text/html"
    _same_response(ours, werk)
    assert ours.headers.getlist("Set-Cookie") == werk.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    for target in (ours, werk):
        target.data = "replaced"
        target.content_type = "application/json"
        target.status = "201 CREATED"
    _same_response(ours, werk)
    for target in (ours, werk):
        target.status = "418"
        del target.headers["X-Thing"]
    _same_response(ours, werk)
    assert ours.status == "418 I'M A TEAPOT"


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "text/csv", "X-A": "1"}, [("Content-Type", "text/csv"), ("X-A", "1"), ("X-A", "2")],
     WHeaders([("Content-Type", "text/csv"), ("X-A", "1")])],
)
def test_response_headers_in_mapping_and_list_forms(headers: Any) -> None:
    ours = AMLResponse("a,b", 200, headers)
    werk = WResponse("a,b", 200, headers=headers)
    _same_response(ours, werk)
    assert [v for k, v in ours.headers if k == "X-A"] == werk.headers.getlist("X-A")


def test_json_response_matches_flask_jsonify_shape() -> None:
    ours = AMLResponse({"a": 1}, 200, json_str=True)
    assert ours.mimetype == "application/json" and json.loads(ours.get_data()) == {"a": 1}
    assert ours.json == {"a": 1}
