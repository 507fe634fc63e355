"""Time EntryScript.handle() (no HTTP) for the sample entry scripts; prints microseconds per call.

Run: .venv/bin/python bench/entry_handle.py
The HTTP layer adds its own cost on top; this is the entry-script part only.
"""

from __future__ import annotations

import json
import sys
import tempfile
import timeit
from pathlib import Path

from jupyter_mldeploy.scoring.contract import ScoringRequest
from jupyter_mldeploy.scoring.entry_script import load_entry_script

SCRIPTS = Path(__file__).resolve().parent.parent / "tests" / "scoring" / "scripts"
HEADERS = [("host", "127.0.0.1:5001"), ("user-agent", "bench"), ("content-type", "application/json"),
           ("accept", "*/*")]


def bench(label: str, path: Path, body: bytes, number: int) -> None:
    script = load_entry_script(path)
    script.init()
    request = ScoringRequest("POST", "/score", "", HEADERS, body, "bench")
    response = script.handle(request)
    assert response.status == 200, response.body
    best = min(timeit.repeat(lambda: script.handle(request), number=number, repeat=5)) / number
    print(f"{label:34s} {best * 1e6:9.2f} us/handle")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        echo = Path(tmp) / "echo.py"
        echo.write_text("def init():\n    pass\n\ndef run(raw_data):\n    return {'ok': True}\n")
        body = b'{"data": [[1, 2, 3]]}'
        bench("echo: run() returns a dict", echo, body, 50000)
        bench("plain_json.py (json.loads in run)", SCRIPTS / "plain_json.py", body, 50000)
        bench("headers.py (request_headers)", SCRIPTS / "headers.py", body, 50000)
        bench("rawhttp_bytes.py (AMLRequest)", SCRIPTS / "rawhttp_bytes.py", body, 50000)
        bench("schema_numpy.py", SCRIPTS / "schema_numpy.py", b'{"data": [[1, 2, 3, 4]]}', 20000)
        bench("schema_standard.py", SCRIPTS / "schema_standard.py",
              b'{"payload": {"rows": [[1, 2]], "scale": 2.0}, "label": "x"}', 20000)
        bench("schema_pandas.py (pd.read_json)", SCRIPTS / "schema_pandas.py",
              json.dumps({"data": [{"age": 30, "income": 5000.0, "city": "Paris"}]}).encode(), 500)
        floor = min(timeit.repeat(lambda: json.dumps({"ok": True}).encode(), number=50000, repeat=5)) / 50000
        print(f"{'floor: json.dumps(dict).encode()':34s} {floor * 1e6:9.2f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
