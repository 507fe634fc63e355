"""Undecorated run(raw_data) scripts: what run() receives and what its return values become."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from entry_helpers import make_request, response_bytes, response_json


def test_post_json_reaches_run_as_string_and_dict_comes_back_as_json(load_script):
    script = load_script("plain_json")
    assert not script.is_rawhttp and not script.has_schema
    assert script.allowed_methods == {"GET", "POST"}
    resp = script.handle(make_request(body=b'{"data": [[1, 2, 3], [0, 0, 0]]}'))
    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert response_json(resp) == {"predictions": [14.5, 0.5]}
    assert resp.run_ms is not None and resp.run_ms >= 0


def test_get_query_parameters_arrive_as_json_object(load_script):
    script = load_script("plain_json")
    resp = script.handle(make_request("GET", content_type=None, query="data=[[1,1,1]]"))
    assert resp.status == 200
    assert response_json(resp) == {"predictions": [6.5]}


def test_get_query_parsing_matches_azmlinfsrv(tmp_path: Path, load_script):
    script_file = tmp_path / "echo.py"
    script_file.write_text("def init():\n    pass\n\ndef run(raw_data):\n    return {'raw': raw_data}\n")
    script = load_script(script_file)
    resp = script.handle(make_request("GET", content_type=None, query="a=1&b=[1,2]&c=x&c=y&d=null&e="))
    raw = response_json(resp)["raw"]
    assert json.loads(raw) == {"a": 1, "b": [1, 2], "c": ["x", "y"], "d": None, "e": ""}


def test_form_encoded_body_is_passed_unchanged_not_emptied(tmp_path: Path, load_script):
    # azmlinfsrv hands run() an empty string for `curl -d` posts; we pass the body.
    script_file = tmp_path / "echo.py"
    script_file.write_text("def init():\n    pass\n\ndef run(raw_data):\n    return raw_data\n")
    script = load_script(script_file)
    resp = script.handle(make_request(body=b'{"data": [1]}', content_type="application/x-www-form-urlencoded"))
    assert resp.status == 200
    # a returned str is JSON-encoded, as azmlinfsrv does
    assert response_bytes(resp) == json.dumps('{"data": [1]}').encode()


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (b'{"data": ', "InvalidJSON", "Invalid JSON at line 1 column 10"),
        (b'{"data": [1,]}', "InvalidJSON", "line 1 column 13"),
        (b"", "EmptyBody", "The request body is empty"),
    ],
)
def test_bad_json_the_script_cannot_parse_is_a_400_with_position(load_script, body, code, fragment):
    script = load_script("plain_json")
    resp = script.handle(make_request(body=body))
    assert resp.status == 400
    error = response_json(resp)["error"]
    assert error["code"] == code
    assert fragment in error["message"]
    assert "Send a JSON document like" in error["message"]
    assert error["request_id"] == "req-test-1"


def test_non_utf8_body_is_400_saying_what_to_do(load_script):
    script = load_script("plain_json")
    resp = script.handle(make_request(body=b'{"data": "\xff\xfe"}'))
    assert resp.status == 400
    error = response_json(resp)["error"]
    assert error["code"] == "NotUTF8"
    assert "not valid UTF-8" in error["message"] and "@rawhttp" in error["message"]


def test_returned_error_string_keeps_status_200(load_script):
    script = load_script("returns_error_string")
    resp = script.handle(make_request(body=b'{"nodata": 1}'))
    assert resp.status == 200
    assert response_json(resp) == "'data'"
    assert response_json(script.handle(make_request(body=b'{"data": [1, 2]}'))) == {"sum": 3}


def test_run_raising_is_500_with_type_and_message_and_logged_traceback(tmp_path: Path, load_script, caplog):
    script_file = tmp_path / "boom.py"
    script_file.write_text(
        "def init():\n    pass\n\ndef helper(x):\n    raise ValueError(f'cannot score {x}')\n\n"
        "def run(raw_data):\n    return helper(raw_data)\n"
    )
    script = load_script(script_file)
    with caplog.at_level(logging.ERROR, logger="jupyter_mldeploy.scoring.handling"):
        resp = script.handle(make_request(body=b"abc", request_id="rid-boom"))
    assert resp.status == 500
    assert resp.headers.get("x-ms-run-function-failed") == "True"
    error = response_json(resp)["error"]
    assert error["code"] == "RunFailed"
    assert "ValueError: cannot score abc" in error["message"]
    assert f"{script_file}:5" in error["message"]
    assert error["exception_type"] == "ValueError"
    assert "traceback" not in error  # debug is off
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "rid-boom" in logged and "Traceback" in logged and "in helper" in logged


def test_debug_mode_puts_traceback_in_500_body(tmp_path: Path, load_script):
    script_file = tmp_path / "boom.py"
    script_file.write_text("def init():\n    pass\n\ndef run(raw_data):\n    return 1 / 0\n")
    script = load_script(script_file, debug=True)
    error = response_json(script.handle(make_request(body=b"x")))["error"]
    assert "ZeroDivisionError" in error["message"]
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert str(script_file) in error["traceback"]
    assert "entry_script.py" not in error["traceback"]  # our own frames are cut off
    assert "handling.py" not in error["traceback"]


def test_request_headers_parameter_receives_case_insensitive_headers(load_script):
    script = load_script("headers")
    assert script.accepts_headers
    resp = script.handle(make_request(body=b'{"a": 1}', headers=[("X-Custom-Header", "hello")]))
    assert resp.status == 200
    data = response_json(resp)
    assert data == {
        "body": {"a": 1},
        "content_type": "application/json",
        "custom": "hello",
        "names": ["Content-Type", "X-Custom-Header"],
    }


@pytest.mark.parametrize(
    ("source", "content_type", "body"),
    [
        ("return None", "application/json", b"{}"),
        ("return 'plain text'", "application/json", b'"plain text"'),
        ("return [1, 2.5, True, None]", "application/json", b"[1, 2.5, true, null]"),
        ("return b'\\x00\\x01'", "application/octet-stream", b"\x00\x01"),
        ("import numpy as np\n    return np.array([[1.5, 2.0]])", "application/json", b"[[1.5, 2.0]]"),
        ("import numpy as np\n    return {'p': np.float32(0.5), 'n': np.int64(3)}", "application/json",
         b'{"p": 0.5, "n": 3}'),
        ("import pandas as pd\n    return pd.DataFrame({'a': [1, 2]})", "application/json", b'[{"a": 1}, {"a": 2}]'),
        ("import datetime\n    return {'d': datetime.date(2024, 1, 2)}", "application/json", b'{"d": "2024-01-02"}'),
    ],
)
def test_return_values_become_these_bodies(tmp_path: Path, load_script, source, content_type, body):
    script_file = tmp_path / "ret.py"
    script_file.write_text(f"def init():\n    pass\n\ndef run(raw_data):\n    {source}\n")
    script = load_script(script_file)
    resp = script.handle(make_request(body=b"{}"))
    assert resp.status == 200
    assert resp.content_type == content_type
    assert response_bytes(resp) == body


def test_unserialisable_return_value_is_500_naming_the_type(tmp_path: Path, load_script):
    script_file = tmp_path / "ret.py"
    script_file.write_text(
        "class Prediction:\n    pass\n\ndef init():\n    pass\n\ndef run(raw_data):\n    return {'p': Prediction()}\n"
    )
    script = load_script(script_file)
    resp = script.handle(make_request(body=b"{}"))
    assert resp.status == 500
    message = response_json(resp)["error"]["message"]
    assert "Prediction" in message and "cannot be written as JSON" in message
    assert "AMLResponse" in message


def test_declared_content_types_give_415_and_json_checks(tmp_path: Path, load_script):
    script_file = tmp_path / "declared.py"
    script_file.write_text(
        "CONTENT_TYPES = ['application/json']\n\ndef init():\n    pass\n\ndef run(raw_data):\n    return raw_data\n"
    )
    script = load_script(script_file)
    wrong = script.handle(make_request(body=b"a,b", content_type="text/csv"))
    assert wrong.status == 415
    assert "Content-Type: application/json" in response_json(wrong)["error"]["message"]
    bad = script.handle(make_request(body=b"[1, 2"))
    assert bad.status == 400 and "line 1 column 6" in response_json(bad)["error"]["message"]
    empty = script.handle(make_request(body=b"  "))
    assert empty.status == 400 and response_json(empty)["error"]["code"] == "EmptyBody"
    ok = script.handle(make_request(body=b"[1, 2]", content_type=None))  # no header: the declared type
    assert ok.status == 200 and response_json(ok) == "[1, 2]"


def test_slow_run_time_is_measured(load_script):
    script = load_script("slow_run")
    resp = script.handle(make_request(body=b'{"sleep": 0.05}'))
    assert response_json(resp) == {"slept": 0.05}
    assert resp.run_ms >= 45  # time.sleep sleeps at least that long


def test_script_output_and_logging_do_not_break_handling(load_script, capsys):
    script = load_script("prints")
    resp = script.handle(make_request(body=b"abcd"))
    assert response_json(resp) == {"length": 4}
    captured = capsys.readouterr()
    assert "init: loading model" in captured.out and "run: got 4 characters" in captured.out


def test_keyword_only_and_system_exit_in_run(tmp_path: Path, load_script):
    script_file = tmp_path / "kw.py"
    script_file.write_text(
        "import sys\n\ndef init():\n    pass\n\ndef run(*, data):\n    if data == 'exit':\n        sys.exit(3)\n"
        "    return data.upper()\n"
    )
    script = load_script(script_file)
    assert response_json(script.handle(make_request(body=b"abc"))) == "ABC"
    resp = script.handle(make_request(body=b"exit"))
    assert resp.status == 500 and "SystemExit" in response_json(resp)["error"]["message"]


def test_async_run_is_awaited(tmp_path: Path, load_script):
    script_file = tmp_path / "async_score.py"
    script_file.write_text(
        "import asyncio, json\n\ndef init():\n    pass\n\nasync def run(raw_data):\n"
        "    await asyncio.sleep(0)\n    if raw_data == 'fail':\n        raise ValueError('async failure')\n"
        "    return {'got': json.loads(raw_data)}\n"
    )
    script = load_script(script_file)
    assert response_json(script.handle(make_request(body=b"[1]"))) == {"got": [1]}
    failed = script.handle(make_request(body=b"fail"))
    assert failed.status == 500 and "ValueError: async failure" in response_json(failed)["error"]["message"]
