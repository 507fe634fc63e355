"""``mldeploy deploy | package | services | logs | score | delete``: deployments from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import BaseImageMissingError, DockerUnavailableError, InvalidArgumentError
from .k8s import add_kubernetes_options, kubernetes_options


def add_parser(subparsers: Any) -> None:
    """Add the deployment commands."""
    p = subparsers.add_parser(
        "deploy",
        help="deploy models and an entry script as a local web service",
        description="Deploy models with an entry script as a local web service and wait until it is ready.",
    )
    p.add_argument("name", nargs="?", help="service name (or -n NAME)")
    p.add_argument("-n", "--name", dest="name_flag", metavar="NAME", help="the same as NAME (az ml's spelling)")
    p.add_argument("-m", "--model", action="append", default=[], metavar="NAME[:VERSION]|PATH",
                   help="a registered model (latest version if none given) or a local path; repeat for several")
    p.add_argument("--entry-script", help="the entry script (init()/run()); or --ic FILE")
    p.add_argument("--source-dir", help="folder holding the entry script and its code (default: the script's folder)")
    p.add_argument("--env", metavar="FILE", help="requirements.txt or conda .yml for an isolated environment")
    p.add_argument("--ic", "--inference-config-file", dest="inference_config_file", metavar="FILE",
                   help="az ml's inference config (JSON or YAML: entryScript, sourceDirectory, condaFile, ...; paths "
                        "relative to the file's folder) instead of --entry-script/--source-dir/--env")
    p.add_argument("--dc", "--deploy-config-file", "--deployment-config-file", dest="deploy_config_file",
                   metavar="FILE",
                   help="az ml's deployment config (JSON or YAML: computeType LOCAL|ACI|AKS, port, "
                        "containerResourceRequirements, ...); LOCAL is Docker, or the --target given")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--target", choices=("process", "docker", "kubernetes"), default=None,
                   help="where to run it: a Docker container, a local process or a Kubernetes cluster (default: "
                        "Docker when an engine answers and the base image MLDEPLOY_BASE_IMAGE is present, else a "
                        "process)")
    p.add_argument("--auth", action=argparse.BooleanOptionalAction, default=None,
                   help="require a key on /score (printed once deployed; default off, on for Kubernetes)")
    p.add_argument("--overwrite", action="store_true", help="replace a service of the same name")
    p.add_argument("--quiet", action="store_true", help="do not show the deployment phases")
    add_kubernetes_options(p)
    p.add_argument("--debug", action="store_true",
                   help="then restart it with debugpy on 127.0.0.1 and print the VS Code attach entry")
    p.set_defaults(func=_deploy)

    p = subparsers.add_parser(
        "package",
        help="build a service image (or write its Dockerfile and context) without deploying",
        description="Build the Docker image a deployment would run, or with --dockerfile-only write its "
                    "Dockerfile and complete build context (builds offline with a plain docker build).",
    )
    p.add_argument("--model", action="append", default=[], metavar="NAME[:VERSION]|PATH",
                   help="a registered model (latest version if none given) or a local path; repeat for several")
    p.add_argument("--entry-script", required=True, help="the entry script (init()/run())")
    p.add_argument("--source-dir", help="folder holding the entry script and its code (default: the script's folder)")
    p.add_argument("--env", metavar="FILE", help="requirements.txt or conda .yml of the image's packages")
    p.add_argument("--image", metavar="NAME:TAG", help="image name and tag (default: mldeploy/package-MODEL:RANDOM)")
    p.add_argument("--dockerfile-only", metavar="DIR", help="write the Dockerfile and its context to DIR, build nothing")
    p.add_argument("--quiet", action="store_true", help="do not show the phases and build output")
    p.set_defaults(func=_package)

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

    p = subparsers.add_parser("debug", help="restart a service with debugpy on 127.0.0.1 (or without: --off)")
    p.add_argument("name")
    p.add_argument("--off", action="store_true", help="restart it without the debugger")
    p.add_argument("--wait-for-client", action="store_true", help="load the script only once a debugger attached")
    p.add_argument("--port", type=int, help="debugpy's port on 127.0.0.1 (default: a free one)")
    p.set_defaults(func=_debug)

    p = subparsers.add_parser("delete", help="stop and remove a service")
    p.add_argument("name")
    p.add_argument("--delete-image", action="store_true", help="also remove its Docker image (Docker services)")
    p.set_defaults(func=_delete)


def _deploy(args: argparse.Namespace) -> int:
    from ..azureml.cli_files import deployment_config_from_file, inference_config_from_file
    from ..deploy import choose_target, deploy_from_files

    ic = inference_config_from_file(args.inference_config_file) if args.inference_config_file else None
    target = args.target
    dc = None
    if args.deploy_config_file:  # the file names the target; --target only moves a LOCAL one
        dc = deployment_config_from_file(args.deploy_config_file, choose_target(target).target if target else None)
        target = None
    service = deploy_from_files(
        _service_name(args), args.model, args.entry_script, source_dir=args.source_dir, env_file=args.env,
        target=target, port=args.port, auth_enabled=args.auth, overwrite=args.overwrite,
        options=kubernetes_options(args), inference_config=ic, deployment_config=dc,
    )
    try:
        service.wait_for_deployment(show_output=not args.quiet)
    except (BaseImageMissingError, DockerUnavailableError) as err:
        service.delete()
        raise type(err)(f"{err} Or deploy without Docker: --target process.") from err
    print(f"target:      {service.compute_type}")
    if hasattr(service, "scale_status"):
        print(f"scale:       {service.scale_status().line()}")
    print(f"scoring_uri: {service.scoring_uri}")
    print(f"swagger_uri: {service.swagger_uri}")
    if service.auth_enabled:
        print(f"key:         {service.get_keys()[0]}")
    if args.debug:
        service.debug()
    return 0


def _service_name(args: argparse.Namespace) -> str:
    """NAME or -n NAME (az ml model deploy's spelling): exactly one."""
    if args.name and args.name_flag and args.name != args.name_flag:
        raise InvalidArgumentError(f"give the service name once: {args.name!r} or -n {args.name_flag!r}, not both.")
    name = args.name or args.name_flag
    if not name:
        raise InvalidArgumentError("give the service name: mldeploy deploy NAME ... (or -n NAME).")
    return str(name)


def _package(args: argparse.Namespace) -> int:
    make_package(args)
    return 0


def make_package(args: argparse.Namespace) -> Any:
    """Package as the ``package`` arguments say, wait for it, print how to build and run it; return the package."""
    from ..deploy import package_from_files

    pkg = package_from_files(
        args.model, args.entry_script, source_dir=args.source_dir, env_file=args.env, image=args.image,
        generate_dockerfile=bool(args.dockerfile_only),
    )
    pkg.wait_for_creation(show_output=not args.quiet)
    print(package_summary(pkg, args.dockerfile_only))
    return pkg


def package_summary(pkg: Any, dockerfile_only: str | None) -> str:
    """Save a Dockerfile-only package into ``dockerfile_only`` (if given), and say how to build and run it."""
    if dockerfile_only:
        out = pkg.save(dockerfile_only)
        pkg.delete()  # the staging copy; the saved folder is the package
        lines = [f"dockerfile:  {out / 'Dockerfile'}", f"build it:    docker build -t {pkg.location} {out}"]
    else:
        lines = [f"image:       {pkg.location}"]
    lines.append(f"run it:      docker run -p 127.0.0.1:6789:5001 {pkg.location}   # then POST http://127.0.0.1:6789/score")
    return "\n".join(lines)


def _services(args: argparse.Namespace) -> int:
    from ..deploy.service import Webservice

    services = [s.to_dict() for s in Webservice.list()]
    if args.json:
        print(json.dumps(services, indent=2))
        return 0
    print(services_table(services))
    return 0


def services_table(services: list[dict[str, Any]]) -> str:
    """Services (their ``to_dict()``) as the table ``mldeploy services`` prints (``%mldeploy services`` too)."""
    if not services:
        return "no services; deploy one with 'mldeploy deploy NAME --model ... --entry-script score.py'"
    lines = [f"{'NAME':<24} {'TARGET':<10} {'STATE':<13} {'SCORING URI':<36} MODELS"]
    for s in services:
        lines.append(f"{s['name']:<24} {s['compute_type']:<10} {s['state']:<13} {s['scoring_uri'] or '-':<36} "
                     f"{', '.join(s['models'])}")
    return "\n".join(lines)


def _logs(args: argparse.Namespace) -> int:
    from ..deploy.service import Webservice

    service = Webservice(args.name)
    try:
        for line in service.iter_logs(tail=args.tail, follow=args.follow):
            print(line, flush=args.follow)
    except KeyboardInterrupt:
        pass
    return 0


def _score(args: argparse.Namespace) -> int:
    from ..deploy.service import Webservice

    answer = Webservice(args.name).run(request_body(args.data))
    print(answer if isinstance(answer, str) else json.dumps(answer, indent=2))
    return 0


def request_body(data: str) -> str:
    """The request body the ``score`` argument names: JSON text, ``@FILE``, or ``-`` for standard input."""
    if data == "-":
        return sys.stdin.read()
    if data.startswith("@"):
        path = Path(data[1:])
        if not path.is_file():
            raise InvalidArgumentError(f"cannot read {str(path)!r}: give @FILE with an existing file.")
        return path.read_text(encoding="utf-8")
    return data


def _debug(args: argparse.Namespace) -> int:
    run_debug(args)
    return 0


def run_debug(args: argparse.Namespace) -> Any:
    """``mldeploy debug`` (and ``%mldeploy debug``): the service's ``debug()``; returns the attach entry."""
    from ..deploy.service import Webservice

    service = Webservice(args.name)
    entry = service.debug(not args.off, wait_for_client=args.wait_for_client, port=args.port)
    if args.off:
        print(f"{args.name}: restarted without the debugger")
    return entry


def _delete(args: argparse.Namespace) -> int:
    from ..deploy.service import Webservice

    Webservice(args.name).delete(delete_image=args.delete_image)
    print(f"deleted {args.name}")
    return 0
