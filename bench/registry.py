"""Benchmark the model registry against ``cp -r`` of the same data, in the same run.

Scenarios (each on a fresh MLDEPLOY_HOME on the same filesystem as the data):

* ``small``: a folder of many small files (``--size-mb`` in total, ``--small-kb`` each);
* ``large``: a folder holding one large file of ``--size-mb``;
* for both: ``cp -r`` of the folder, ``cp -r`` followed by ``sync`` (the registry makes
  its bytes durable before a version becomes visible, ``cp`` does not), the first
  ``Model.register``, and re-registering the unchanged folder (no new bytes);
* ``Model.list()`` (and friends) over ``--versions`` versions.

Each timing is the median of ``--repeat`` runs. Run::

    .venv/bin/python bench/registry.py                # 1 GB data, 10,000 versions
    .venv/bin/python bench/registry.py --size-mb 200 --repeat 1   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def timed(fn: Callable[[], object]) -> float:
    os.sync()  # start every run with no dirty pages from the previous one
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(repeat: int, prepare: Callable[[], None], fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        prepare()
        times.append(timed(fn))
    return statistics.median(times)


def make_small_files(root: Path, total_mb: int, file_kb: int) -> int:
    root.mkdir(parents=True)
    count = max(1, total_mb * 1024 // file_kb)
    per_dir = 1000
    for i in range(count):
        folder = root / f"shard-{i // per_dir:03d}"
        if i % per_dir == 0:
            folder.mkdir()
        (folder / f"part-{i:06d}.bin").write_bytes(os.urandom(file_kb * 1024))
    return count


def make_large_file(root: Path, total_mb: int) -> int:
    root.mkdir(parents=True)
    block = os.urandom(1 << 20)
    with open(root / "weights.bin", "wb") as fh:
        for i in range(total_mb):
            # vary each MiB so the file does not compress or dedupe trivially
            fh.write(i.to_bytes(8, "little") + block[8:])
    return 1


def bench_copy_vs_register(label: str, data: Path, work: Path, repeat: int) -> dict[str, float]:
    from jupyter_mldeploy.registry import Registry

    dest = work / "cp-dest"
    homes = work / "homes"

    def clear_dest() -> None:
        if dest.exists():
            shutil.rmtree(dest)

    def cp() -> None:
        subprocess.run(["cp", "-r", str(data), str(dest)], check=True)

    def cp_sync() -> None:
        cp()
        os.sync()

    state: dict[str, Registry] = {}

    def fresh_home() -> None:
        if homes.exists():
            Registry_cleanup(homes)
        homes.mkdir()
        state["reg"] = Registry(homes / "home")

    def register() -> None:
        state["reg"].register(data, "bench")

    def noop() -> None:
        return None

    result = {
        "cp -r": median_of(repeat, clear_dest, cp),
        "cp -r + sync": median_of(repeat, clear_dest, cp_sync),
        "register": median_of(repeat, fresh_home, register),
    }
    # re-register the unchanged folder into the last home (all bytes stored already)
    result["re-register"] = median_of(repeat, noop, register)
    clear_dest()
    Registry_cleanup(homes)
    return result


def Registry_cleanup(homes: Path) -> None:  # noqa: N802 - helper name reads as what it cleans
    from jupyter_mldeploy.registry._storage import remove_tree

    remove_tree(homes)


def bench_list(work: Path, versions: int) -> dict[str, float]:
    from jupyter_mldeploy import Model
    from jupyter_mldeploy._sqlite import write_transaction
    from jupyter_mldeploy.registry import Registry, _db
    from jupyter_mldeploy.registry.records import ModelFile

    home = work / "list-home"
    reg = Registry(home)
    src = work / "tiny.pkl"
    src.write_bytes(b"tiny model")
    # a few hundred real registers (timed), then bulk-insert the rest through the same SQL layer
    real = min(500, versions)
    start = time.perf_counter()
    for i in range(real):
        reg.register(src, f"model-{i % 100:03d}", tags={"stage": "prod" if i % 10 == 0 else "dev"})
    per_register = (time.perf_counter() - start) / real
    template = reg.get("model-000", 1)
    files = [ModelFile(f.path, f.size, f.sha256) for f in template.files]
    with reg._read() as conn, write_transaction(conn):
        for i in range(real, versions):
            _db.insert_version(
                conn,
                name=f"model-{i % 100:03d}",
                kind=template.kind,
                description=None,
                tags={"stage": "prod" if i % 10 == 0 else "dev"},
                properties={},
                framework=None,
                framework_version=None,
                files=files,
            )

    def best(fn: Callable[[], object], n: int = 5) -> float:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    assert len(Model.list(registry=reg)) == versions
    out = {
        "register a tiny model (mean of 500 real registers)": per_register,
        f"Model.list() over {versions} versions": best(lambda: Model.list(registry=reg)),
        "Model.list(name=...)": best(lambda: Model.list(name="model-042", registry=reg)),
        "Model.list(tags=[['stage','prod']])": best(
            lambda: Model.list(tags=[["stage", "prod"]], registry=reg)
        ),
        "Model.list(latest=True)": best(lambda: Model.list(latest=True, registry=reg)),
        "Model(name) (latest)": best(lambda: Model("model-042", registry=reg), 50),
    }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size-mb", type=int, default=1024, help="data size per scenario (default 1024)"
    )
    parser.add_argument(
        "--small-kb", type=int, default=64, help="size of each small file (default 64)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per timing; the median is shown"
    )
    parser.add_argument(
        "--versions", type=int, default=10_000, help="versions for the list benchmark"
    )
    parser.add_argument(
        "--workdir", default=None, help="scratch folder (default: a temp dir under ~)"
    )
    parser.add_argument("--only", choices=["small", "large", "list"], action="append", default=None)
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    only = set(args.only or ["small", "large", "list"])

    base = Path(args.workdir) if args.workdir else Path.home()
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mldeploy-bench-registry-", dir=base))
    results: dict[str, dict[str, float]] = {}
    try:
        print(
            f"scratch: {work}  (cpu={os.cpu_count()}, python={sys.version.split()[0]}, "
            f"load average at start {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        for label in ("small", "large"):
            if label not in only:
                continue
            data = work / f"data-{label}"
            if label == "small":
                count = make_small_files(data, args.size_mb, args.small_kb)
                title = f"{args.size_mb} MiB in {count} files of {args.small_kb} KiB"
            else:
                make_large_file(data, args.size_mb)
                title = f"{args.size_mb} MiB in one file"
            res = bench_copy_vs_register(label, data, work, args.repeat)
            results[title] = res
            print(f"\n## {title}", flush=True)
            print(f"{'operation':<16} {'seconds':>8} {'vs cp -r':>9} {'vs cp -r + sync':>16}")
            for op, secs in res.items():
                print(
                    f"{op:<16} {secs:8.2f} {secs / res['cp -r']:8.2f}x {secs / res['cp -r + sync']:15.2f}x"
                )
            shutil.rmtree(data)
        if "list" in only:
            res = bench_list(work, args.versions)
            results["list"] = res
            print(f"\n## listing ({args.versions} versions, 100 names)")
            for op, secs in res.items():
                print(f"{op:<52} {secs * 1000:9.2f} ms")
        print(f"\nload average at end {os.getloadavg()[0]:.1f}")
        if args.json:
            print(json.dumps(results, indent=2))
    finally:
        Registry_cleanup(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
