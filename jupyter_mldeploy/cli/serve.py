"""``mldeploy serve``: run the scoring server for an entry script in the foreground.

Examples
--------
::

    mldeploy serve --entry-script score.py --model-dir ./models --port 5001
    mldeploy serve --entry-script score.py --workers 2 --auth-key s3cret --reload
    mldeploy serve --entry_script score.py --model_dir ./models   # azmlinfsrv's spellings work too

Without ``--stay-up``, a script that fails to load or init() makes the server exit 1 after
logging the traceback (as azmlinfsrv does; a container then restarts).
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``serve`` command."""
    from ..scoring.options import add_arguments

    parser = subparsers.add_parser(
        "serve",
        help="run the scoring server for an entry script",
        description=(
            "Serve an Azure ML v1 entry script (init()/run()) over HTTP: GET / (liveness), GET /ready, "
            "POST|GET /score, GET /swagger.json, GET /metrics. Every option also reads the environment "
            "names shown. Stop with Ctrl-C."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the server until Ctrl-C/SIGTERM; returns the exit code."""
    from ..scoring.options import settings_from_args
    from ..scoring.supervisor import serve

    settings = settings_from_args(args)
    for warning in settings.exposure_warnings():
        print(f"mldeploy: warning: {warning}", file=sys.stderr)
    for note in settings.notes:
        print(f"mldeploy: note: {note}", file=sys.stderr)
    return serve(settings)
