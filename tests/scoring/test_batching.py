"""Adaptive batching against a real server: answers routed to their requests, errors isolated, the queue bounded."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_server_support import body_json, metric, post, serve

from jupyter_mldeploy import batched
from jupyter_mldeploy.errors import InvalidArgumentError

__all__ = ["serve"]


def _concurrently(server, bodies):
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda b: post(server, b if isinstance(b, str) else json.dumps(b)), bodies))


def test_concurrent_requests_share_calls_and_each_gets_its_own_answer(serve):
    server = serve("batched_sum")
    bodies = [{"id": i, "data": [i, i, 1]} for i in range(24)]
    answers = _concurrently(server, bodies)
    assert all(a.status == 200 for a in answers), [a.body for a in answers]
    for body, answer in zip(bodies, answers):
        got = body_json(answer)
        assert got["id"] == body["id"] and got["sum"] == 2 * body["id"] + 1
    assert max(body_json(a)["batch"] for a in answers) > 1  # some shared a call
    text = post(server, None, method="GET", path="/metrics").body.decode()
    assert metric(text, "mldeploy_batch_size_sum") == 24
    assert metric(text, 'mldeploy_batch_size_bucket{le="+Inf"}') == metric(text, "mldeploy_batch_size_count")
    assert metric(text, "mldeploy_batch_size_count") < 24
    assert metric(text, "mldeploy_batch_queue_wait_seconds_count") == 24
    assert metric(text, 'mldeploy_requests_total{status="200"}') == 24


def test_errors_stay_with_their_request(serve):
    server = serve("batched_sum")
    bodies = [{"id": i, "data": [1]} for i in range(6)]
    bodies[1]["fail"] = True
    bodies[3]["explode"] = True
    answers = _concurrently(server, [*bodies, "{not json"])
    status = [a.status for a in answers]
    assert status == [200, 500, 200, 500, 200, 200, 400], [a.body for a in answers]
    assert "request 1 asked to fail" in answers[1].error["message"]
    assert "breaks the whole call" in answers[3].error["message"]
    assert answers[6].error["code"] == "InvalidJSON"
    assert body_json(answers[5])["id"] == 5
    assert post(server, json.dumps({"id": 9, "data": [2]})).status == 200  # still serving


def test_a_full_queue_answers_503_with_retry_after(serve):
    server = serve("batched_sum", env={"BATCHED_SLOW_S": "0.4", "BATCHED_MAX_QUEUE": "2", "BATCHED_LATENCY_MS": "0"})
    answers = _concurrently(server, [{"id": i, "data": [1]} for i in range(16)])
    refused = [a for a in answers if a.status == 503]
    assert refused and all(a.headers["retry-after"] == "1" for a in refused)
    assert refused[0].error["code"] == "Overloaded" and "max_queue" in refused[0].error["message"]
    assert any(a.status == 200 for a in answers)


def test_oip_infer_goes_through_the_batch_too(serve):
    server = serve("batched_sum", models=("summer:1",))
    body = {"inputs": [{"name": "x", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}
    answer = post(server, json.dumps(body), path="/v2/models/summer/infer")
    outputs = {o["name"]: o for o in body_json(answer)["outputs"]}
    assert outputs["sum"]["data"] == [3] and outputs["batch"]["data"] == [1]
    text = post(server, None, method="GET", path="/metrics").body.decode()
    assert metric(text, "mldeploy_batch_size_count") == 1


def test_batched_checks_its_knobs_and_refuses_schema_scripts(load_script, tmp_path):
    with pytest.raises(InvalidArgumentError, match="max_batch_size"):
        batched(max_batch_size=0)
    with pytest.raises(InvalidArgumentError, match="max_latency_ms"):
        batched(max_latency_ms=-1)
    script = tmp_path / "both.py"
    script.write_text(
        "from inference_schema.schema_decorators import input_schema\n"
        "from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType\n"
        "from jupyter_mldeploy import batched\n"
        "@batched()\n@input_schema('x', StandardPythonParameterType(1))\ndef run(x):\n    return [x]\n"
    )
    from jupyter_mldeploy.errors import EntryScriptError

    with pytest.raises(EntryScriptError, match="@batched works on run\\(raw_data\\) scripts"):
        load_script(script)


def test_a_batch_past_the_timeout_answers_504_to_each_of_its_requests(serve):
    server = serve("batched_sum", env={"BATCHED_SLOW_S": "5", "BATCHED_LATENCY_MS": "200"}, timeout_ms=1000)
    answers = _concurrently(server, [{"id": i, "data": [1]} for i in range(3)])
    assert [a.status for a in answers] == [504, 504, 504]
    assert all(a.error["code"] == "Timeout" for a in answers)
    assert len({a.headers["x-ms-request-id"] for a in answers}) == 3  # each its own request id


def test_batched_run_with_request_headers_gets_one_per_request(serve, tmp_path):
    script = tmp_path / "headers_batched.py"
    script.write_text(
        "from jupyter_mldeploy import batched\n"
        "@batched(max_batch_size=8, max_latency_ms=50)\n"
        "def run(raw_data, request_headers):\n"
        "    return [{'body': raw, 'who': h.get('X-Who'), 'n': len(raw_data)}"
        " for raw, h in zip(raw_data, request_headers)]\n"
    )
    server = serve(script)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: post(server, json.dumps({"i": i}), {"X-Who": f"client-{i}"}), range(6)))
    for i, answer in enumerate(answers):
        got = body_json(answer)
        assert json.loads(got["body"]) == {"i": i} and got["who"] == f"client-{i}"
    assert max(body_json(a)["n"] for a in answers) > 1



def _batcher(max_latency_ms: float, held: list[int]):
    """A Batcher whose worker holds ``held[0]`` requests, recording each batch's size."""
    from jupyter_mldeploy.scoring.batching import Batcher, BatchOptions
    from jupyter_mldeploy.scoring.contract import ScoringRequest, ScoringResponse

    sizes: list[int] = []

    async def call(requests: list[ScoringRequest]) -> list[ScoringResponse]:
        sizes.append(len(requests))
        await asyncio.sleep(0)
        return [ScoringResponse(200, r.body) for r in requests]

    def request(i: int) -> ScoringRequest:
        return ScoringRequest("POST", "/score", "", (), str(i).encode(), f"r{i}")

    return Batcher(BatchOptions(64, max_latency_ms, 0), call, lambda size, waits: None, lambda: held[0]), sizes, request


def test_a_request_nobody_else_can_join_is_not_held_back() -> None:
    """Alone in the worker, a request goes at once; with others on their way it waits for them, not for the timer."""

    async def scenario() -> tuple[list[int], list[bytes]]:
        held = [1]
        batcher, sizes, request = _batcher(60_000, held)  # a one-minute window: only the rule can send these
        alone = await asyncio.wait_for(batcher.submit(request(0)), 10)
        held[0] = 3  # three requests in the worker: the first two wait for the third, which completes the set
        first = asyncio.ensure_future(batcher.submit(request(1)))
        second = asyncio.ensure_future(batcher.submit(request(2)))
        await asyncio.sleep(0.05)
        assert not first.done() and not second.done()  # the third is on its way: they wait for it
        third = await asyncio.wait_for(batcher.submit(request(3)), 10)
        answers = await asyncio.wait_for(asyncio.gather(first, second), 10)
        return sizes, [alone.body, *(a.body for a in answers), third.body]

    sizes, bodies = asyncio.run(scenario())
    assert sizes == [1, 3]  # the lone one alone, the three together, each answer to its own request
    assert bodies == [b"0", b"1", b"2", b"3"]


def test_a_request_still_being_read_is_waited_for_at_most_max_latency() -> None:
    async def scenario() -> list[int]:
        held = [2]  # the queued request, and one whose body is still arriving (it never comes here)
        batcher, sizes, request = _batcher(50, held)
        await asyncio.wait_for(batcher.submit(request(1)), 10)  # sent by the timer, not held for ever
        return sizes

    assert asyncio.run(scenario()) == [1]
