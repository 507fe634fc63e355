"""The ``mldeploy`` command line: a thin layer over the Python API.

Each command group lives in its own module exposing ``add_parser(subparsers)``;
the parser's ``func(args) -> int`` does the work by calling the API and
printing the result. Errors are one line on stderr and a non-zero exit code,
never a traceback (set ``MLDEPLOY_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ..errors import MLDeployError

#: Modules under jupyter_mldeploy.cli that contribute commands, in help order.
COMMAND_MODULES: tuple[str, ...] = ("models", "environments", "serve", "deploy", "captured", "k8s", "loadtest", "doctor")

EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """Build the ``mldeploy`` argument parser with every command group."""
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="mldeploy",
        description="Deploy models trained in a notebook as local web services.",
    )
    parser.add_argument("--version", action="version", version=f"mldeploy {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"{__name__}.{name}":
                continue  # command group not written yet
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mldeploy`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MLDeployError as err:
        print(f"mldeploy: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("mldeploy: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get("MLDEPLOY_DEBUG"):
            raise
        print(
            f"mldeploy: internal error: {type(err).__name__}: {err} "
            "(run again with MLDEPLOY_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
