"""run() returning a generator: the answer is streamed chunk by chunk."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from entry_helpers import make_request, response_bytes, response_json


def test_generator_streams_ndjson_lines_lazily(load_script):
    script = load_script("streaming")
    resp = script.handle(make_request(body=b'{"chunks": 4}'))
    assert resp.status == 200
    assert resp.content_type == "application/x-ndjson"
    assert not isinstance(resp.body, (bytes, list))  # an iterator, not a buffered body
    lines = [json.loads(line) for line in response_bytes(resp).splitlines()]
    assert lines == [{"chunk": i} for i in range(4)]


def test_failure_mid_stream_ends_with_an_error_line_and_a_log(load_script, caplog):
    script = load_script("streaming", debug=True)
    resp = script.handle(make_request(body=b'{"chunks": 5, "fail_at": 2}', request_id="rid-stream"))
    assert resp.status == 200  # the status line went out with the first chunk
    with caplog.at_level(logging.ERROR, logger="jupyter_mldeploy.scoring.handling"):
        lines = [json.loads(line) for line in response_bytes(resp).splitlines()]
    assert lines[:2] == [{"chunk": 0}, {"chunk": 1}]
    error = lines[2]["error"]
    assert error["code"] == "RunFailed" and "RuntimeError: stream broke at chunk 2" in error["message"]
    assert error["request_id"] == "rid-stream" and "Traceback" in error["traceback"]
    assert len(lines) == 3
    assert any("rid-stream" in r.getMessage() for r in caplog.records)


def test_failure_before_the_first_chunk_is_a_500(load_script):
    script = load_script("streaming")
    resp = script.handle(make_request(body=b'{"chunks": 3, "fail_at": 0}'))
    assert resp.status == 500
    assert "stream broke at chunk 0" in response_json(resp)["error"]["message"]


def test_text_and_bytes_generators_and_empty_generator(tmp_path: Path, load_script):
    script_file = tmp_path / "gen.py"
    script_file.write_text(
        "def init():\n    pass\n\ndef run(raw):\n"
        "    if raw == 'text':\n        return (f'word{i} ' for i in range(3))\n"
        "    if raw == 'bytes':\n        return iter([b'\\x00', b'\\x01'])\n"
        "    return (x for x in [])\n"
    )
    script = load_script(script_file)
    text = script.handle(make_request(body=b"text"))
    assert text.content_type == "text/plain; charset=utf-8"
    assert response_bytes(text) == b"word0 word1 word2 "
    data = script.handle(make_request(body=b"bytes"))
    assert data.content_type == "application/octet-stream" and response_bytes(data) == b"\x00\x01"
    empty = script.handle(make_request(body=b"none"))
    assert empty.status == 200 and response_bytes(empty) == b""


def test_closing_the_stream_early_closes_the_generator(tmp_path: Path, load_script):
    script_file = tmp_path / "gen.py"
    script_file.write_text(
        "closed = []\n\ndef init():\n    pass\n\ndef run(raw):\n"
        "    def gen():\n        try:\n            for i in range(1000):\n                yield {'i': i}\n"
        "        finally:\n            closed.append(True)\n    return gen()\n"
    )
    script = load_script(script_file)
    resp = script.handle(make_request(body=b"{}"))
    chunks = iter(resp.body)
    assert json.loads(next(chunks)) == {"i": 0}
    chunks.close()  # what the server does when the client goes away
    assert script.module.closed == [True]
