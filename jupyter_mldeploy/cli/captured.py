"""``mldeploy captured NAME -n N`` and ``mldeploy collected NAME -n N``: what a service kept, as JSON lines.

Examples
--------
::

    mldeploy captured diabetes -n 5            # the last 5 requests and answers (collect_model_data=True)
    mldeploy collected diabetes -n 20          # the last 20 ModelDataCollector records
"""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``captured`` and ``collected`` commands."""
    for command, what in (("captured", "requests and answers a service captured (collect_model_data=True)"),
                          ("collected", "records a service's entry script gave ModelDataCollector.collect")):
        p = subparsers.add_parser(command, help=f"print the last {what}, one JSON object a line")
        p.add_argument("name", help="the service")
        p.add_argument("-n", type=int, default=10, help="how many, newest last (default 10)")
        p.set_defaults(func=_show, which=command)


def _show(args: argparse.Namespace) -> int:
    from ..deploy.service import Webservice

    service = Webservice(args.name)
    records = service.get_captured(args.n) if args.which == "captured" else service.get_collected(args.n)
    for record in records:
        print(json.dumps(record, ensure_ascii=False))
    return 0
