"""Several workers: shared socket, restart after kill -9, metrics summed over all of them."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import signal

import pytest

from test_server_support import children, metric, post, serve, wait_for_log, wait_until

from jupyter_mldeploy.client.client import ScoringClient

__all__ = ["serve"]

BODY = json.dumps({"data": [[1, 2, 3]]})


def test_two_workers_share_the_port_and_metrics_cover_both(serve):
    server = serve("slow_run", workers=2)
    wait_for_log(server, lambda t: "worker 1: ready" in t and "worker 2: ready" in t)
    # run() blocks its worker for 0.3 s, so while one worker is busy the other must take
    # the next connection: pairs of concurrent requests reach both (bounded: 20 rounds)
    body = json.dumps({"sleep": 0.3})
    sent = 0
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for _ in range(20):
            answers = list(pool.map(lambda _: post(server, body), range(2)))
            assert [a.status for a in answers] == [200, 200]
            sent += 2
            log = server.logs()
            if "worker=1" in log and "worker=2" in log:
                break
    log = wait_for_log(server, lambda t: t.count("access POST /score 200") >= sent)
    assert "worker=1" in log and "worker=2" in log
    with ScoringClient(server.url) as client:
        text = client.metrics()
    assert metric(text, 'mldeploy_requests_total{status="200"}') == sent
    assert metric(text, "mldeploy_request_duration_seconds_count") == sent
    assert metric(text, "mldeploy_workers_ready") == 2


def test_a_killed_worker_is_replaced_and_serving_continues(serve):
    server = serve("plain_json", workers=2)
    assert server.pid is not None
    wait_until(lambda: len(children(server.pid)) == 2, what="two workers")
    victim = children(server.pid)[0]
    os.kill(victim, signal.SIGKILL)
    for _ in range(20):  # the other worker answers meanwhile
        assert post(server, BODY).status == 200
    wait_for_log(server, lambda t: "died with exit code -9" in t and "worker 3: ready" in t)
    wait_until(lambda: len(children(server.pid)) == 2 and victim not in children(server.pid),
               what="a replacement worker")
    assert post(server, None, method="GET", path="/ready").status == 200
    with ScoringClient(server.url) as client:
        text = client.metrics()
    assert metric(text, "mldeploy_requests_in_flight") == 0
    assert metric(text, 'mldeploy_requests_total{status="200"}') >= 20


def test_stop_ends_every_process(serve):
    server = serve("plain_json", workers=2)
    assert server.pid is not None
    workers = children(server.pid)
    assert len(workers) == 2
    assert server.stop() == 0
    for pid in workers:
        wait_until(lambda pid=pid: not os.path.exists(f"/proc/{pid}") or _zombie(pid), what=f"worker {pid} gone")


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_a_frozen_worker_is_killed_for_missing_heartbeats_and_replaced(serve):
    """A worker whose event loop stops (here SIGSTOP) sends no heartbeat: after the limit
    (10 s, or twice the run() timeout plus 5 s) the supervisor kills and replaces it."""
    server = serve("plain_json", workers=2, timeout_ms=1000)
    assert server.pid is not None
    wait_until(lambda: len(children(server.pid)) == 2, what="two workers")
    frozen = children(server.pid)[0]
    os.kill(frozen, signal.SIGSTOP)
    try:
        for _ in range(10):  # the other worker answers meanwhile
            assert post(server, BODY).status == 200
        log = wait_for_log(server, lambda t: "stopped answering (no heartbeat for" in t, timeout=40)
        assert "killing it" in log
        wait_until(lambda: frozen not in children(server.pid) and len(children(server.pid)) == 2,
                   timeout=30, what="a replacement for the frozen worker")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(frozen, signal.SIGCONT)
    assert post(server, BODY).status == 200
