"""In-process checks of the server's parts: FIFO runner and its timeouts, write coalescing, metrics files."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import pytest

from jupyter_mldeploy.scoring.contract import current_request_id
from jupyter_mldeploy.scoring.metrics import (
    IN_FLIGHT,
    WorkerMetrics,
    read_folder,
    render,
    zero_in_flight,
)
from jupyter_mldeploy.scoring.runner import Runner, RunTimeout


def test_thread_runner_keeps_order_context_and_survives_a_hang():
    hangs: list[int] = []
    release = threading.Event()

    async def main() -> None:
        runner = Runner(timeout_s=0.2, on_hang=lambda: hangs.append(1))
        order: list[int] = []

        def work(i: int) -> str:
            order.append(i)
            return f"{i}:{current_request_id.get()}:{threading.current_thread().name}"

        async def one(i: int) -> str:
            current_request_id.set(f"rid-{i}")
            return await runner.call(work, i)

        results = await asyncio.gather(*(one(i) for i in range(20)))
        assert order == list(range(20))  # FIFO
        assert all(r.split(":")[1] == f"rid-{i}" for i, r in enumerate(results))  # context propagated
        assert all("mldeploy-run" in r for r in results)  # not on the loop thread

        with pytest.raises(RunTimeout):
            await runner.call(release.wait, 30)
        assert hangs == [1]
        assert (await runner.call(work, 99)).startswith("99:")  # a fresh thread carries on
        release.set()
        runner.close()

    asyncio.run(main())


def test_inline_runner_interrupts_an_overrunning_call_with_sigalrm():
    previous = signal.getsignal(signal.SIGALRM)
    hangs: list[int] = []

    async def main() -> None:
        runner = Runner(timeout_s=0.2, on_hang=lambda: hangs.append(1))
        assert runner.enable_inline()
        assert await runner.call(threading.current_thread) is threading.main_thread()  # inline
        started = time.monotonic()
        with pytest.raises(RunTimeout):
            await runner.call(time.sleep, 30)
        assert time.monotonic() - started < 30
        assert hangs == [1]
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # timer disarmed
        # a script whose calls are slow on average moves to the thread
        runner.ewma_s = 1.0
        assert await runner.call(threading.current_thread) is not threading.main_thread()
        runner.close()

    try:
        asyncio.run(main())
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_under_a_crowd_single_calls_queue_on_the_thread_but_a_quick_batch_runs_inline():
    previous = signal.getsignal(signal.SIGALRM)

    async def main() -> None:
        runner = Runner(timeout_s=5)
        assert runner.enable_inline()
        runner.crowded = True
        assert await runner.call(threading.current_thread) is not threading.main_thread()
        assert await runner.call(threading.current_thread, crowd_inline=True) is threading.main_thread()
        runner.ewma_s = 1.0  # a slow batch goes to the thread, so the loop keeps reading requests
        assert await runner.call(threading.current_thread, crowd_inline=True) is not threading.main_thread()
        runner.close()

    try:
        asyncio.run(main())
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_an_answer_leaves_in_one_write():
    from jupyter_mldeploy.scoring.protocol import _CoalescingTransport

    class FakeTransport:
        def __init__(self) -> None:
            self.writes: list[bytes] = []
            self.closed = False

        def write(self, data: bytes) -> None:
            self.writes.append(data)

        def is_closing(self) -> bool:
            return self.closed

        def close(self) -> None:
            self.closed = True

        def get_extra_info(self, name: str) -> str:
            return f"info:{name}"

    async def main() -> None:
        fake = FakeTransport()
        proxy = _CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
        proxy.write(b"HTTP/1.1 200 OK\r\n\r\n")
        proxy.write(b"body")
        assert fake.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        proxy.write(b"HTTP/1.1 204 No Content\r\n\r\n")  # nothing follows: sent at the end of the step
        assert len(fake.writes) == 1
        await asyncio.sleep(0)
        assert fake.writes[-1] == b"HTTP/1.1 204 No Content\r\n\r\n"
        proxy.write(b"last")
        proxy.close()  # flushes before closing
        assert fake.writes[-1] == b"last" and fake.closed
        assert proxy.get_extra_info("peername") == "info:peername"

    asyncio.run(main())


def test_metrics_files_sum_over_workers(tmp_path):
    a = WorkerMetrics(tmp_path, "worker-1.bin")
    b = WorkerMetrics(tmp_path, "worker-2.bin")
    a.observe(200, 0.003, 0.001)
    a.observe(500, 0.2, 0.19)
    b.observe(200, 0.0004, None)
    b.add(IN_FLIGHT, 2)
    text = render(read_folder(tmp_path))
    assert 'mldeploy_requests_total{status="200"} 2' in text
    assert 'mldeploy_requests_total{status="500"} 1' in text
    assert 'mldeploy_request_duration_seconds_bucket{le="0.0005"} 1' in text
    assert 'mldeploy_request_duration_seconds_bucket{le="+Inf"} 3' in text
    assert "mldeploy_run_duration_seconds_count 2" in text
    assert "mldeploy_requests_in_flight 2" in text
    assert b.path is not None
    zero_in_flight(b.path)  # the supervisor does this for a dead worker
    assert "mldeploy_requests_in_flight 0" in render(read_folder(tmp_path))
    a.close()
    b.close()


def test_a_deployments_own_variables_set_server_options_and_the_targets_values_win() -> None:
    from jupyter_mldeploy.scoring.options import settings_from_env

    user = {"MLDEPLOY_RELOAD": "1", "AML_CORS_ORIGINS": "https://a.example", "MLDEPLOY_MAX_BODY_MB": "5",
            "MLDEPLOY_PORT": "1", "WORKER_COUNT": "7"}
    settings = settings_from_env(user, entry_script="score.py", port=5001, workers=2)
    assert settings.reload and settings.cors_origins == ("https://a.example",) and settings.max_body_mb == 5
    assert (settings.port, settings.workers, settings.entry_script) == (5001, 2, "score.py")
    env = {**user, **settings.to_env()}  # what a target starts the server with
    assert env["MLDEPLOY_RELOAD"] == "1" and env["MLDEPLOY_PORT"] == "5001" and env["MLDEPLOY_WORKERS"] == "2"
