"""What tracing and capture cost on ``/score``: our server with each signal off and on, in one run.

The same Ridge model, payload and entry script as ``bench/serve_vs_peers.py`` (whose
server start, warm-up and ``wrk`` points this reuses), served four ways at once:

* ``off``      ``mldeploy serve`` as it ships (no tracing, no capture),
* ``trace``    ``--otel-endpoint`` to an OTLP/HTTP receiver in this process (127.0.0.1),
* ``capture``  ``--capture`` (every request kept in ``capture.jsonl``),
* ``both``     tracing and capture.

The load points run for each variant in turn (interleaved, so the machine's noise spreads
over all of them). The table gives req/s, p50/p99, the ratio to ``off`` and the cost per
request: ``1/rps(on) - 1/rps(off)`` in microseconds at that concurrency (wall time the
server needs more per request), plus the CPU time per request measured from the
server's processes. Prepare once with ``bench/setup_peers.sh``, then::

    .venv/bin/python bench/signals_cost.py --quick          # ~1.5 minutes
    .venv/bin/python bench/signals_cost.py --rounds 3       # medians of 3 rounds

All traffic goes to 127.0.0.1; every loop is bounded; every server is stopped on exit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import serve_vs_peers as svp

VARIANTS = ("off", "trace", "capture", "both")


class Receiver:
    """A minimal OTLP/HTTP endpoint on 127.0.0.1: reads each export and answers 200 (counts posts)."""

    def __init__(self) -> None:
        self.posts = 0
        self.bytes = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.posts += 1
                receiver.bytes += len(body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((svp.HOST, 0), Handler)
        self.url = f"http://{svp.HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def builder(receiver: Receiver) -> Callable[..., svp.ServerSpec]:
    def build(name: str, port: int, workers: int, rows: list[list[float]], tmp: Path) -> svp.ServerSpec:
        spec = svp.build_spec("ours", port, workers, rows, tmp)
        env = dict(spec.env)
        if name in ("trace", "both"):
            env["MLDEPLOY_OTEL_ENDPOINT"] = receiver.url
        if name in ("capture", "both"):
            env["MLDEPLOY_CAPTURE"] = "1"
            env["MLDEPLOY_DATA_DIR"] = str(tmp / f"data-{name}-{port}")
        return dataclasses.replace(spec, name=name, env=env)

    return build


def report(results: list[svp.Measurement], concs: list[int], workers: int) -> str:
    by: dict[str, dict[int, list[svp.Load]]] = {}
    for m in results:
        for load in m.loads:
            by.setdefault(m.server, {}).setdefault(load.concurrency, []).append(load)

    def med(name: str, c: int, attr: str) -> float | None:
        values = [getattr(x, attr) for x in by.get(name, {}).get(c, []) if getattr(x, attr) is not None]
        return statistics.median(values) if values else None

    lines = [f"### Tracing and capture cost, {workers} worker(s), `/score` (median of rounds)", "",
             "| variant | c | req/s | p50 ms | p99 ms | vs off | cost/request | CPU ms/req |",
             "|---|---|---|---|---|---|---|---|"]
    for c in concs:
        base = med("off", c, "rps")
        for name in VARIANTS:
            rps = med(name, c, "rps")
            if rps is None:
                lines.append(f"| {name} | {c} | failed | | | | | |")
                continue
            ratio = f"{rps / base:.2f}x" if base else "-"
            cost = f"{(1 / rps - 1 / base) * 1e6:+.0f} us" if base and name != "off" else "-"
            cpu = med(name, c, "cpu_ms_per_request")
            lines.append(f"| {name} | {c} | {rps:.0f} | {med(name, c, 'p50_ms'):.2f} | {med(name, c, 'p99_ms'):.2f} "
                         f"| {ratio} | {cost} | {svp._fmt(cpu, '.3f')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", default="8,64")
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk point (10; quick 3)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds (3; quick 1)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, default=svp.RESULTS / "signals_cost.json")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.warmup = args.warmup or (1.0 if args.quick else 3.0)
    args.cold_only = False
    args.health = False
    payload = svp.preflight(["ours"])
    receiver = Receiver()
    results: list[svp.Measurement] = []
    try:
        with tempfile.TemporaryDirectory(prefix="signals_cost-") as tmpdir:
            for rnd in range(args.rounds):
                order = list(VARIANTS[rnd % 4:] + VARIANTS[:rnd % 4])
                print(f"round {rnd + 1}/{args.rounds}: {', '.join(order)}", file=sys.stderr)
                results += svp.measure_all(order, args.workers, args, payload, Path(tmpdir), build=builder(receiver))
    finally:
        while svp._RUNNING:
            svp._RUNNING.pop().stop()
        receiver.close()
    for m in results:
        if m.failure:
            print(f"!! {m.server}: {m.failure}", file=sys.stderr)
    print(report(results, args.concurrency, args.workers))
    print(f"\n(the receiver got {receiver.posts} OTLP exports, {receiver.bytes / 1e6:.1f} MB)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([dataclasses.asdict(m) for m in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
