"""Benchmark the Open Inference Protocol and adaptive batching against MLServer and BentoML, in one run.

The same Ridge model (``load_diabetes``) and the same two rows per request as
``bench/serve_vs_peers.py`` (whose machinery this reuses: cold start, a check of the
prediction, warm-up, ``wrk`` at each concurrency, CPU per request, interleaved servers).
``--model forest`` serves a heavier model instead, the same for every server: a Pipeline
(StandardScaler, RandomForestRegressor with 100 trees) on the same data and rows
(``bench/peers/train_forest.py``), whose every ``predict`` walks all trees.

Part 1, OIP ``infer`` with JSON tensors (``POST /v2/models/ridge/infer``), equal worker counts:

* ``ours-oip``      ``mldeploy serve`` with the classic entry script (``bench/peers/score.py``),
* ``mlserver-oip``  MLServer 1.7 with its scikit-learn runtime (``parallel_workers`` = workers).

Part 2, adaptive batching, one worker, each request two rows:

* ``ours``              the same script unbatched on ``/score`` (the baseline),
* ``ours-batched``      ``bench/peers/score_batched.py``: ``@batched(max_batch_size=64, max_latency_ms=5)``,
* ``ours-setting``      ``bench/peers/score_vectorised.py`` (the same ``run``, no decorator) with
                        ``MLDEPLOY_BATCH=max_batch_size=64,max_latency_ms=5``,
* ``bentoml-batched``   BentoML 1.4, ``@bentoml.api(batchable=True, max_batch_size=64)`` (its docs' way),
* ``mlserver-batched``  MLServer with ``max_batch_size=64, max_batch_time=0.005`` on OIP ``infer``,
* ``ours-ceiling``      ``bench/peers/score_ceiling.py``: the same answers with no work per request
                        (no parsing, no ``predict``): what the server pays per request, which no
                        batching removes, so ``ceiling / unbatched`` bounds any batching speed-up.

Prints one Markdown table per part and the issue's goals as met / NOT met, and writes
JSON to ``bench/results/oip_batching_vs_peers.json``. Prepare once with
``bench/setup_peers.sh``, then::

    .venv/bin/python bench/oip_batching_vs_peers.py            # ~6 minutes
    .venv/bin/python bench/oip_batching_vs_peers.py --quick    # ~3 minutes
    .venv/bin/python bench/oip_batching_vs_peers.py --quick --parts batch --model forest

Numbers are only comparable within one run. All traffic goes to 127.0.0.1; every loop
is bounded; every server process is stopped on exit, errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import serve_vs_peers as svp
from serve_vs_peers import HOST, MODEL, PEERS, RESULTS, ROOT, VENVS, Running, ServerSpec, free_port

OIP_SERVERS = ("ours-oip", "mlserver-oip")
BATCH_SERVERS = ("ours", "ours-batched", "ours-setting", "ours-ceiling", "bentoml-batched", "mlserver-batched")
#: --model NAME -> the folder holding its model.joblib and payload.json
MODELS = {"ridge": MODEL / "joblib", "forest": MODEL / "forest"}
MODEL_DIR = MODELS["ridge"]  # set from --model in main()
MAX_BATCH = 64
MAX_LATENCY_MS = 5
OIP_PATH = "/v2/models/ridge/infer"
# MLServer loads its model well after its HTTP port answers (404 meanwhile): allow for that
svp.ERROR_ANSWERS_LIMIT_S = 150.0


def oip_body(rows: list[list[float]]) -> bytes:
    """The OIP ``infer`` request every OIP server gets: one FP64 tensor of the rows."""
    flat = [x for row in rows for x in row]
    return json.dumps({"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])],
                                   "datatype": "FP64", "data": flat}]}).encode()


def _env(tmp: Path, venv_bin: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["AZUREML_MODEL_DIR"] = str(MODEL_DIR)
    env["PYTHONUNBUFFERED"] = "1"
    env["BENCH_MAX_BATCH"] = str(MAX_BATCH)
    env["BENCH_MAX_LATENCY_MS"] = str(MAX_LATENCY_MS)
    return env


def _mlserver(name: str, port: int, workers: int, tmp: Path, batched: bool) -> tuple[list[str], Path]:
    """An MLServer model repository for the Ridge under ``tmp``; returns (argv, folder)."""
    repo = tmp / f"{name}-w{workers}"
    (repo / "ridge").mkdir(parents=True, exist_ok=True)
    (repo / "ridge" / "model.joblib").write_bytes((MODEL_DIR / "model.joblib").read_bytes())
    model: dict[str, object] = {"name": "ridge", "implementation": "mlserver_sklearn.SKLearnModel",
                                "parameters": {"uri": "./model.joblib", "version": "1"}}
    if batched:
        model.update(max_batch_size=MAX_BATCH, max_batch_time=MAX_LATENCY_MS / 1000)
    (repo / "ridge" / "model-settings.json").write_text(json.dumps(model))
    (repo / "settings.json").write_text(json.dumps({
        "host": HOST, "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
        "parallel_workers": workers, "debug": False,
    }))
    return [str(VENVS / "mlserver" / "bin" / "mlserver"), "start", str(repo)], repo


def build(name: str, port: int, workers: int, rows: list[list[float]], tmp: Path) -> ServerSpec:
    """The :class:`ServerSpec` of one of this benchmark's servers."""
    data_body = json.dumps({"data": rows}).encode()
    if name.startswith("ours"):
        env = _env(tmp, ROOT / ".venv" / "bin")
        env["MLDEPLOY_HOME"] = str(tmp / "mldeploy-home")
        env["PYTHONPATH"] = str(ROOT)  # this checkout's server
        argv = svp.ours_argv(port, workers)
        argv[argv.index("--model-dir") + 1] = str(MODEL_DIR)
        if name == "ours-batched":
            argv[argv.index(str(PEERS / "score.py"))] = str(PEERS / "score_batched.py")
        if name == "ours-ceiling":
            argv[argv.index(str(PEERS / "score.py"))] = str(PEERS / "score_ceiling.py")
        if name == "ours-setting":
            argv[argv.index(str(PEERS / "score.py"))] = str(PEERS / "score_vectorised.py")
            env["MLDEPLOY_BATCH"] = f"max_batch_size={MAX_BATCH},max_latency_ms={MAX_LATENCY_MS}"
        if name == "ours-oip":
            return ServerSpec(name, [*argv, "--model-name", "ridge:1"], env, PEERS, OIP_PATH, oip_body(rows))
        return ServerSpec(name, argv, env, PEERS, "/score", data_body)
    if name.startswith("mlserver"):
        argv, repo = _mlserver(name, port, workers, tmp, batched=name == "mlserver-batched")
        return ServerSpec(name, argv, _env(tmp, VENVS / "mlserver" / "bin"), repo, OIP_PATH, oip_body(rows))
    if name == "bentoml-batched":
        env = _env(tmp, VENVS / "bentoml" / "bin")
        env["BENTOML_HOME"] = str(tmp / "bentoml-home")
        env["BENTOML_DO_NOT_TRACK"] = "True"  # no usage reports: the network is the package index only
        env["BENCH_WORKERS"] = str(workers)
        argv = [str(VENVS / "bentoml" / "bin" / "bentoml"), "serve", "bentoml_service:Ridge",
                "--host", HOST, "--port", str(port)]
        return ServerSpec(name, argv, env, PEERS, "/predict", data_body)
    raise SystemExit(f"unknown server {name!r}")


def predictions(answer: object) -> list[float]:
    """The predictions in any of the servers' answers (a list, or OIP output tensors)."""
    if isinstance(answer, dict) and "outputs" in answer:
        return [float(x) for x in answer["outputs"][0]["data"]]
    if isinstance(answer, list):
        return [float(x) for x in answer]
    raise ValueError(f"no predictions in {str(answer)[:300]}")


def check(running: Running, expected: list[float]) -> None:
    """Fail unless the server answers the expected prediction."""
    status, raw = svp.post(running.port, running.spec.path, running.spec.body)
    got = predictions(json.loads(raw)) if status == 200 else []
    if len(got) != len(expected) or not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(got, expected)):
        raise RuntimeError(f"{running.spec.name} answered {status} {raw[:300]!r}, expected {expected}")


# --- goals -----------------------------------------------------------------------------------


def _get(rows: dict[str, dict], name: str, c: int, key: str) -> float | None:
    row = rows.get(name)
    return None if row is None else row["loads"].get(str(c), {}).get(key)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def oip_goals(rows: dict[str, dict], concs: list[int]) -> list[tuple[str, str, bool | None]]:
    """OIP infer: >= 2x MLServer's throughput at c=8 and 64, p99 below, cold start below."""
    out: list[tuple[str, str, bool | None]] = []
    for c in concs:
        r = _ratio(_get(rows, "ours-oip", c, "rps"), _get(rows, "mlserver-oip", c, "rps"))
        out.append((f"OIP infer req/s c={c}: ours >= 2x MLServer", svp._x(r), None if r is None else r >= 2))
        a, b = _get(rows, "ours-oip", c, "p99_ms"), _get(rows, "mlserver-oip", c, "p99_ms")
        out.append((f"OIP infer p99 c={c}: ours below MLServer", f"{svp._lat(a)} ms vs {svp._lat(b)} ms",
                    None if a is None or b is None else a < b))
    a = rows.get("ours-oip", {}).get("cold_start_s")
    b = rows.get("mlserver-oip", {}).get("cold_start_s")
    out.append(("cold start: ours below MLServer", f"{svp._fmt(a, '.2f')} s vs {svp._fmt(b, '.2f')} s",
                None if a is None or b is None else a < b))
    return out


def batch_goals(rows: dict[str, dict], concs: list[int]) -> list[tuple[str, str, bool | None]]:
    """Batching at c=64: >= 3x the unbatched script, ahead of BentoML (and MLServer, for information)."""
    c = 64 if 64 in concs else max(concs)
    batched = _get(rows, "ours-batched", c, "rps")
    r = _ratio(batched, _get(rows, "ours", c, "rps"))
    out: list[tuple[str, str, bool | None]] = [
        (f"batching req/s c={c}: ours @batched >= 3x the same script unbatched", svp._x(r),
         None if r is None else r >= 3)]
    r = _ratio(_get(rows, "ours-setting", c, "rps"), _get(rows, "ours", c, "rps"))
    out.append((f"batching req/s c={c}: ours MLDEPLOY_BATCH >= 3x the same script unbatched", svp._x(r),
                None if r is None else r >= 3))
    r = _ratio(batched, _get(rows, "bentoml-batched", c, "rps"))
    out.append((f"batching req/s c={c}: ours @batched ahead of BentoML adaptive batching", svp._x(r),
                None if r is None else r > 1))
    r = _ratio(batched, _get(rows, "mlserver-batched", c, "rps"))
    out.append((f"(info, not a goal) batching req/s c={c}: ours @batched / MLServer adaptive batching",
                svp._x(r), None))
    ceiling = _ratio(_get(rows, "ours-ceiling", c, "rps"), _get(rows, "ours", c, "rps"))
    out.append((f"(info, not a goal) c={c}: the most any batching can give here, ours-ceiling / unbatched",
                svp._x(ceiling), None))
    r = _ratio(batched, _get(rows, "ours-ceiling", c, "rps"))
    out.append((f"(info, not a goal) c={c}: ours @batched / that ceiling", svp._x(r), None))
    for name in BATCH_SERVERS:
        out.append((f"(info, not a goal) p99 c={c} {name}", f"{svp._lat(_get(rows, name, c, 'p99_ms'))} ms", None))
    return out


def _section(title: str, summary: list[dict], concs: list[int], goals: list[tuple[str, str, bool | None]]) -> str:
    parts = ["", f"## {title}", "", svp.table(summary, concs, False), ""]
    for goal, measured, met in goals:
        if goal.startswith("(info"):
            parts.append(f"- {goal}: {measured}")
        else:
            parts.append(f"- {goal}: {measured} -> **{'n/a' if met is None else ('met' if met else 'NOT met')}**")
    for row in summary:
        parts += [f"- FAILED {row['server']}: {f.splitlines()[0]}" for f in row["failures"]]
    return "\n".join(parts)


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="oip,batch", help="oip, batch or both (comma-separated)")
    parser.add_argument("--workers", default="1", help="OIP part: worker counts, comma-separated")
    parser.add_argument("--concurrency", default="8,64", help="wrk connections, comma-separated")
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk point (10; quick 3)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds (3; quick 1)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat N times, report medians")
    parser.add_argument("--servers", default=None,
                        help="only these servers, comma-separated (e.g. ours,ours-batched,ours-ceiling: no peers)")
    parser.add_argument("--quick", action="store_true", help="short points")
    parser.add_argument("--model", choices=sorted(MODELS), default="ridge",
                        help="ridge (default) or forest (a StandardScaler + RandomForest pipeline), the same for all")
    parser.add_argument("--json", type=Path, default=None, help="default bench/results/oip_batching_vs_peers[-MODEL].json")
    args = parser.parse_args(argv)
    args.parts = [p for p in args.parts.split(",") if p]
    args.workers = [int(w) for w in args.workers.split(",")]
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.warmup = args.warmup or (1.0 if args.quick else 3.0)
    args.cold_only = args.health = False  # what svp.measure_all reads
    suffix = "" if args.model == "ridge" else f"-{args.model}"
    args.json = args.json or RESULTS / f"oip_batching_vs_peers{suffix}.json"
    return args


def preflight(model: str, servers: str | None = None) -> dict:
    """Check that setup_peers.sh has run (for the peers asked for); return the payload of ``model``."""
    payload = MODEL / "payload.json" if model == "ridge" else MODELS[model] / "payload.json"
    peers = [VENVS / peer / "bin" / peer for peer in ("mlserver", "bentoml") if servers is None or peer in servers]
    needs = [*peers, payload, MODELS[model] / "model.joblib"]
    missing = [str(p) for p in needs if not p.exists()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: run bench/setup_peers.sh first")
    return json.loads(payload.read_text())


def main(argv: list[str] | None = None) -> int:
    global MODEL_DIR
    args = parse_args(argv)
    payload = preflight(args.model, args.servers)
    MODEL_DIR = MODELS[args.model]
    signal.signal(signal.SIGTERM, svp._on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join([".venv/bin/python", "bench/oip_batching_vs_peers.py", *(argv or sys.argv[1:])]),
            "model": args.model, "cpus": os.cpu_count(), "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    wanted = set(args.servers.split(",")) if args.servers else None

    def only(names: tuple[str, ...]) -> list[str]:
        return [n for n in names if wanted is None or n in wanted]

    plan = [(f"OIP infer (JSON), {w} worker(s)", only(OIP_SERVERS), w, oip_goals)
            for w in args.workers if "oip" in args.parts]
    if "batch" in args.parts:
        plan.append((f"Adaptive batching, {args.model}, 1 worker, 2 rows per request", only(BATCH_SERVERS), 1,
                     batch_goals))
    plan = [step for step in plan if step[1]]
    results: dict[str, list[svp.Measurement]] = {title: [] for title, *_ in plan}
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="oip_batching-") as tmpdir:
            for rnd in range(args.rounds):
                for title, names, workers, _ in plan:
                    order = names[rnd % len(names):] + names[:rnd % len(names)]
                    print(f"round {rnd + 1}/{args.rounds}, {title}: {', '.join(order)}", file=sys.stderr)
                    results[title] += svp.measure_all(order, workers, args, payload, Path(tmpdir), build, check)
    except KeyboardInterrupt:
        print("interrupted: servers stopped; partial results follow", file=sys.stderr)
    finally:
        while svp._RUNNING:
            svp._RUNNING.pop().stop()
    meta["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["elapsed_s"] = round(time.monotonic() - started, 1)
    text = [f"# oip_batching_vs_peers {meta['date']} ({args.model})", "", f"Command: `{meta['command']}`  ",
            (f"Machine: {meta['cpus']} CPUs, load average {meta['loadavg_start']} -> {meta['loadavg_end']}; "
             f"wrk {args.duration:g} s per point, {args.rounds} round(s) (median).")]
    saved = {}
    for title, names, _workers, goals in plan:
        summary = [svp.combine([m for m in results[title] if m.server == n]) for n in names
                   if any(m.server == n for m in results[title])]
        met = goals({r["server"]: r for r in summary}, args.concurrency)
        text.append(_section(title, summary, args.concurrency, met))
        saved[title] = {"summary": summary, "goals": [{"goal": g, "measured": v, "met": m} for g, v, m in met]}
    print("\n".join(text))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "parts": saved}, indent=2))
    print(f"\n(JSON in {args.json}; server logs in {RESULTS / 'logs'}; took {meta['elapsed_s']:.0f} s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
