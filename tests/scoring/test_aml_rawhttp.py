"""@rawhttp scripts, AMLRequest and AMLResponse."""

from __future__ import annotations

from pathlib import Path

import pytest
from entry_helpers import make_request, response_bytes, response_json

from jupyter_mldeploy import AMLRequest, AMLResponse, rawhttp
from jupyter_mldeploy.errors import ScoringInputError


def test_rawhttp_script_echoes_binary_body_with_its_content_type(load_script):
    script = load_script("rawhttp_bytes")
    assert script.is_rawhttp and not script.has_schema
    assert {"GET", "POST", "PUT", "DELETE"} <= script.allowed_methods
    payload = bytes(range(256)) * 4
    resp = script.handle(make_request(body=payload, content_type="image/png"))
    assert resp.status == 200
    assert resp.content_type == "image/png"
    assert response_bytes(resp) == payload
    assert resp.headers["X-Echo-Length"] == str(len(payload))


def test_rawhttp_get_sees_args_and_full_path(load_script):
    script = load_script("rawhttp_bytes")
    resp = script.handle(make_request("GET", content_type=None, query="a=1&a=2&b=x%20y"))
    assert resp.status == 200
    assert response_json(resp) == {"method": "GET", "args": {"a": "1", "b": "x y"},
                                   "full_path": "/score?a=1&a=2&b=x%20y", "path": "/score"}


def test_rawhttp_other_methods_reach_the_script(load_script):
    script = load_script("rawhttp_bytes")
    resp = script.handle(make_request("DELETE", content_type=None))
    assert resp.status == 405
    assert response_bytes(resp) == b"method DELETE is not supported"
    assert resp.content_type == "text/plain; charset=utf-8"


def _raw_script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "raw.py"
    path.write_text(
        "from azureml.contrib.services.aml_request import AMLRequest, rawhttp\n"
        "from azureml.contrib.services.aml_response import AMLResponse\n\n"
        "def init():\n    pass\n\n@rawhttp\ndef run(request):\n" + body
    )
    return path


def test_get_json_on_invalid_body_is_a_400_not_a_500(tmp_path: Path, load_script):
    script = load_script(_raw_script(tmp_path, "    return request.get_json()['x']\n"))
    resp = script.handle(make_request(body=b'{"x": '))
    assert resp.status == 400
    error = response_json(resp)["error"]
    assert error["code"] == "InvalidJSON" and "line 1 column 7" in error["message"]
    ok = script.handle(make_request(body=b'{"x": [1]}'))
    assert ok.status == 200 and response_json(ok) == [1]


def test_rawhttp_returning_5xx_response_marks_run_failed(tmp_path: Path, load_script):
    script = load_script(_raw_script(tmp_path, "    return AMLResponse({'error': 'model offline'}, 503, json_str=True)\n"))
    resp = script.handle(make_request(body=b"{}"))
    assert resp.status == 503
    assert resp.content_type == "application/json"
    assert response_json(resp) == {"error": "model offline"}
    assert resp.headers["x-ms-run-function-failed"] == "True"


def test_rawhttp_with_request_headers_and_multipart_upload(tmp_path: Path, load_script):
    path = tmp_path / "upload.py"
    path.write_text(
        "from azureml.contrib.services.aml_request import rawhttp\n\n"
        "def init():\n    pass\n\n@rawhttp\ndef run(request, request_headers):\n"
        "    image = request.files['image']\n"
        "    return {'filename': image.filename, 'size': len(image.read()), 'label': request.form['label'],\n"
        "            'ua': request_headers.get('user-agent')}\n"
    )
    script = load_script(path)
    boundary = "XyZ123"
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"label\"\r\n\r\ncat\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"cat.png\"\r\n"
        "Content-Type: image/png\r\n\r\n"
    ).encode() + png + f"\r\n--{boundary}--\r\n".encode()
    resp = script.handle(make_request(body=body, content_type=f"multipart/form-data; boundary={boundary}",
                                      headers=[("User-Agent", "pytest")]))
    assert resp.status == 200, resp.body
    assert response_json(resp) == {"filename": "cat.png", "size": len(png), "label": "cat", "ua": "pytest"}


def test_amlrequest_api():
    req = AMLRequest("post", "/score", b"k=1&k=2&e=", [("content-type", "application/x-www-form-urlencoded"),
                                                   ("x-thing", "a"), ("x-thing", "b")], b"f=3&g=4")
    assert req.method == "POST"
    assert req.args["k"] == "1" and req.args.getlist("k") == ["1", "2"] and req.args.get("e") == ""
    assert req.args.get("k", type=int) == 1 and req.args.get("missing", "d") == "d"
    assert req.form.to_dict() == {"f": "3", "g": "4"}
    assert req.values.getlist("k") == ["1", "2"] and req.values["f"] == "3"
    # as werkzeug behind a WSGI server: a repeated header arrives joined, iterating gives pairs
    assert req.headers["X-Thing"] == "a, b" and req.headers.getlist("x-thing") == ["a, b"]
    assert ("X-Thing", "a, b") in list(req.headers)
    # as werkzeug: form bodies are read through form, not data/stream; get_data() keeps the body
    assert req.get_data() == b"f=3&g=4" and req.data == b"" and req.get_data(as_text=True) == "f=3&g=4"
    assert req.stream.read() == b""
    assert req.mimetype == "application/x-www-form-urlencoded" and not req.is_json
    with pytest.raises(ScoringInputError) as info:  # werkzeug: 415 UnsupportedMediaType
        req.get_json()
    assert info.value.status == 415
    assert req.get_json(silent=True) is None and req.get_json(force=True, silent=True) is None
    assert req.full_path == "/score?k=1&k=2&e=" and req.content_length is None  # no Content-Length header
    assert AMLRequest("GET", "/score").full_path == "/score?"  # as werkzeug
    assert req.environ["REQUEST_METHOD"] == "POST" and req.environ["HTTP_X_THING"] == "a, b"
    assert req.environ["QUERY_STRING"] == "k=1&k=2&e=" and req.remote_addr is None  # not given here
    assert AMLRequest("GET", headers=[("cookie", "session=abc; theme=dark")]).cookies == {"session": "abc",
                                                                                         "theme": "dark"}


def test_amlrequest_json_errors_raise_scoring_input_error():
    req = AMLRequest("POST", "/score", "", [("content-type", "application/json")], b"\xff")
    with pytest.raises(ScoringInputError, match="not valid UTF-8") as info:
        req.get_json()
    assert info.value.status == 400 and info.value.code == "NotUTF8"
    assert req.get_json(silent=True) is None
    assert AMLRequest("POST", "/score", "", [], b'{"a": 1}').json == {"a": 1}  # no Content-Type: try JSON


@pytest.mark.parametrize(
    ("args", "kwargs", "status", "content_type", "body"),
    [
        (({"a": 1}, 200), {"json_str": True}, 200, "application/json", b'{"a": 1}'),
        ((None, 204), {}, 204, "application/json", b"{}"),
        (("hello", 201), {}, 201, "text/plain; charset=utf-8", b"hello"),
        ((b"\x00\x01", 200), {}, 200, "application/octet-stream", b"\x00\x01"),
        ((b"<p>x</p>", "200", {"Content-Type": "text/html"}), {}, 200, "text/html", b"<p>x</p>"),
        (([1, 2], 200), {}, 200, "application/json", b"[1, 2]"),
        (("plain", 200), {"json_str": True}, 200, "application/json", b'"plain"'),
    ],
)
def test_amlresponse_bodies(args, kwargs, status, content_type, body):
    resp = AMLResponse(*args, **kwargs)
    assert resp.status_code == status
    assert resp.content_type == content_type
    assert resp.get_data() == body


def test_amlresponse_headers_and_streaming(tmp_path: Path, load_script):
    script = load_script(_raw_script(
        tmp_path,
        "    chunks = (f'line {i}\\n'.encode() for i in range(3))\n"
        "    return AMLResponse(chunks, 200, {'Content-Type': 'text/csv', 'X-Rows': '3', 'content-type': 'text/csv'})\n",
    ))
    resp = script.handle(make_request(body=b""))
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert resp.headers == {"X-Rows": "3"}
    assert not isinstance(resp.body, bytes)
    assert response_bytes(resp) == b"line 0\nline 1\nline 2\n"


def test_rawhttp_decorator_marks_function():
    @rawhttp
    def run(request):
        return request.method

    from jupyter_mldeploy.scoring.aml import is_rawhttp

    assert is_rawhttp(run) and run(AMLRequest("PUT")) == "PUT"


def test_flask_style_response_from_real_azureml_is_converted(tmp_path: Path, load_script):
    path = tmp_path / "flaskish.py"
    path.write_text(
        "class Headers(dict):\n    def items(self):\n        return [('Content-Type', 'text/csv'), ('X-A', '1'),"
        " ('X-A', '2'), ('Content-Length', '3')]\n\n"
        "class Response:\n    status_code = 202\n    headers = Headers()\n"
        "    def get_data(self):\n        return b'a,b'\n\n"
        "def init():\n    pass\n\ndef run(raw_data):\n    return Response()\n"
    )
    resp = load_script(path).handle(make_request(body=b"{}"))
    assert (resp.status, resp.content_type, resp.body) == (202, "text/csv", b"a,b")
    assert resp.headers == [("X-A", "1"), ("X-A", "2")]  # sent as two headers, as Flask sends them
