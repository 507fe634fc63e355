"""Request/response capture (--capture) against real servers: capture.jsonl checked field by field."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from test_server_support import post, serve, wait_until

from jupyter_mldeploy.scoring.capture import CAPTURE_FILE
from jupyter_mldeploy.scoring.jsonl import read_last

__all__ = ["serve"]

INFER = {"inputs": [{"name": "data", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}


def _records(folder: Path, n: int, timeout: float = 15.0) -> list[dict]:
    """The last ``n`` captured records once ``n`` are there (the writer flushes every few ms)."""
    wait_until(lambda: len(read_last(folder / CAPTURE_FILE, 10_000)) >= n, timeout, f"{n} captured records")
    return read_last(folder / CAPTURE_FILE, n)


def test_score_and_infer_exchanges_are_kept_field_by_field(serve, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = serve("plain_json", capture=True, data_dir=str(data), models=("ridge:1",))
    ok = post(server, json.dumps({"data": [[1, 2, 3]]}), {"x-request-id": "cap-1"})
    assert ok.status == 200
    bad = post(server, "{oops", {"x-request-id": "cap-2"})
    assert bad.status == 400
    infer = post(server, json.dumps(INFER), {"x-request-id": "cap-3"}, path="/v2/models/ridge/infer")
    assert infer.status == 200
    assert post(server, "", method="GET", path="/ready").status == 200  # not a captured route
    first, second, third = _records(data, 3)

    assert first["request_id"] == "cap-1"
    assert (first["status"], first["method"], first["route"], first["model"]) == (200, "POST", "/score", None)
    assert first["input"] == {"data": [[1, 2, 3]]}
    assert first["output"] == {"predictions": [14.5]}
    assert first["time"].endswith("Z") and first["time"][:4].isdigit()
    assert 0 < first["latency_ms"] < 60_000
    assert second["request_id"] == "cap-2" and second["status"] == 400
    assert second["input"] == "{oops"  # not JSON: kept as text
    assert second["output"]["error"]["code"] == "InvalidJSON"
    assert third["request_id"] == "cap-3"
    assert (third["route"], third["model"], third["status"]) == ("/v2/models/ridge/infer", "ridge", 200)
    assert third["input"] == INFER
    assert third["output"]["outputs"][0]["data"] == [14.5]
    assert len(read_last(data / CAPTURE_FILE, 100)) == 3  # nothing else was captured

    # private, as the logs are
    assert stat.S_IMODE(os.stat(data / CAPTURE_FILE).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700


def test_binary_bodies_are_kept_as_size_and_sha256_and_big_ones_are_truncated(serve, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = serve("rawhttp_bytes", capture=True, data_dir=str(data), capture_max_kb=1)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    answer = post(server, png, {"Content-Type": "image/png", "x-request-id": "bin-1"})
    big = json.dumps({"text": "x" * 5000})
    post(server, big, {"x-request-id": "big-1"})
    binary, truncated = _records(data, 2)
    assert binary["request_id"] == "bin-1"
    assert binary["input"] == {"binary": True, "size": len(png), "sha256": hashlib.sha256(png).hexdigest(),
                               "content_type": "image/png"}
    if answer.headers.get("content-type", "").startswith("application/octet-stream"):
        assert binary["output"]["binary"] is True
        assert binary["output"]["sha256"] == hashlib.sha256(answer.body).hexdigest()
    marker = truncated["input"]
    assert marker["truncated"] is True and marker["size"] == len(big)
    assert marker["sha256"] == hashlib.sha256(big.encode()).hexdigest()
    assert marker["head"] == big[:1024]


def test_sampling_keeps_a_share_and_zero_keeps_none(serve, tmp_path: Path) -> None:
    none_dir, half_dir = tmp_path / "none", tmp_path / "half"
    off = serve("plain_json", capture=True, data_dir=str(none_dir), capture_sample=0.0)
    half = serve("plain_json", capture=True, data_dir=str(half_dir), capture_sample=0.5)
    body = json.dumps({"data": [[1, 1, 1]]})
    for _ in range(120):
        assert post(off, body).status == 200
        assert post(half, body).status == 200
    off.stop()
    half.stop()  # stopping flushes the writer
    assert read_last(none_dir / CAPTURE_FILE, 1000) == []
    kept = len(read_last(half_dir / CAPTURE_FILE, 1000))
    assert 20 < kept < 100, kept  # about 60 of 120 (binomial: outside 20..100 has probability < 1e-9)


def test_rotation_keeps_the_newest_records_readable_across_files_and_workers(serve, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = serve("plain_json", capture=True, data_dir=str(data), capture_rotate_mb=0.004, workers=2)
    rows = [[i, i, i] for i in range(40)]  # ~800 bytes a record: the 4 KiB file rotates every few
    for i in range(30):
        assert post(server, json.dumps({"data": rows}), {"x-request-id": f"rot-{i:02d}"}).status == 200
    server.stop()
    assert (data / f"{CAPTURE_FILE}.1").exists()
    for path in data.glob(f"{CAPTURE_FILE}*"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert path.stat().st_size <= 4 * 1024 + 2000  # bounded: the limit (4 KiB), plus one line at most
        for line in path.read_text().splitlines():
            json.loads(line)  # whole lines only, even with two workers appending
    last = read_last(data / CAPTURE_FILE, 5)
    assert len(last) == 5
    assert all(r["request_id"].startswith("rot-") for r in last)
    assert last[-1]["request_id"] == "rot-29"  # the newest is last
    assert len({f.name for f in data.glob(f"{CAPTURE_FILE}*")}) <= 4  # capture.jsonl + 3 rotated


def test_requests_without_the_key_are_not_captured_and_the_server_keeps_serving(serve, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = serve("plain_json", capture=True, data_dir=str(data), auth_keys=("k" * 32,))
    assert post(server, json.dumps({"data": [[1, 1, 1]]}), {"x-request-id": "nokey"}).status == 401
    keyed = post(server, json.dumps({"data": [[1, 1, 1]]}),
                 {"x-request-id": "withkey", "Authorization": "Bearer " + "k" * 32})
    assert keyed.status == 200
    (record,) = _records(data, 1)
    server.stop()
    assert record["request_id"] == "withkey"
    assert [r["request_id"] for r in read_last(data / CAPTURE_FILE, 10)] == ["withkey"]


def test_read_last_puts_records_two_workers_wrote_out_of_order_back_in_time_order(tmp_path: Path) -> None:
    # two workers flush their batches a few ms apart, so a later request's line can land first
    old = tmp_path / f"{CAPTURE_FILE}.1"
    new = tmp_path / CAPTURE_FILE
    stamp = "2026-12-02T07:00:00.{:06d}Z"
    old.write_text("".join(json.dumps({"request_id": f"r{i}", "time": stamp.format(i)}) + "\n" for i in (0, 2, 1)))
    new.write_text("".join(json.dumps({"request_id": f"r{i}", "time": stamp.format(i)}) + "\n" for i in (4, 3, 5)))
    assert [r["request_id"] for r in read_last(new, 4)] == ["r2", "r3", "r4", "r5"]
    assert [r["request_id"] for r in read_last(new, 10)] == [f"r{i}" for i in range(6)]
    assert read_last(new, 0) == []
