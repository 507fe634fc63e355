"""``mldeploy doctor``: print what this machine offers and how to fix what is missing."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Add the ``doctor`` command."""
    parser = subparsers.add_parser(
        "doctor",
        help="check Docker, the base image, uv, ports and the registry",
        description="Check what this machine offers for deployments; for each missing part, print the fix.",
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the checks; exit 1 when a required part is missing, else 0."""
    from ..doctor import run_checks

    checks = run_checks()
    if args.json:
        print(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            mark = "ok " if c.ok else ("ERR" if c.required else "-- ")
            print(f"[{mark}] {c.name:<{width}}  {c.detail}")
            if not c.ok and c.fix:
                print(f"      {'':<{width}}  fix: {c.fix}")
        missing = [c for c in checks if not c.ok]
        if missing:
            print(f"\n{len(missing)} part(s) missing; deployments that need them will say so.")
        else:
            print("\nEverything is in place.")
    return 1 if any(c.required and not c.ok for c in checks) else 0
