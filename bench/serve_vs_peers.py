"""Benchmark our scoring server against its peers, on this machine, in one run.

The same Ridge model (``load_diabetes``), the same two-row payload and the same
Azure ML v1 entry script, served by:

* ``ours``        ``mldeploy serve`` (the project's ``.venv``),
* ``azmlinfsrv``  ``azureml-inference-server-http`` (gunicorn + Flask),
* ``mlflow``      ``mlflow models serve --env-manager local``,
* ``starlette``   a bare Starlette + uvicorn app with the same predict (the ceiling).

For each server and each worker count: cold start (process start to the first
200 on a real scoring request), a check that the prediction is the expected one,
a warm-up, then ``wrk`` at each concurrency (requests/s, p50, p99, errors), and
memory (PSS of every process of the server / workers). Prints one Markdown table
per worker count and the project's goals as met / NOT met, and writes JSON to
``bench/results/serve_vs_peers.json``.

Prepare once with ``bench/setup_peers.sh``, then::

    .venv/bin/python bench/serve_vs_peers.py            # full run (~9-10 minutes)
    .venv/bin/python bench/serve_vs_peers.py --quick    # ~2-3 minutes
    .venv/bin/python bench/serve_vs_peers.py --rounds 3 --servers ours,starlette

Numbers are only comparable within one run: the machine is shared and noisy.
All traffic goes to 127.0.0.1; every loop is bounded in count and time; every
server process (and its children) is stopped on exit, errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PEERS = BENCH / "peers"
VENVS = BENCH / ".venvs"
MODEL = VENVS / "model"
RESULTS = BENCH / "results"
HOST = "127.0.0.1"

ALL_SERVERS = ("ours", "azmlinfsrv", "mlflow", "starlette", "starlette-nolog")
COLD_START_LIMIT_S = 180.0  # a server not answering 200 by then is reported as failed
ERROR_ANSWERS_LIMIT_S = 30.0  # only error answers for this long: the server is broken
STOP_LIMIT_S = 15.0


# --- servers -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server and talk to it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    path: str  # the scoring route
    body: bytes  # the scoring request body
    predictions_key: str | None = None  # answer is {key: [...]} instead of [...]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def ours_argv(port: int, workers: int) -> list[str]:
    """Our server's command line (``python -m jupyter_mldeploy.scoring``, what ``mldeploy serve`` runs)."""
    return [
        str(ROOT / ".venv" / "bin" / "python"),
        "-m",
        "jupyter_mldeploy.scoring",
        "--entry-script",
        str(PEERS / "score.py"),
        "--model-dir",
        str(MODEL / "joblib"),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def build_spec(name: str, port: int, workers: int, rows: list[list[float]], tmp: Path) -> ServerSpec:
    """Return the :class:`ServerSpec` of server ``name`` on ``port`` with ``workers``."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    venv_bin = VENVS / name / "bin" if name in ("azmlinfsrv", "mlflow") else ROOT / ".venv" / "bin"
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"  # as if the venv were activated
    env["AZUREML_MODEL_DIR"] = str(MODEL / "joblib")
    env["PYTHONUNBUFFERED"] = "1"
    data_body = json.dumps({"data": rows}).encode()
    if name == "ours":
        env["MLDEPLOY_HOME"] = str(tmp / "mldeploy-home")
        env["PYTHONPATH"] = str(ROOT)  # this checkout's server, not whichever copy the venv installed
        return ServerSpec(name, ours_argv(port, workers), env, PEERS, "/score", data_body)
    if name == "azmlinfsrv":
        argv = [
            str(VENVS / "azmlinfsrv" / "bin" / "azmlinfsrv"),
            "--entry_script",
            str(PEERS / "score.py"),
            "--model_dir",
            str(MODEL / "joblib"),
            "--port",
            str(port),
            "--worker_count",
            str(workers),
        ]
        env["WORKER_COUNT"] = str(workers)
        return ServerSpec(name, argv, env, PEERS, "/score", data_body)
    if name == "mlflow":
        argv = [
            str(VENVS / "mlflow" / "bin" / "mlflow"),
            "models",
            "serve",
            "-m",
            str(MODEL / "mlflow"),
            "--env-manager",
            "local",
            "-h",
            HOST,
            "-p",
            str(port),
            "-w",
            str(workers),
        ]
        env["MLFLOW_TRACKING_URI"] = (tmp / "mlruns").as_uri()
        body = json.dumps({"inputs": rows}).encode()
        return ServerSpec(name, argv, env, tmp, "/invocations", body, "predictions")
    if name in ("starlette", "starlette-nolog"):
        argv = [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "uvicorn",
            "starlette_app:app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        if name == "starlette-nolog":
            argv.append("--no-access-log")
        return ServerSpec(name, argv, env, PEERS, "/score", data_body)
    raise SystemExit(f"unknown server {name!r}: choose from {', '.join(ALL_SERVERS)}")


# --- processes -------------------------------------------------------------------------


def session_pids(sid: int) -> list[int]:
    """Every live process whose session id is ``sid`` (the server and all its children)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        # fields[0] is state (field 3); session is field 6 -> index 3
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(sid: int) -> float:
    """User + system CPU seconds used so far by the live processes of session ``sid``."""
    total = 0
    for pid in session_pids(sid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / _TICKS


def pss_mb(pids: list[int]) -> float:
    """The summed proportional set size (PSS) of ``pids``, in MB."""
    total_kb = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        match = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
        if match:
            total_kb += int(match.group(1))
    return total_kb / 1024


class Running:
    """A server started in its own session, so that it and all its children can be stopped."""

    def __init__(self, spec: ServerSpec, port: int, log_path: Path) -> None:
        self.spec = spec
        self.port = port
        self.log_path = log_path
        self._log = log_path.open("wb")
        self._stopped = False
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            env=spec.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pids(self) -> list[int]:
        return session_pids(self.proc.pid)

    def stop_now(self) -> None:
        """Stop a server that failed (the context manager's later stop() is then a no-op)."""
        self.stop()

    def stop(self) -> list[int]:
        """Stop every process of the server; return the pids that had to be killed."""
        if self._stopped:
            return []
        self._stopped = True
        sid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_LIMIT_S
        while time.monotonic() < deadline:
            self.proc.poll()
            if not session_pids(sid):
                break
            time.sleep(0.05)
        killed = session_pids(sid)
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._log.close()
        left = session_pids(sid)
        if left:
            raise SystemExit(f"{self.spec.name}: processes {left} survived SIGKILL: stop them by hand")
        return killed

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


_RUNNING: list[Running] = []


@contextlib.contextmanager
def serve(spec: ServerSpec, port: int, log_path: Path) -> Iterator[Running]:
    """Start ``spec``, yield it, and always stop it (errors and Ctrl-C included)."""
    running = Running(spec, port, log_path)
    _RUNNING.append(running)
    try:
        yield running
    finally:
        killed = running.stop()
        if running in _RUNNING:
            _RUNNING.remove(running)
        if killed:
            print(f"    ({spec.name}: {len(killed)} process(es) needed SIGKILL)", file=sys.stderr)


def post(port: int, path: str, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """POST ``body`` to 127.0.0.1:``port`` ``path``; return (status, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def cold_start(running: Running) -> float:
    """Seconds from process start to the first 200 on a real scoring request.

    Polls every 10 ms, for at most ``COLD_START_LIMIT_S``; gives up sooner when the
    server has answered only errors (e.g. 503 after a failed ``init()``) for
    ``ERROR_ANSWERS_LIMIT_S``.
    """
    spec = running.spec
    deadline = running.started + COLD_START_LIMIT_S
    first_error: float | None = None
    while time.perf_counter() < deadline:
        if running.proc.poll() is not None:
            raise RuntimeError(f"{spec.name} exited with {running.proc.returncode}:\n{running.log_tail()}")
        try:
            status, raw = post(running.port, spec.path, spec.body, timeout=5.0)
        except (ConnectionError, OSError, http.client.HTTPException):
            time.sleep(0.01)
            continue
        if status == 200:
            return time.perf_counter() - running.started
        first_error = first_error or time.perf_counter()
        if time.perf_counter() - first_error > ERROR_ANSWERS_LIMIT_S:
            raise RuntimeError(
                f"{spec.name} answered only {status} for {ERROR_ANSWERS_LIMIT_S:.0f} s: {raw[:300]!r}\n"
                f"{running.log_tail()}"
            )
        time.sleep(0.01)
    raise RuntimeError(f"{spec.name}: no 200 within {COLD_START_LIMIT_S:.0f} s:\n{running.log_tail()}")


def check_prediction(running: Running, expected: list[float]) -> None:
    """Fail unless the server answers the expected prediction."""
    spec = running.spec
    status, raw = post(running.port, spec.path, spec.body)
    answer = json.loads(raw)
    if spec.predictions_key:
        answer = answer[spec.predictions_key]
    if isinstance(answer, str):  # some servers double-encode
        answer = json.loads(answer)
    ok = status == 200 and len(answer) == len(expected)
    ok = ok and all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(answer, expected))
    if not ok:
        raise RuntimeError(f"{spec.name} answered {status} {raw[:300]!r}, expected {expected}")


# --- wrk -------------------------------------------------------------------------------


@dataclass
class Load:
    """One wrk run."""

    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors (connect/read/write/timeout) + non-2xx/3xx responses
    error_detail: str = ""
    cpu_ms_per_request: float | None = None  # server CPU (all its processes) / requests


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str, concurrency: int) -> Load:
    """Read requests/s, p50, p99 and errors from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors, detail = 0, []
    sock = re.search(r"Socket errors: (.*)", output)
    if sock:
        errors += sum(int(n) for n in re.findall(r"\d+", sock.group(1)))
        detail.append(f"socket {sock.group(1)}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
        detail.append(f"non-2xx {non2xx.group(1)}")
    return Load(concurrency, rps, p50, p99, requests, errors, "; ".join(detail))


def write_lua(spec: ServerSpec, tmp: Path) -> Path:
    """A wrk script that POSTs the server's payload as JSON."""
    path = tmp / f"{spec.name}.lua"
    body = spec.body.decode()
    if "]==]" in body:
        raise ValueError("payload contains ']==]': cannot quote it for wrk")
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{body}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


def run_wrk(url: str, concurrency: int, seconds: float, lua: Path | None) -> Load:
    """Run wrk against ``url`` (threads = min(c, 2)) and parse it."""
    argv = ["wrk", f"-t{min(concurrency, 2)}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
            "--timeout", "5s", "--latency"]
    if lua is not None:
        argv += ["-s", str(lua)]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    return parse_wrk(out.stdout, concurrency)


# --- one measurement -------------------------------------------------------------------


@dataclass
class Measurement:
    """Everything measured for one server at one worker count in one round."""

    server: str
    workers: int
    cold_start_s: float | None = None
    mb_per_worker: float | None = None
    mb_total: float | None = None
    processes: int | None = None
    loads: list[Load] = field(default_factory=list)
    health_rps: float | None = None
    failure: str | None = None


def _fail(result: Measurement, err: BaseException) -> None:
    result.failure = f"{type(err).__name__}: {err}"
    print(f"  !! {result.server} w={result.workers}: {result.failure.splitlines()[0]}", file=sys.stderr)


_MEASURE_ERRORS = (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, AttributeError, KeyError)


def measure_all(
    names: list[str], workers: int, args: argparse.Namespace, payload: dict, tmp: Path,
    build: Callable[..., ServerSpec] | None = None, check: Callable[[Running, list[float]], None] | None = None,
) -> list[Measurement]:
    """Measure every server in ``names`` with ``workers`` workers, interleaved.

    The servers are started one after the other (each cold start measured while
    the others sit idle), checked and warmed up; then each load point is run for
    every server in turn, so that the machine's noise spreads over all of them.
    Every server is stopped at the end, whatever happens. ``build`` and ``check``
    replace :func:`build_spec` and :func:`check_prediction` (other benchmarks' servers).
    """
    build = build or build_spec
    check = check or check_prediction
    results = {name: Measurement(name, workers) for name in names}
    live: dict[str, tuple[Running, Path, str]] = {}
    with contextlib.ExitStack() as stack:
        for name in names:
            port = free_port()
            spec = build(name, port, workers, payload["rows"], tmp)
            log_path = RESULTS / "logs" / f"{name}-w{workers}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            running = stack.enter_context(serve(spec, port, log_path))
            try:
                results[name].cold_start_s = cold_start(running)
                check(running, payload["expected"])
                if args.cold_only:
                    running.stop_now()
                    print(f"  w={workers} {name:<10} cold start {results[name].cold_start_s:.2f} s",
                          file=sys.stderr)
                    continue
                lua = write_lua(spec, tmp)
                url = f"http://{HOST}:{port}{spec.path}"
                run_wrk(url, max(8, 4 * workers), args.warmup, lua)
            except _MEASURE_ERRORS as err:
                _fail(results[name], err)
                running.stop_now()
                continue
            live[name] = (running, lua, url)
            print(f"  w={workers} {name:<10} cold start {results[name].cold_start_s:.2f} s", file=sys.stderr)
        for conc in args.concurrency:
            for name, (running, lua, url) in list(live.items()):
                try:
                    cpu_before = cpu_seconds(running.proc.pid)
                    load = run_wrk(url, conc, args.duration, lua)
                    if running.proc.poll() is not None:
                        raise RuntimeError(
                            f"{name} exited ({running.proc.returncode}) during the c={conc} point "
                            f"({load.errors} errors):\n{running.log_tail()}"
                        )
                    cpu_used = cpu_seconds(running.proc.pid) - cpu_before
                    if cpu_used > 0:  # negative: a process ended meanwhile; 0: its workers run in other sessions
                        load.cpu_ms_per_request = 1000 * cpu_used / max(load.requests, 1)
                except _MEASURE_ERRORS as err:
                    _fail(results[name], err)
                    del live[name]
                    continue
                results[name].loads.append(load)
                err_note = f" ERRORS {load.errors} ({load.error_detail})" if load.errors else ""
                print(f"  w={workers} {name:<10} c={conc:<3} {load.rps:7.0f} req/s "
                      f"p50 {load.p50_ms:6.2f} ms p99 {load.p99_ms:7.2f} ms "
                      f"cpu {_fmt(load.cpu_ms_per_request, '.3f')} ms/req{err_note}", file=sys.stderr)
        for name, (running, _lua, _url) in live.items():
            pids = running.pids()
            results[name].processes = len(pids)
            results[name].mb_total = pss_mb(pids)
            results[name].mb_per_worker = results[name].mb_total / workers
        if args.health:
            for name, (running, _lua, _url) in list(live.items()):
                try:
                    results[name].health_rps = run_wrk(f"http://{HOST}:{running.port}/", 8, args.duration, None).rps
                except _MEASURE_ERRORS as err:
                    print(f"  !! {name}: GET / failed: {err}", file=sys.stderr)
    return [results[name] for name in names]


# --- summary -------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    real = [v for v in values if v is not None]
    return statistics.median(real) if real else None


def combine(rounds: list[Measurement]) -> dict:
    """The median over rounds of one server at one worker count (errors summed)."""
    first = rounds[0]
    ok = [m for m in rounds if m.failure is None]
    out: dict = {
        "server": first.server,
        "workers": first.workers,
        "rounds": len(rounds),
        "failed_rounds": len(rounds) - len(ok),
        "failures": [m.failure for m in rounds if m.failure],
        "cold_start_s": _median([m.cold_start_s for m in ok]),
        "mb_per_worker": _median([m.mb_per_worker for m in ok]),
        "mb_total": _median([m.mb_total for m in ok]),
        "processes": _median([m.processes for m in ok]),
        "health_rps": _median([m.health_rps for m in ok]),
        "loads": {},
    }
    concs = sorted({ld.concurrency for m in ok for ld in m.loads})
    for conc in concs:
        loads = [ld for m in ok for ld in m.loads if ld.concurrency == conc]
        out["loads"][str(conc)] = {
            "rps": _median([ld.rps for ld in loads]),
            "p50_ms": _median([ld.p50_ms for ld in loads]),
            "p99_ms": _median([ld.p99_ms for ld in loads]),
            "cpu_ms_per_request": _median([ld.cpu_ms_per_request for ld in loads]),
            "requests": sum(ld.requests for ld in loads),
            "errors": sum(ld.errors for ld in loads),
            "error_detail": [ld.error_detail for ld in loads if ld.errors],
            "per_round_rps": [round(ld.rps, 1) for ld in loads],
        }
    return out


def _fmt(value: float | None, spec: str = ".0f") -> str:
    return "n/a" if value is None else format(value, spec)


def _x(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def _lat(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def table(rows: list[dict], concs: list[int], health: bool) -> str:
    """A Markdown table of one worker count."""
    head = ["server"] + [f"req/s c={c}" for c in concs] + [f"p50/p99 ms c={c}" for c in concs]
    cpu_c = 8 if 8 in concs else concs[-1]
    head += [f"CPU ms/req c={cpu_c}", "cold start s", "MB/worker", "errors"]
    head += ["GET / req/s c=8"] if health else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        loads = row["loads"]
        cells = [row["server"]]
        cells += [_fmt(loads.get(str(c), {}).get("rps")) for c in concs]
        cells += [
            f"{_lat(loads.get(str(c), {}).get('p50_ms'))} / {_lat(loads.get(str(c), {}).get('p99_ms'))}"
            for c in concs
        ]
        errors = sum(ld["errors"] for ld in loads.values())
        err_cell = str(errors) if errors else "0"
        if row["failed_rounds"]:
            err_cell += f" (FAILED {row['failed_rounds']}/{row['rounds']} rounds)"
        cells.append(_fmt(loads.get(str(cpu_c), {}).get("cpu_ms_per_request"), ".3f"))
        cells += [_fmt(row["cold_start_s"], ".2f"), _fmt(row["mb_per_worker"], ".0f"), err_cell]
        if health:
            cells.append(_fmt(row["health_rps"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(rows: dict[str, dict], concs: list[int]) -> list[tuple[str, str, bool | None]]:
    """The project's goals for one worker count as (goal, measured, met)."""
    out: list[tuple[str, str, bool | None]] = []
    ours = rows.get("ours")

    def rps(name: str, c: int) -> float | None:
        row = rows.get(name)
        return None if row is None else row["loads"].get(str(c), {}).get("rps")

    def p99(name: str, c: int) -> float | None:
        row = rows.get(name)
        return None if row is None else row["loads"].get(str(c), {}).get("p99_ms")

    def cpu(name: str, c: int) -> float | None:
        row = rows.get(name)
        return None if row is None else row["loads"].get(str(c), {}).get("cpu_ms_per_request")

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b == 0 else a / b

    if ours is None:
        return out
    c8 = 8 if 8 in concs else concs[len(concs) // 2]
    r = ratio(rps("ours", c8), rps("azmlinfsrv", c8))
    out.append((f"req/s c={c8}: ours >= 2x azmlinfsrv", _x(r), None if r is None else r >= 2))
    for c in concs:
        r = ratio(rps("ours", c), rps("mlflow", c))
        out.append((f"req/s c={c}: ours ahead of MLflow", _x(r), None if r is None else r > 1))
    for c in concs:
        r = ratio(rps("ours", c), rps("starlette", c))
        out.append((f"req/s c={c}: ours within 20% of bare Starlette",
                    _x(r), None if r is None else r >= 0.8))
    cmax = max(concs)
    a, b = p99("ours", cmax), p99("azmlinfsrv", cmax)
    out.append((f"p99 c={cmax}: ours below azmlinfsrv", f"{_lat(a)} ms vs {_lat(b)} ms",
                None if a is None or b is None else a < b))
    a = ours["cold_start_s"]
    b = rows["azmlinfsrv"]["cold_start_s"] if "azmlinfsrv" in rows else None
    out.append(("cold start: ours no slower than azmlinfsrv", f"{_fmt(a, '.2f')} s vs {_fmt(b, '.2f')} s",
                None if a is None or b is None else a <= b))
    errs = sum(ld["errors"] for ld in ours["loads"].values())
    out.append(("ours: no errors under load", str(errs), errs == 0 and not ours["failed_rounds"]))
    cpu_c = 8 if 8 in concs else concs[-1]
    for peer in ("azmlinfsrv", "mlflow", "starlette", "starlette-nolog"):
        r = ratio(cpu("ours", cpu_c), cpu(peer, cpu_c))
        if r is not None:
            out.append((f"(info, not a goal) server CPU per request c={cpu_c}: ours / {peer}",
                        f"{r:.2f}x ({_fmt(cpu('ours', cpu_c), '.3f')} vs {_fmt(cpu(peer, cpu_c), '.3f')} ms)",
                        None))
    if "starlette-nolog" in rows:
        for c in concs:
            r = ratio(rps("ours", c), rps("starlette-nolog", c))
            out.append((f"(info, not a goal) req/s c={c}: ours / Starlette without access log",
                        _x(r), None))
    return out


def report(summary: list[dict], args: argparse.Namespace, meta: dict) -> str:
    """The whole Markdown report."""
    parts = [
        f"# serve_vs_peers {meta['date']}",
        "",
        f"Command: `{meta['command']}`  ",
        (
            f"Machine: {meta['cpus']} CPUs, load average at start {meta['loadavg_start']}, "
            f"at end {meta['loadavg_end']}; wrk {args.duration:g} s per point, "
            f"{args.rounds} round(s) (median).  "
        ),
        "Numbers are only comparable within one run: the machine is shared and noisy.",
    ]
    for workers in args.workers:
        rows = [r for r in summary if r["workers"] == workers]
        parts += ["", f"## {workers} worker(s)", "", table(rows, args.concurrency, args.health), ""]
        by_name = {r["server"]: r for r in rows}
        for goal, measured, met in goals(by_name, args.concurrency):
            if goal.startswith("(info"):
                parts.append(f"- {goal}: {measured}")
                continue
            mark = "n/a" if met is None else ("met" if met else "NOT met")
            parts.append(f"- {goal}: {measured} -> **{mark}**")
        for row in rows:
            for failure in row["failures"]:
                parts.append(f"- FAILED {row['server']}: {failure.splitlines()[0]}")
            for c, ld in row["loads"].items():
                if ld["errors"]:
                    parts.append(f"- ERRORS {row['server']} c={c}: {ld['errors']} ({'; '.join(ld['error_detail'])})")
    return "\n".join(parts)


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=",".join(ALL_SERVERS), help="comma-separated subset")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--concurrency", default="1,8,64", help="wrk connections, comma-separated")
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk point (10; quick 2)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds (3; quick 1)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat everything N times, report medians")
    parser.add_argument("--quick", action="store_true", help="short points: the whole run in ~2 minutes")
    parser.add_argument("--health", action="store_true", help="also measure plain GET / at c=8")
    parser.add_argument("--cold-only", action="store_true",
                        help="measure only cold start and memory-free checks (use with --rounds 5)")
    parser.add_argument("--json", type=Path, default=RESULTS / "serve_vs_peers.json")
    parser.add_argument("--report-from", type=Path, metavar="JSON",
                        help="print the report of a saved run again (no servers started)")
    args = parser.parse_args(argv)
    args.servers = [s for s in args.servers.split(",") if s]
    for name in args.servers:
        if name not in ALL_SERVERS:
            parser.error(f"unknown server {name!r}: choose from {', '.join(ALL_SERVERS)}")
    args.workers = [int(w) for w in args.workers.split(",")]
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.duration = args.duration or (2.0 if args.quick else 10.0)
    args.warmup = args.warmup or (1.0 if args.quick else 3.0)
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    return args


def preflight(servers: list[str]) -> dict:
    """Check that setup_peers.sh has run; return the payload."""
    missing = []
    if subprocess.run(["which", "wrk"], capture_output=True, check=False).returncode != 0:
        missing.append("wrk")
    needs = {
        "azmlinfsrv": VENVS / "azmlinfsrv" / "bin" / "azmlinfsrv",
        "mlflow": VENVS / "mlflow" / "bin" / "mlflow",
        "ours": ROOT / "jupyter_mldeploy" / "scoring" / "__main__.py",
    }
    missing += [str(p) for name, p in needs.items() if name in servers and not p.exists()]
    if not (MODEL / "payload.json").exists():
        missing.append(str(MODEL / "payload.json"))
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: run bench/setup_peers.sh first")
    return json.loads((MODEL / "payload.json").read_text())


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_from:
        saved = json.loads(args.report_from.read_text())
        saved_args = parse_args(shlex.split(saved["meta"]["command"])[2:])
        print(report(saved["summary"], saved_args, saved["meta"]))
        return 0
    payload = preflight(args.servers)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([".venv/bin/python", "bench/serve_vs_peers.py", *(argv or sys.argv[1:])]),
        "cpus": os.cpu_count(),
        "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    results: list[Measurement] = []
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="serve_vs_peers-") as tmpdir:
            tmp = Path(tmpdir)
            for rnd in range(args.rounds):
                shift = rnd % len(args.servers)
                order = args.servers[shift:] + args.servers[:shift]
                for workers in args.workers:
                    print(f"round {rnd + 1}/{args.rounds}, {workers} worker(s): {', '.join(order)}",
                          file=sys.stderr)
                    results += measure_all(order, workers, args, payload, tmp)
    except KeyboardInterrupt:
        print("interrupted: servers stopped; partial results follow", file=sys.stderr)
    finally:
        while _RUNNING:
            _RUNNING.pop().stop()
    meta["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["elapsed_s"] = round(time.monotonic() - started, 1)
    summary = []
    for workers in args.workers:
        for name in args.servers:
            rounds = [m for m in results if m.server == name and m.workers == workers]
            if rounds:
                summary.append(combine(rounds))
    text = report(summary, args, meta)
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    goals_json = {
        str(w): [
            {"goal": g, "measured": v, "met": met}
            for g, v, met in goals({r["server"]: r for r in summary if r["workers"] == w}, args.concurrency)
        ]
        for w in args.workers
    }
    args.json.write_text(json.dumps(
        {"meta": meta, "summary": summary, "goals": goals_json, "raw": [asdict(m) for m in results]},
        indent=2,
    ))
    print(f"\n(JSON in {args.json}; server logs in {RESULTS / 'logs'}; took {meta['elapsed_s']:.0f} s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
