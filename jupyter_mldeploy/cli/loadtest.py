"""``mldeploy loadtest``: send N requests at concurrency C to a local service and print the latencies.

Examples
--------
::

    mldeploy loadtest scale '{"data": [1, 2]}' -n 200 -c 8
    mldeploy loadtest scale @body.json --json
    mldeploy loadtest http://127.0.0.1:5001 -n 1000 -c 16 --png latency.png
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError

#: NAME|URL is a URL when it has a scheme or is HOST:PORT (service names have no colon).
_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|[^:/]+:\d+(/|$)|\[[0-9a-f:]+\]:\d+)", re.IGNORECASE)


def add_parser(subparsers: Any) -> None:
    """Add the ``loadtest`` command."""
    p = subparsers.add_parser(
        "loadtest",
        help="send N requests at concurrency C to a service and print p50/p95/p99 and errors",
        description=(
            "Load-test a local service's /score: N POSTs from C workers with keep-alive connections. "
            "Prints a table of latencies (p50/p95/p99), throughput and errors by status. "
            "Only loopback targets are allowed."
        ),
    )
    p.add_argument(
        "name", metavar="NAME|URL", help="a deployed service's name, or http://127.0.0.1:PORT"
    )
    p.add_argument(
        "data",
        nargs="?",
        default=None,
        metavar="JSON",
        help="the request body: JSON text, @FILE, or - for stdin "
        "(default: the service's swagger example)",
    )
    p.add_argument(
        "-n", "--requests", type=int, default=200, help="how many requests (default 200)"
    )
    p.add_argument(
        "-c", "--concurrency", type=int, default=8, help="requests in flight at once (default 8)"
    )
    p.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for each answer (default 30)"
    )
    p.add_argument(
        "--content-type", default=None, help="Content-Type of the body (default application/json)"
    )
    p.add_argument(
        "--auth-key", default=None, help="bearer key for a URL target (a service brings its own)"
    )
    p.add_argument(
        "--png", metavar="FILE", default=None, help="also write the latency histogram to FILE"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_loadtest)


def _read_data(data: str) -> str:
    if data == "-":
        return sys.stdin.read()
    if data.startswith("@"):
        path = Path(data[1:])
        if not path.is_file():
            raise InvalidArgumentError(
                f"cannot read {str(path)!r}: give @FILE with an existing file."
            )
        return path.read_text(encoding="utf-8")
    return data


def _loadtest(args: argparse.Namespace) -> int:
    from ..client.client import ScoringClient
    from ..client.loadtest import load_test, resolve_target, status_label, swagger_example

    target: Any = args.name
    if not _URL.match(args.name):
        from ..deploy.service import Webservice

        target = Webservice(args.name)
    if args.data is not None:
        body: Any = _read_data(args.data)
    else:
        base_url, key = resolve_target(target, args.auth_key)
        with ScoringClient(base_url, auth_key=key, timeout=args.timeout) as client:
            example = swagger_example(client.swagger())
        if example is None:
            raise InvalidArgumentError(
                "the service's swagger.json has no input example; give the body, e.g. "
                f"mldeploy loadtest {args.name} '{{\"data\": [1, 2]}}'"
            )
        body = example
    progress = None if args.json or not sys.stderr.isatty() else _progress
    result = load_test(
        target,
        body,
        requests=args.requests,
        concurrency=args.concurrency,
        timeout=args.timeout,
        on_progress=progress,
        auth_key=args.auth_key,
        content_type=args.content_type,
    )
    if progress is not None:
        print(file=sys.stderr)
    if args.png:
        Path(args.png).write_bytes(result.plot_png())
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result)
        for status, message in sorted(result.error_samples.items()):
            print(f"  {status_label(status)}: {message}")
        if args.png:
            print(f"histogram    {args.png}")
    return 0


def _progress(done: int, total: int) -> None:
    print(f"\r{done}/{total} requests", end="", file=sys.stderr, flush=True)
