"""Our hand-written parts against the kept libraries that could replace them, in one run.

Three comparisons, each printed as a table with ratios (library / ours):

1. ``metrics``  ``scoring/metrics.py`` (a file of doubles per worker, mapped into memory)
   against ``prometheus_client`` in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``):
   ns per counter inc, per histogram observe and per ``/score`` request's recording;
   ``/metrics`` render time with 2 and 4 workers (and 4 live + 10 restarted ones);
   totals across a worker killed mid-request and its replacement (counters must never
   go backwards, the in-flight gauge must drop back to 0); size and import time.
2. ``client``   ``ScoringClient`` (``http.client``, one keep-alive connection per thread)
   against ``httpx.Client`` and ``requests.Session`` (one per thread too), in the same
   load loop against a real ``ScoringServer`` on 127.0.0.1 with a trivial script:
   requests/s, p50/p99 latency and client CPU per request, at concurrency 1 and 8.
3. ``reload``   ``scoring/reload.py`` (polling mtimes) against ``watchfiles`` (inotify,
   and its polling fallback): change-to-reload latency of the watcher, change-to-new-answer
   latency of a real ``--reload`` server, idle CPU of the watcher over ``--idle-s`` seconds
   on a small and a large source folder, and the wheel size added to every image. With
   ``--docker`` also whether inotify events of a host edit reach a container through a
   bind mount (needs a Docker engine and ``mldeploy/python-base:bookworm``).

Usage::

    .venv/bin/python bench/libraries.py                       # everything (~5 minutes)
    .venv/bin/python bench/libraries.py --rounds 3 --idle-s 10 --only metrics,client
    .venv/bin/python bench/libraries.py --docker              # plus the bind-mount check

The machine is shared and noisy: the compared variants are interleaved in every round and
medians of the rounds are printed. All traffic goes to 127.0.0.1; every loop is bounded in
count and time; every process and container it starts is stopped on exit. Parts whose
library is not installed are reported as skipped: prometheus_client, httpx and requests are
in the dev environment, watchfiles is not a dependency (for the run, ``uv pip install
watchfiles`` into the venv from the package index, and uninstall it afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import io
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
THIS = Path(__file__).resolve()
_STARTED: list[subprocess.Popen[Any]] = []


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _ratio(lib: float, ours: float) -> str:
    if not ours or math.isnan(ours) or math.isnan(lib):
        return "-"
    return f"{lib / ours:.2f}x"


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


def _child(name: str, args: dict[str, Any], env: dict[str, str] | None = None, timeout: float = 300) -> Any:
    """Run ``bench/libraries.py --child NAME`` in a fresh interpreter and return its JSON answer."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, str(THIS), "--child", name, json.dumps(args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, text=True,
    )
    _STARTED.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _STARTED.remove(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"child {name} failed ({proc.returncode}): {err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def _dist_size(name: str) -> tuple[int, int, str] | None:
    """``(installed bytes, zipped bytes ~ wheel size, version)`` of an installed distribution."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    installed = 0
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if not path.is_file() or "__pycache__" in file.parts or path.suffix == ".pyc":
                continue
            installed += path.stat().st_size
            archive.write(path, str(file))
    return installed, len(buf.getvalue()), dist.version


def _has(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# =============================================================================================
# 1. metrics
# =============================================================================================

DURATIONS = (0.0003, 0.0008, 0.002, 0.004, 0.008, 0.02, 0.04, 0.2)
STATUSES = (200, 200, 200, 200, 200, 200, 400, 200)


class _Prom:
    """The same metrics as scoring/metrics.py, declared with prometheus_client (multiprocess mode)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        from jupyter_mldeploy.scoring.metrics import BUCKETS

        self.requests = Counter("mldeploy_requests", "Requests to /score answered, by HTTP status.", ["status"])
        self.duration = Histogram("mldeploy_request_duration_seconds", "Time to answer /score.", buckets=BUCKETS)
        self.run = Histogram("mldeploy_run_duration_seconds", "Time in run().", buckets=BUCKETS)
        self.in_flight = Gauge("mldeploy_requests_in_flight", "In flight.", multiprocess_mode="livesum")
        self.ready = Gauge("mldeploy_workers_ready", "Ready workers.", multiprocess_mode="livesum")
        self.timeouts = Counter("mldeploy_run_timeouts", "Timeouts.")
        self.reloads = Counter("mldeploy_reloads", "Reloads.")

    def request(self, status: int, duration: float, run: float) -> None:
        """What app.py records per /score request."""
        self.in_flight.inc()
        self.requests.labels(str(status)).inc()
        self.duration.observe(duration)
        self.run.observe(run)
        self.in_flight.dec()


def child_metrics_record(args: dict[str, Any]) -> dict[str, float]:
    """ns per counter inc, per histogram observe and per request's recording (one process)."""
    n = int(args["n"])
    kind = args["kind"]
    folder = args["folder"]
    d = DURATIONS
    s = STATUSES
    out: dict[str, float] = {}
    if kind == "ours":
        from jupyter_mldeploy.scoring.metrics import IN_FLIGHT, TIMEOUTS, WorkerMetrics

        m = WorkerMetrics(folder, f"worker-bench-{os.getpid()}.bin")
        add, observe = m.add, m.observe
        t = time.perf_counter_ns()
        for _ in range(n):
            add(TIMEOUTS, 1.0)
        out["inc"] = (time.perf_counter_ns() - t) / n
        t = time.perf_counter_ns()
        for i in range(n):
            observe(200, d[i & 7], None)  # the status count and one histogram
        out["observe"] = (time.perf_counter_ns() - t) / n
        t = time.perf_counter_ns()
        for i in range(n):
            add(IN_FLIGHT, 1)
            observe(s[i & 7], d[i & 7], d[(i + 3) & 7])
            add(IN_FLIGHT, -1)
        out["request"] = (time.perf_counter_ns() - t) / n
        m.close()
    else:
        p = _Prom()
        inc = p.timeouts.inc
        hist = p.duration.observe
        t = time.perf_counter_ns()
        for _ in range(n):
            inc()
        out["inc"] = (time.perf_counter_ns() - t) / n
        t = time.perf_counter_ns()
        for i in range(n):
            p.requests.labels("200").inc()
            hist(d[i & 7])
        out["observe"] = (time.perf_counter_ns() - t) / n
        request = p.request
        t = time.perf_counter_ns()
        for i in range(n):
            request(s[i & 7], d[i & 7], d[(i + 3) & 7])
        out["request"] = (time.perf_counter_ns() - t) / n
    return out


def child_metrics_worker(args: dict[str, Any]) -> dict[str, Any]:
    """A worker: record ``n`` requests, optionally leave one in flight and die without cleanup."""
    kind, folder, n = args["kind"], args["folder"], int(args["n"])
    if kind == "ours":
        from jupyter_mldeploy.scoring.metrics import IN_FLIGHT, READY, WorkerMetrics

        m = WorkerMetrics(folder, f"worker-{args.get('wid', 1)}-{os.getpid()}.bin")
        m.set(READY, 1)
        for i in range(n):
            m.add(IN_FLIGHT, 1)
            m.observe(STATUSES[i & 7] if not args.get("varied") else (200, 400, 500, 504)[i & 3],
                      DURATIONS[i & 7], DURATIONS[(i + 3) & 7])
            m.add(IN_FLIGHT, -1)
        if args.get("die_in_flight"):
            m.add(IN_FLIGHT, 1)
            print(json.dumps({"pid": os.getpid(), "path": str(m.path)}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        m.close()
    else:
        p = _Prom()
        p.ready.inc()
        for i in range(n):
            status = STATUSES[i & 7] if not args.get("varied") else (200, 400, 500, 504)[i & 3]
            p.request(status, DURATIONS[i & 7], DURATIONS[(i + 3) & 7])
        if args.get("die_in_flight"):
            p.in_flight.inc()
            print(json.dumps({"pid": os.getpid(), "path": ""}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        p.ready.dec()
    return {"pid": os.getpid(), "path": ""}


def child_metrics_render(args: dict[str, Any]) -> dict[str, Any]:
    """Median microseconds to render /metrics from the folder, and the text once."""
    kind, folder, times = args["kind"], args["folder"], int(args["times"])
    if kind == "ours":
        from jupyter_mldeploy.scoring.metrics import read_folder, render

        def once() -> str:
            return render(read_folder(folder), int(args.get("live", 0)) or None)
    else:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        def once() -> str:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=folder)
            return generate_latest(registry).decode()

    text = once()
    samples = []
    for _ in range(times):
        t = time.perf_counter_ns()
        once()
        samples.append((time.perf_counter_ns() - t) / 1000)
    return {"us": _median(samples), "text": text, "bytes": len(text)}


def child_import_time(args: dict[str, Any]) -> dict[str, float]:
    t = time.perf_counter()
    __import__(args["module"])
    return {"ms": (time.perf_counter() - t) * 1000}


def _sum_samples(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(rf"{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", line)
        if match:
            total += float(match.group(1))
    return total


def _prom_env(folder: str) -> dict[str, str]:
    return {"PROMETHEUS_MULTIPROC_DIR": folder}


def _worker_proc(kind: str, folder: str, args: dict[str, Any]) -> dict[str, Any]:
    env = _prom_env(folder) if kind == "prom" else {}
    full_env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **env)
    proc = subprocess.run(
        [sys.executable, str(THIS), "--child", "metrics_worker", json.dumps({"kind": kind, "folder": folder, **args})],
        capture_output=True, text=True, env=full_env, timeout=120, check=False,
    )
    if proc.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _render(kind: str, folder: str, times: int = 1, live: int = 0) -> dict[str, Any]:
    return _child("metrics_render", {"kind": kind, "folder": folder, "times": times, "live": live},
                  env=_prom_env(folder) if kind == "prom" else None)


def bench_metrics(rounds: int, quick: bool) -> None:
    if not _has("prometheus_client"):
        print("\n(metrics: prometheus_client is not installed: skipped)")
        return
    kinds = ("ours", "prom")
    n = 50_000 if quick else 200_000
    rec: dict[str, dict[str, list[float]]] = {k: {"inc": [], "observe": [], "request": []} for k in kinds}
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        for r in range(rounds):
            for kind in kinds if r % 2 == 0 else kinds[::-1]:
                folder = tempfile.mkdtemp(dir=tmp)
                got = _child("metrics_record", {"kind": kind, "n": n, "folder": folder},
                             env=_prom_env(folder) if kind == "prom" else None)
                for key, value in got.items():
                    rec[kind][key].append(value)
        rows = []
        labels = {
            "inc": "counter inc (ns)",
            "observe": "status count + 1 histogram observe (ns)",
            "request": "one /score request's recording: in-flight +1/-1, status, 2 histograms (ns)",
        }
        for key, label in labels.items():
            ours, prom = _median(rec["ours"][key]), _median(rec["prom"][key])
            rows.append([label, f"{ours:.0f}", f"{prom:.0f}", _ratio(prom, ours)])

        # /metrics render: 2 and 4 live workers, then 4 live + 10 restarted (dead) workers
        render_rows = []
        for live, dead in ((2, 0), (4, 0), (4, 10)):
            folders = {k: tempfile.mkdtemp(dir=tmp) for k in kinds}
            for kind in kinds:
                for w in range(live + dead):
                    _worker_proc(kind, folders[kind], {"n": 2000, "wid": w + 1, "varied": True})
            times = 50 if quick else 200
            res: dict[str, list[float]] = {k: [] for k in kinds}
            text: dict[str, str] = {}
            for r in range(rounds):
                for kind in kinds if r % 2 == 0 else kinds[::-1]:
                    got = _render(kind, folders[kind], times, live)
                    res[kind].append(got["us"])
                    text[kind] = got["text"]
            ours, prom = _median(res["ours"]), _median(res["prom"])
            totals = {k: _sum_samples(text[k], "mldeploy_requests_total") for k in kinds}
            label = f"render /metrics, {live} workers" + (f" + {dead} restarted" if dead else "") + " (us)"
            render_rows.append([label, f"{ours:.0f}", f"{prom:.0f}", _ratio(prom, ours)])
            if totals["ours"] != totals["prom"] or totals["ours"] != 2000 * (live + dead):
                render_rows.append([f"  (totals differ: {totals})", "", "", ""])
            parsed_text = text["ours"]

        # our text format, read back by prometheus_client's own parser
        from prometheus_client.parser import text_string_to_metric_families

        families = list(text_string_to_metric_families(parsed_text))
        parsed_total = sum(s.value for f in families if f.name == "mldeploy_requests" for s in f.samples
                           if s.name == "mldeploy_requests_total")
        parsed = (f"{'ok' if parsed_total == _sum_samples(parsed_text, 'mldeploy_requests_total') else 'WRONG'}: "
                  f"{len(families)} families, {sum(len(f.samples) for f in families)} samples")

        # worker restarts: a worker dies with a request in flight, the supervisor cleans up, another starts
        restart: dict[str, str] = {}
        for kind in kinds:
            folder = tempfile.mkdtemp(dir=tmp)
            seen = []
            _worker_proc(kind, folder, {"n": 300, "wid": 1})
            seen.append(_sum_samples(_render(kind, folder)["text"], "mldeploy_requests_total"))
            dead = _worker_proc(kind, folder, {"n": 100, "wid": 2, "die_in_flight": True})
            text = _render(kind, folder)["text"]
            seen.append(_sum_samples(text, "mldeploy_requests_total"))
            stuck = _sum_samples(text, "mldeploy_requests_in_flight")
            if kind == "ours":  # what supervisor._reap does
                from jupyter_mldeploy.scoring.metrics import zero_in_flight

                zero_in_flight(dead["path"])
            else:  # what a supervisor would do: prometheus_client's child_exit hook
                from prometheus_client.multiprocess import mark_process_dead

                mark_process_dead(dead["pid"], folder)
            _worker_proc(kind, folder, {"n": 50, "wid": 3})
            text = _render(kind, folder)["text"]
            seen.append(_sum_samples(text, "mldeploy_requests_total"))
            in_flight = _sum_samples(text, "mldeploy_requests_in_flight")
            count = _sum_samples(text, "mldeploy_request_duration_seconds_count")
            ok = seen == sorted(seen) and seen[-1] == 450 and count == 450 and in_flight == 0
            restart[kind] = (f"{'ok' if ok else 'WRONG'}: totals {'/'.join(f'{v:g}' for v in seen)}, "
                             f"in flight {stuck:g} -> {in_flight:g}")

        size = _dist_size("prometheus_client")
        imp: dict[str, list[float]] = {"ours": [], "prom": []}
        for r in range(rounds):
            imp["ours"].append(_child("import_time", {"module": "jupyter_mldeploy.scoring.metrics"})["ms"])
            imp["prom"].append(_child("import_time", {"module": "prometheus_client"})["ms"])
    rows += render_rows
    rows.append(["our /metrics text read back by prometheus_client.parser", parsed, "(reference)", ""])
    rows.append(["counters across a killed worker + its replacement (300, +100 killed, +50)",
                 restart["ours"], restart["prom"], ""])
    if size:
        rows.append(["added to every image: installed / ~wheel (KiB)", "0 / 0",
                     f"{size[0] / 1024:.0f} / {size[1] / 1024:.0f} (prometheus_client {size[2]})", ""])
    rows.append(["import time in a worker (ms)", f"{_median(imp['ours']):.1f}",
                 f"{_median(imp['prom']):.1f}", _ratio(_median(imp["prom"]), _median(imp["ours"]))])
    _table(f"1. metrics: scoring/metrics.py vs prometheus_client multiprocess (median of {rounds} rounds, n={n})",
           ["measure", "ours", "prometheus_client", "ratio lib/ours"], rows)


# =============================================================================================
# 2. client
# =============================================================================================

TRIVIAL_SCRIPT = "def init():\n    pass\n\n\ndef run(raw_data):\n    return raw_data\n"
BODY = json.dumps({"data": [[1.0, 2.0, 3.0]]}).encode()
HEADERS = {"Content-Type": "application/json"}


def _senders(base_url: str) -> dict[str, Callable[[], tuple[Callable[[], int], Callable[[], None]]]]:
    """For each client: a factory returning ``(send one /score POST -> status, close)`` for one thread."""

    def ours() -> tuple[Callable[[], int], Callable[[], None]]:
        from jupyter_mldeploy.client.client import ScoringClient

        c = ScoringClient(base_url, timeout=30)
        return (lambda: c.request("POST", "/score", BODY, HEADERS).status), c.close

    def httpx_client() -> tuple[Callable[[], int], Callable[[], None]]:
        import httpx

        c = httpx.Client(base_url=base_url, timeout=30)

        def send() -> int:
            r = c.post("/score", content=BODY, headers=HEADERS)
            r.read()
            return r.status_code

        return send, c.close

    def requests_session() -> tuple[Callable[[], int], Callable[[], None]]:
        import requests

        s = requests.Session()
        url = base_url + "/score"

        def send() -> int:
            r = s.post(url, data=BODY, headers=HEADERS, timeout=30)
            _ = r.content
            return r.status_code

        return send, s.close

    out: dict[str, Callable[[], tuple[Callable[[], int], Callable[[], None]]]] = {"ours": ours}
    if _has("httpx"):
        out["httpx"] = httpx_client
    if _has("requests"):
        out["requests"] = requests_session
    return out


def _load(factory: Callable[[], tuple[Callable[[], int], Callable[[], None]]], n: int, concurrency: int,
          deadline_s: float = 60.0) -> dict[str, float]:
    """The load loop of client/loadtest.py (threads take request numbers, one client per thread)."""
    lock = threading.Lock()
    state = {"next": 0, "errors": 0}
    latencies: list[float] = []
    deadline = time.monotonic() + deadline_s

    def worker() -> None:
        send, close = factory()
        try:
            while True:
                with lock:
                    if state["next"] >= n or time.monotonic() > deadline:
                        return
                    state["next"] += 1
                t = time.perf_counter()
                try:
                    status = send()
                except Exception:  # noqa: BLE001 - counted
                    status = 0
                latency = time.perf_counter() - t
                with lock:
                    latencies.append(latency)
                    if status != 200:
                        state["errors"] += 1
        finally:
            close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    cpu = time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline_s + 30)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    latencies.sort()
    k = len(latencies)
    return {
        "rps": k / wall,
        "p50": latencies[k // 2] * 1000,
        "p99": latencies[min(k - 1, int(k * 0.99))] * 1000,
        "cpu_us": cpu / max(k, 1) * 1e6,
        "errors": state["errors"],
    }


def bench_client(rounds: int, quick: bool) -> None:
    from jupyter_mldeploy.client.loadtest import load_test
    from jupyter_mldeploy.client.server import ScoringServer

    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        script = Path(tmp) / "score.py"
        script.write_text(TRIVIAL_SCRIPT)
        server = ScoringServer(script, port=0, workers=1)
        _STARTED.append(server)  # type: ignore[arg-type]
        try:
            server.start().wait_ready(timeout=60)
            senders = _senders(server.url)
            names = list(senders)
            results: dict[tuple[str, int], list[dict[str, float]]] = {}
            for name in names:  # warm up each client and the server
                _load(senders[name], 200, 2)
            sizes = {1: 800 if quick else 2000, 8: 1600 if quick else 4000}
            for r in range(rounds):
                for concurrency, n in sizes.items():
                    order = names[r % len(names):] + names[: r % len(names)]
                    for name in order:
                        results.setdefault((name, concurrency), []).append(_load(senders[name], n, concurrency))
                    # the product's own load_test() (same client as 'ours'), as a check of the loop
                    t = load_test(server.url, json.loads(BODY), requests=n, concurrency=concurrency)
                    results.setdefault(("load_test()", concurrency), []).append(
                        {"rps": t.throughput, "p50": t.p50 * 1000, "p99": t.p99 * 1000, "cpu_us": float("nan"),
                         "errors": t.errors})
        finally:
            server.stop()
            _STARTED.remove(server)  # type: ignore[arg-type]
    rows = []
    for concurrency in sizes:
        base = {key: _median([x[key] for x in results[("ours", concurrency)]]) for key in ("rps", "p50", "p99", "cpu_us")}
        for name in [*names, "load_test()"]:
            got = results[(name, concurrency)]
            med = {key: _median([x[key] for x in got]) for key in ("rps", "p50", "p99", "cpu_us")}
            errors = sum(int(x["errors"]) for x in got)
            rows.append([
                str(concurrency), name, f"{med['rps']:.0f}", _ratio(med["rps"], base["rps"]),
                f"{med['p50']:.2f}", f"{med['p99']:.2f}",
                "-" if math.isnan(med["cpu_us"]) else f"{med['cpu_us']:.0f}",
                _ratio(med["cpu_us"], base["cpu_us"]), str(errors),
            ])
    for name in ("httpx", "httpcore", "requests", "urllib3"):
        size = _dist_size(name)
        if size:
            rows.append(["", f"size of {name} {size[2]}", f"{size[0] / 1024:.0f} KiB installed", "", "", "", "", "", ""])
    _table(f"2. client: ScoringClient vs httpx.Client vs requests.Session, /score of a trivial script, "
           f"1 worker (median of {rounds} rounds; {sizes[1]} requests at c=1, {sizes[8]} at c=8)",
           ["concurrency", "client", "req/s", "ratio to ours", "p50 ms", "p99 ms", "client CPU us/req",
            "CPU ratio", "errors"], rows)


# =============================================================================================
# 3. reload
# =============================================================================================


def _make_source(folder: Path, files: int) -> Path:
    """A source folder: score.py and ``files`` modules in a few packages."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text("VALUE = 0\n")
    for i in range(files):
        pkg = folder / f"pkg{i % 20}"
        pkg.mkdir(exist_ok=True)
        (pkg / f"mod{i}.py").write_text(f"X = {i}\n" * 20)
    return folder / "score.py"


def _reloaders(kind: str) -> type:
    """Our Watcher, or the same class with its loop on watchfiles (what a switch would look like)."""
    from jupyter_mldeploy.scoring.watch import Watcher

    if kind == "ours":
        return Watcher
    force = kind == "watchfiles-poll"

    class WatchfilesWatcher(Watcher):  # type: ignore[misc, valid-type]
        def _loop(self) -> None:
            import watchfiles

            for changes in watchfiles.watch(*self.paths, stop_event=self._stop, force_polling=force,
                                            raise_interrupt=False):
                self.on_change(sorted(path for _, path in changes))

    return WatchfilesWatcher


def child_watch_latency(args: dict[str, Any]) -> dict[str, Any]:
    """ms from a file write to the watcher's reload() call, for ``edits`` edits."""
    folder = Path(args["folder"])
    script = folder / "score.py"
    fired = threading.Event()

    probe = _reloaders(args["kind"])([script, folder], lambda changed: fired.set())
    probe.start()
    time.sleep(1.0)  # let the watcher take its first snapshot / set up its watches
    samples, missed = [], 0
    for i in range(int(args["edits"])):
        fired.clear()
        t = time.perf_counter()
        script.write_text(f"VALUE = {i + 1}\n")
        if fired.wait(10):
            samples.append((time.perf_counter() - t) * 1000)
        else:
            missed += 1
        time.sleep(0.3)
    probe.stop()
    return {"ms": _median(samples), "missed": missed}


def child_watch_idle(args: dict[str, Any]) -> dict[str, Any]:
    """CPU seconds the watcher takes over ``seconds`` with nothing changing."""
    folder = Path(args["folder"])
    cls = _reloaders(args["kind"])
    watcher = cls([folder / "score.py", folder], lambda changed: None)
    watcher.start()
    time.sleep(1.0)
    cpu = time.process_time()
    time.sleep(float(args["seconds"]))
    used = time.process_time() - cpu
    watcher.stop()
    return {"cpu_ms": used * 1000, "pct": used / float(args["seconds"]) * 100}


RELOAD_SCRIPT = "import json\n\nVALUE = {value}\n\n\ndef init():\n    pass\n\n\ndef run(raw_data):\n    return {{'value': VALUE}}\n"


def _server_reload_latency(tmp: Path, edits: int) -> tuple[float, int]:
    """ms from saving score.py to the first /score answering the new value (a real --reload server)."""
    from jupyter_mldeploy.client.server import ScoringServer

    folder = tmp / "served"
    folder.mkdir()
    script = folder / "score.py"
    script.write_text(RELOAD_SCRIPT.format(value=0))
    server = ScoringServer(script, port=0, reload=True)
    _STARTED.append(server)  # type: ignore[arg-type]
    samples, missed = [], 0
    try:
        server.start().wait_ready(timeout=60)
        client = server.client(timeout=10)
        time.sleep(1.0)
        for i in range(1, edits + 1):
            t = time.perf_counter()
            script.write_text(RELOAD_SCRIPT.format(value=i))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if client.score({}).get("value") == i:
                    samples.append((time.perf_counter() - t) * 1000)
                    break
                time.sleep(0.005)
            else:
                missed += 1
            time.sleep(0.3)
        client.close()
    finally:
        server.stop()
        _STARTED.remove(server)  # type: ignore[arg-type]
    return _median(samples), missed


DOCKER_WATCH = textwrap.dedent(
    """
    import sys, time, watchfiles
    print("ready", flush=True)
    for changes in watchfiles.watch("/watch", force_polling=False, rust_timeout=15000,
                                    yield_on_timeout=True, raise_interrupt=False):
        print("change" if changes else "timeout", flush=True)
        if not changes:
            break
    """
)


def _docker_inotify(tmp: Path, edits: int = 3) -> str:
    """Do inotify events of a host edit reach a container through a (read-only) bind mount?"""
    if shutil.which("docker") is None or not _has("watchfiles"):
        return "skipped (no docker CLI or no watchfiles)"
    import watchfiles

    site = Path(watchfiles.__file__).resolve().parent.parent  # watchfiles and anyio, same Python 3.11 ABI
    folder = tmp / "mounted"
    folder.mkdir()
    (folder / "score.py").write_text("VALUE = 0\n")
    name = f"mldeploy-bench-inotify-{os.getpid()}"
    proc = subprocess.Popen(
        ["docker", "run", "--rm", "-i", "--name", name, "--network", "none",
         "--mount", f"type=bind,source={folder},target=/watch,readonly",
         "--mount", f"type=bind,source={site},target=/site,readonly",
         "-e", "PYTHONPATH=/site", "mldeploy/python-base:bookworm", "python3", "-c", DOCKER_WATCH],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _STARTED.append(proc)
    lines: list[tuple[float, str]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter(), line.strip()))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any(text == "ready" for _, text in lines) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        if not any(text == "ready" for _, text in lines):
            err = proc.stderr.read()[-500:] if proc.stderr and proc.poll() is not None else ""
            return f"container did not start: {err}"
        time.sleep(1.0)
        samples, missed = [], 0
        for i in range(edits):
            before = len(lines)
            t = time.perf_counter()
            (folder / "score.py").write_text(f"VALUE = {i + 1}\n")
            end = time.monotonic() + 5
            while len(lines) == before and time.monotonic() < end:
                time.sleep(0.005)
            if len(lines) > before and lines[before][1] == "change":
                samples.append((lines[before][0] - t) * 1000)
            else:
                missed += 1
            time.sleep(0.3)
        if samples:
            return (f"yes: {len(samples)}/{edits} host edits seen by watchfiles (inotify) in the container, "
                    f"median {_median(samples):.0f} ms (Linux engine, bind mount)")
        return f"no: {missed}/{edits} host edits missed by watchfiles (inotify) in the container"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        if proc.poll() is None:
            proc.kill()
        _STARTED.remove(proc)


def bench_reload(rounds: int, quick: bool, idle_s: float, docker: bool) -> None:
    kinds = ["ours"]
    if _has("watchfiles"):
        kinds += ["watchfiles", "watchfiles-poll"]
    else:
        print("\n(reload: watchfiles is not installed: only ours is measured)")
    edits = 3 if quick else 5
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as tmp_name:
        tmp = Path(tmp_name)
        small = _make_source(tmp / "small", 50).parent
        large = _make_source(tmp / "large", 2000).parent
        lat: dict[str, list[float]] = {k: [] for k in kinds}
        missed: dict[str, int] = {k: 0 for k in kinds}
        for r in range(rounds):
            for kind in kinds[r % len(kinds):] + kinds[: r % len(kinds)]:
                got = _child("watch_latency", {"kind": kind, "folder": str(small), "edits": edits})
                lat[kind].append(got["ms"])
                missed[kind] += got["missed"]
        ours = _median(lat["ours"])
        for kind in kinds:
            rows.append([f"change -> reload() call, {kind} (ms; missed)", f"{_median(lat[kind]):.0f}; {missed[kind]}",
                         _ratio(_median(lat[kind]), ours)])
        e2e, e2e_missed = _server_reload_latency(tmp, edits * 2)
        rows.append(["change -> new answer from a real --reload server, ours (ms; missed)",
                     f"{e2e:.0f}; {e2e_missed}", ""])

        # idle CPU: every watcher at once, each in its own process (CPU time is per process)
        jobs = [(kind, label, folder) for kind in kinds for label, folder in (("50 files", small), ("2000 files", large))]
        idle: dict[tuple[str, str], dict[str, Any]] = {}

        def run_idle(kind: str, label: str, folder: Path) -> None:
            idle[(kind, label)] = _child("watch_idle", {"kind": kind, "folder": str(folder), "seconds": idle_s},
                                         timeout=idle_s + 120)

        threads = [threading.Thread(target=run_idle, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(idle_s + 180)
        for label in ("50 files", "2000 files"):
            base = idle[("ours", label)]["cpu_ms"]
            for kind in kinds:
                got = idle[(kind, label)]
                rows.append([f"idle CPU over {idle_s:g} s, {label}, {kind} (ms; % of a core)",
                             f"{got['cpu_ms']:.0f}; {got['pct']:.2f}%", _ratio(got["cpu_ms"], base)])
        size = _dist_size("watchfiles")
        if size:
            rows.append(["added to every image: installed / ~wheel (KiB)",
                         f"{size[0] / 1024:.0f} / {size[1] / 1024:.0f} (watchfiles {size[2]}; anyio is there already)", ""])
        if docker:
            rows.append(["host edit seen through a bind mount by inotify in a container", _docker_inotify(tmp), ""])
    _table(f"3. reload: polling mtimes (ours) vs watchfiles (inotify; -poll = its polling fallback), "
           f"median of {rounds} rounds x {edits} edits", ["measure", "value", "ratio to ours"], rows)


# =============================================================================================


CHILDREN = {
    "metrics_record": child_metrics_record,
    "metrics_worker": child_metrics_worker,
    "metrics_render": child_metrics_render,
    "import_time": child_import_time,
    "watch_latency": child_watch_latency,
    "watch_idle": child_watch_idle,
}


def _stop_all() -> None:
    for proc in _STARTED:
        with contextlib.suppress(Exception):
            if isinstance(proc, subprocess.Popen):
                proc.kill()
                proc.wait(timeout=10)
            else:
                proc.stop()  # a ScoringServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller loops (about 2 minutes)")
    parser.add_argument("--idle-s", type=float, default=30.0, help="seconds of idle watching")
    parser.add_argument("--only", default="metrics,client,reload")
    parser.add_argument("--docker", action="store_true", help="also check inotify through a bind mount")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("child_args", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](json.loads(args.child_args))), flush=True)
        return 0
    only = set(args.only.split(","))
    print(f"# bench/libraries.py on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}")
    try:
        if "metrics" in only:
            bench_metrics(args.rounds, args.quick)
        if "client" in only:
            bench_client(args.rounds, args.quick)
        if "reload" in only:
            bench_reload(args.rounds, args.quick, args.idle_s, args.docker)
    finally:
        _stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
