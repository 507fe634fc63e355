"""``mldeploy deploy | services | logs | score | delete``: deployments from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError


def add_parser(subparsers: Any) -> None:
    """Add the deployment commands."""
    p = subparsers.add_parser(
        "deploy",
        help="deploy models and an entry script as a local web service",
        description="Deploy models with an entry script as a local web service and wait until it is ready.",
    )
    p.add_argument("name", help="service name")
    p.add_argument("--model", action="append", default=[], metavar="NAME[:VERSION]|PATH",
                   help="a registered model (latest version if none given) or a local path; repeat for several")
    p.add_argument("--entry-script", required=True, help="the entry script (init()/run())")
    p.add_argument("--source-dir", help="folder holding the entry script and its code (default: the script's folder)")
    p.add_argument("--env", metavar="FILE", help="requirements.txt or conda .yml for an isolated environment")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--target", choices=("process", "docker"), default="process", help="where to run it")
    p.add_argument("--auth", action="store_true", help="require a key on /score (printed once deployed)")
    p.add_argument("--overwrite", action="store_true", help="replace a service of the same name")
    p.add_argument("--quiet", action="store_true", help="do not show the deployment phases")
    p.set_defaults(func=_deploy)

    p = subparsers.add_parser("services", help="list deployed services with their state")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_services)

    p = subparsers.add_parser("logs", help="show a service's log")
    p.add_argument("name")
    p.add_argument("--tail", type=int, default=100, help="lines to show (default 100)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines (Ctrl-C stops)")
    p.set_defaults(func=_logs)

    p = subparsers.add_parser("score", help="send a request to a service and print the answer")
    p.add_argument("name")
    p.add_argument("data", nargs="?", default="-", help="JSON text, @FILE, or - for standard input (default)")
    p.set_defaults(func=_score)

    p = subparsers.add_parser("delete", help="stop and remove a service")
    p.add_argument("name")
    p.set_defaults(func=_delete)


def _deploy(args: argparse.Namespace) -> int:
    from .. import Environment, InferenceConfig
    from ..deploy.api import deploy
    from ..deploy.process import ProcessWebservice
    from ..registry.model import Model

    if args.target == "docker":
        raise InvalidArgumentError(
            "the Docker target is not available in this version yet; use --target process (the default)."
        )
    if not args.model:
        raise InvalidArgumentError("give at least one --model NAME[:VERSION] or --model PATH.")
    models: list[Any] = []
    for spec in args.model:
        if Path(spec).exists():
            models.append(spec)
        else:
            name, _, version = spec.partition(":")
            models.append(Model.get(name, int(version) if version else None))
    environment = None
    if args.env:
        env_file = Path(args.env)
        env_name = f"{args.name}-env"
        if env_file.suffix.lower() in (".yml", ".yaml"):
            environment = Environment.from_conda_specification(env_name, str(env_file))
        else:
            environment = Environment.from_pip_requirements(env_name, str(env_file))
    script = Path(args.entry_script)
    source_dir = args.source_dir or str(script.resolve().parent)
    entry = str(script.resolve().relative_to(Path(source_dir).resolve())) if args.source_dir is None else args.entry_script
    config = InferenceConfig(entry, source_directory=source_dir, environment=environment)
    service = deploy(
        args.name,
        models,
        config,
        ProcessWebservice.deploy_configuration(port=args.port, auth_enabled=args.auth),
        overwrite=args.overwrite,
    )
    service.wait_for_deployment(show_output=not args.quiet)
    print(f"scoring_uri: {service.scoring_uri}")
    print(f"swagger_uri: {service.swagger_uri}")
    if args.auth:
        print(f"key:         {service.get_keys()[0]}")
    return 0


def _services(args: argparse.Namespace) -> int:
    from ..deploy.webservice import Webservice

    services = [s.to_dict() for s in Webservice.list()]
    if args.json:
        print(json.dumps(services, indent=2))
        return 0
    if not services:
        print("no services; deploy one with 'mldeploy deploy NAME --model ... --entry-script score.py'")
        return 0
    print(f"{'NAME':<24} {'TARGET':<8} {'STATE':<13} {'SCORING URI':<36} MODELS")
    for s in services:
        print(f"{s['name']:<24} {s['compute_type']:<8} {s['state']:<13} {s['scoring_uri'] or '-':<36} "
              f"{', '.join(s['models'])}")
    return 0


def _logs(args: argparse.Namespace) -> int:
    from ..deploy.webservice import Webservice

    service = Webservice(args.name)
    try:
        for line in service.iter_logs(tail=args.tail, follow=args.follow):
            print(line, flush=args.follow)
    except KeyboardInterrupt:
        pass
    return 0


def _score(args: argparse.Namespace) -> int:
    from ..deploy.webservice import Webservice

    if args.data == "-":
        data: str = sys.stdin.read()
    elif args.data.startswith("@"):
        path = Path(args.data[1:])
        if not path.is_file():
            raise InvalidArgumentError(f"cannot read {str(path)!r}: give @FILE with an existing file.")
        data = path.read_text(encoding="utf-8")
    else:
        data = args.data
    answer = Webservice(args.name).run(data)
    print(answer if isinstance(answer, str) else json.dumps(answer, indent=2))
    return 0


def _delete(args: argparse.Namespace) -> int:
    from ..deploy.webservice import Webservice

    Webservice(args.name).delete()
    print(f"deleted {args.name}")
    return 0
