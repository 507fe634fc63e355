"""run() over --timeout-ms: 504, other requests keep being served, hung workers are replaced, not leaked."""

from __future__ import annotations

import json
import threading

from test_server_support import children, metric, post, serve, wait_for_log, wait_until

from jupyter_mldeploy.client.client import ScoringClient

__all__ = ["serve"]


def test_slow_run_gets_504_and_the_server_keeps_serving(serve):
    server = serve("slow_run", timeout_ms=300)
    for i in range(3):
        slow = post(server, json.dumps({"sleep": 30}), {"x-request-id": f"slow-{i}"})
        assert slow.status == 504
        assert slow.error["code"] == "Timeout"
        assert "300 ms" in slow.error["message"] and "--timeout-ms" in slow.error["message"]
        quick = post(server, json.dumps({"sleep": 0}))
        assert quick.status == 200 and quick.json() == {"slept": 0.0}
    log = wait_for_log(server, lambda t: t.count("stopped (exit") >= 1)
    assert "slow-0 run() took longer than --timeout-ms 300" in log
    assert "stuck past --timeout-ms: starting a replacement" in log
    # hung workers exit once replaced: the process count settles back to one worker
    assert server.pid is not None
    wait_until(lambda: len(children(server.pid)) == 1, what="one worker left")
    with ScoringClient(server.url) as client:
        assert metric(client.metrics(), 'mldeploy_requests_total{status="504"}') == 3
        assert metric(client.metrics(), "mldeploy_run_timeouts_total") >= 1


def test_slow_scripts_run_on_the_worker_thread_so_health_answers_during_run(serve):
    server = serve("slow_run", timeout_ms=2000)
    # a few 20 ms calls move the script off the event-loop thread (calls averaging > 2 ms)
    for _ in range(6):
        assert post(server, json.dumps({"sleep": 0.02})).status == 200
    result: dict[str, int] = {}

    def slow_call() -> None:
        result["status"] = post(server, json.dumps({"sleep": 60})).status

    thread = threading.Thread(target=slow_call)
    thread.start()
    try:
        wait_for_log(server, lambda t: t.count("access POST /score 200") >= 6)
        # while run() sleeps on the script thread, liveness and readiness still answer
        assert post(server, None, method="GET", path="/").status == 200
        assert post(server, None, method="GET", path="/ready").status == 200
        assert thread.is_alive()
    finally:
        thread.join(timeout=60)
    assert result["status"] == 504
    wait_until(lambda: len(children(server.pid)) == 1, what="hung worker replaced and gone")
    assert post(server, json.dumps({"sleep": 0})).status == 200


def test_queued_requests_behind_a_hung_run_are_still_answered(serve):
    server = serve("slow_run", timeout_ms=500)
    for _ in range(6):
        post(server, json.dumps({"sleep": 0.02}))
    statuses: list[int] = []
    lock = threading.Lock()

    def call(seconds: float) -> None:
        status = post(server, json.dumps({"sleep": seconds})).status
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=call, args=(30 if i == 0 else 0,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [200, 200, 200, 200, 504]
