"""``mldeploy env ...``: build, register, list and show environments, and download wheelhouses.

A thin layer over :class:`jupyter_mldeploy.environment.Environment`. ``SOURCE``
is a requirements file (``*.txt``), a conda file (``*.yml``/``*.yaml``), a
folder written by ``save_to_directory``, or a registered ``NAME[:VERSION]``.

Examples
--------
$ mldeploy env build requirements.txt
$ mldeploy env register environment.yml --name sklearn-env
$ mldeploy env list
$ mldeploy env show sklearn-env:1
$ mldeploy env wheels sklearn-env ./wheels --python 3.11 --platform linux/amd64
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError


def add_parser(subparsers: Any) -> None:
    """Add the ``env`` command group (alias ``environments``) to the ``mldeploy`` parser."""
    parser = subparsers.add_parser(
        "env",
        aliases=["environments"],
        help="build, register, list and show environments; download wheelhouses",
        description="Manage environments: local virtualenv builds and offline wheelhouses.",
    )
    sub = parser.add_subparsers(dest="env_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("build", help="build (or reuse) the local virtualenv of an environment")
    p.add_argument("source", metavar="SOURCE", help="requirements.txt, conda .yml, saved folder or NAME[:VERSION]")
    p.add_argument("--name", default=None, help="environment name for files (default: the file's stem)")
    p.add_argument("--quiet", "-q", action="store_true", help="do not stream the installer's output")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_build)

    p = sub.add_parser("register", help="register an environment from a file as a new version")
    p.add_argument("source", metavar="SOURCE", help="requirements.txt, conda .yml or saved folder")
    p.add_argument("--name", required=True, help="environment name (versions count up per name)")
    p.set_defaults(func=_register)

    p = sub.add_parser("list", help="list registered environments (latest version of each)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_list)

    p = sub.add_parser("show", help="show an environment's definition and pip requirements")
    p.add_argument("source", metavar="SOURCE", help="NAME[:VERSION] or a file")
    p.set_defaults(func=_show)

    p = sub.add_parser("builds", help="list the local virtualenv builds, most recently used first")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_builds)

    p = sub.add_parser("prune", help="delete local builds and Docker environment trees unused for some days "
                                     "and named by no service (rebuilt on demand)")
    p.add_argument("--older-than-days", type=float, default=30.0, metavar="DAYS",
                   help="remove builds not used for this many days (default 30; 0 removes all)")
    p.set_defaults(func=_prune)

    p = sub.add_parser("wheels", help="download every wheel for a target Python/platform (offline installs)")
    p.add_argument("source", metavar="SOURCE", help="requirements.txt, conda .yml, saved folder or NAME[:VERSION]")
    p.add_argument("dest", metavar="DEST", help="folder for the wheels and requirements.txt")
    p.add_argument("--python", default=None, metavar="X.Y", help="target Python (default: the environment's, else 3.11)")
    p.add_argument("--platform", default="linux/amd64", help="linux/amd64, linux/arm64 or a manylinux tag")
    p.add_argument("--no-runtime", action="store_true", help="leave the jupyter-mldeploy wheel out")
    p.add_argument("--quiet", "-q", action="store_true", help="do not stream progress")
    p.set_defaults(func=_wheels)


def load_environment(source: str, name: str | None = None) -> Any:
    """Return the Environment that ``source`` names (file, folder or registered NAME[:VERSION])."""
    from ..environment import Environment

    path = Path(source).expanduser()
    stem = name or (path.stem.replace(" ", "-") or "environment")
    if path.is_dir():
        return Environment.load_from_directory(path)
    if path.suffix in {".yml", ".yaml"}:
        return Environment.from_conda_specification(stem, path)
    if path.suffix == ".txt" or path.is_file():
        return Environment.from_pip_requirements(stem, path)
    env_name, _, version = source.partition(":")
    if version and not version.isdigit():
        raise InvalidArgumentError(f"{source!r}: the version after ':' must be a number, e.g. 'my-env:2'.")
    return Environment.get(env_name, version=int(version) if version else None)


def _log(quiet: bool) -> Any:
    return None if quiet else (lambda line: print(line, file=sys.stderr, flush=True))


def _build(args: argparse.Namespace) -> int:
    env = load_environment(args.source, args.name)
    build = env.build_local(log=_log(args.quiet))
    result = {
        "path": str(build.path),
        "python": str(build.python),
        "python_version": build.python_version,
        "spec_hash": build.spec_hash,
        "reused": build.reused,
        "seconds": round(build.seconds, 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        state = "reused" if build.reused else "built"
        print(f"{state} {build.path} in {build.seconds:.2f} s")
        print(f"python: {build.python} ({build.python_version})")
    return 0


def _register(args: argparse.Namespace) -> int:
    env = load_environment(args.source, args.name)
    env.name = args.name
    env.register()
    print(f"{env.name}:{env.version}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ..environment import Environment

    rows = []
    for env in Environment.list().values():
        deps = env.python.conda_dependencies
        rows.append({
            "name": env.name,
            "version": env.version,
            "python": deps.get_python_version(),
            "packages": len(deps.conda_packages) + len(deps.pip_packages),
            "spec_hash": env.spec_hash[:12],
            "created": env.created_time,
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no registered environments (register one with `mldeploy env register FILE --name NAME`)")
        return 0
    header = ("NAME", "VERSION", "PYTHON", "PACKAGES", "SPEC HASH")
    table: list[tuple[str, ...]] = [header]
    table += [(str(r["name"]), str(r["version"]), str(r["python"]), str(r["packages"]), str(r["spec_hash"])) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _show(args: argparse.Namespace) -> int:
    env = load_environment(args.source)
    data = env.to_dict()
    spec = env.spec
    data["spec_hash"] = spec.spec_hash
    data["pip_requirements"] = list(spec.requirements)
    data["notes"] = list(spec.notes)
    print(json.dumps(data, indent=2))
    return 0


def _wheels(args: argparse.Namespace) -> int:
    env = load_environment(args.source)
    house = env.download_wheels(
        args.dest, python_version=args.python, platform=args.platform,
        include_runtime_wheel=not args.no_runtime, log=_log(args.quiet),
    )
    print(f"{len(house.wheels)} wheels for Python {house.python_version} on {house.platform} in {house.path} "
          f"({house.seconds:.2f} s)")
    print(f"install offline: pip install --no-index --find-links {house.path} -r {house.requirements_file}")
    return 0


def _builds(args: argparse.Namespace) -> int:
    import time

    from ..environment.local_build import list_builds

    builds = list_builds()
    if args.json:
        print(json.dumps([
            {"path": str(b.path), "spec_hash": b.spec_hash, "python_version": b.python_version,
             "built_at": b.built_at, "last_used": b.last_used, "size_bytes": b.size_bytes}
            for b in builds
        ], indent=2))
        return 0
    if not builds:
        print("no local builds (build one with `mldeploy env build FILE`)")
        return 0
    now = time.time()
    for b in builds:
        days = (now - b.last_used) / 86400
        print(f"{b.path}  python {b.python_version}  {b.size_bytes / 1e6:.0f} MB  "
              f"spec {b.spec_hash[:12]}  used {days:.1f} days ago")
    return 0


def _prune(args: argparse.Namespace) -> int:
    from ..deploy.prune import prune_environments

    report = prune_environments(args.older_than_days)
    for path in (*report.builds, *report.trees):
        print(f"removed {path}")
    print(f"{len(report.builds)} build(s) and {len(report.trees)} Docker environment tree(s) removed; "
          f"{report.in_use} kept because services use them")
    return 0
