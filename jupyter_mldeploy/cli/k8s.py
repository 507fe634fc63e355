"""``mldeploy k8s render | status | logs | plan``, and the Kubernetes options of ``mldeploy deploy --target kubernetes``.

:data:`KUBERNETES_OPTIONS` is the one list of the command-line flags that map to
``KubernetesWebservice.deploy_configuration`` settings: ``deploy``, ``k8s render`` and
``%deploy_local`` add them with :func:`add_kubernetes_options` and read them back with
:func:`kubernetes_options`. Nothing here imports the ``kubernetes`` client.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError

__all__ = ["KUBERNETES_OPTIONS", "add_kubernetes_options", "add_parser", "kubernetes_options"]


#: (flags, argparse keywords, deploy_configuration setting) of every Kubernetes knob on the command line.
KUBERNETES_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any], str], ...] = (
    (("--image-repository",), {"metavar": "REGISTRY/PATH",
                               "help": "where the service image is pushed (e.g. 127.0.0.1:5000/models, "
                                       "myregistry.azurecr.io/models; default $MLDEPLOY_IMAGE_REPOSITORY)"},
     "image_repository"),
    (("--image",), {"metavar": "REF", "help": "deploy this pushed image instead of building one"}, "image"),
    (("--namespace",), {"help": "the namespace (default: the kubeconfig context's, else default)"}, "namespace"),
    (("--context",), {"help": "the kubeconfig context (default: the current one)"}, "context"),
    (("--replicas",), {"type": int, "metavar": "N", "help": "a fixed number of replicas (no autoscaler)"},
     "num_replicas"),
    (("--autoscale-min",), {"type": int, "metavar": "N", "help": "fewest replicas of the autoscaler (default 1)"},
     "autoscale_min_replicas"),
    (("--autoscale-max",), {"type": int, "metavar": "N", "help": "most replicas of the autoscaler (default 10)"},
     "autoscale_max_replicas"),
    (("--target-utilization",), {"type": int, "metavar": "PCT",
                                 "help": "CPU percent of the request the autoscaler aims at (default 70)"},
     "autoscale_target_utilization"),
    (("--cpu-cores",), {"type": float, "help": "CPU each replica asks for (default 0.1)"}, "cpu_cores"),
    (("--memory-gb",), {"type": float, "help": "memory each replica asks for, in GB (default 0.5)"}, "memory_gb"),
    (("--cpu-cores-limit",), {"type": float, "help": "CPU limit of a replica (default none)"}, "cpu_cores_limit"),
    (("--memory-gb-limit",), {"type": float, "help": "memory limit of a replica (default --memory-gb)"},
     "memory_gb_limit"),
    (("--gpu-cores",), {"type": int, "help": "nvidia.com/gpu of each replica"}, "gpu_cores"),
    (("--max-concurrent-requests",), {"type": int, "metavar": "N",
                                      "help": "requests a replica scores at once (its workers; default 1)"},
     "replica_max_concurrent_requests"),
    (("--scoring-timeout-ms",), {"type": int, "metavar": "MS", "help": "longest run() (default 60000)"},
     "scoring_timeout_ms"),
    (("--service-type",), {"choices": ("ClusterIP", "NodePort", "LoadBalancer"),
                           "help": "how it is reached (default ClusterIP, through a port-forward)"},
     "service_type"),
    (("--node-port",), {"type": int, "help": "the NodePort (30000-32767) with --service-type NodePort"},
     "node_port"),
    (("--node-address",), {"help": "the node address a NodePort is reached at (default: the node's)"},
     "node_address"),
    (("--image-pull-secret",), {"action": "append", "metavar": "NAME",
                                "help": "a docker-registry Secret of the namespace (repeatable)"},
     "image_pull_secrets"),
    (("--node-selector",), {"action": "append", "metavar": "KEY=VALUE",
                            "help": "schedule on nodes with this label (repeatable)"}, "node_selector"),
    (("--kserve",), {"action": "store_true", "default": None,
                     "help": "a KServe InferenceService instead of Deployment + Service + HPA"}, "kserve"),
)


def add_kubernetes_options(parser: argparse.ArgumentParser | Any) -> None:
    """Add the Kubernetes flags to ``parser`` (an argparse parser or argument group)."""
    group = parser.add_argument_group("Kubernetes (--target kubernetes)") if hasattr(
        parser, "add_argument_group") else parser
    for flags, kwargs, _ in KUBERNETES_OPTIONS:
        group.add_argument(*flags, **kwargs)


def kubernetes_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``deploy_configuration`` settings the Kubernetes flags in ``args`` give (only those given)."""
    from ..registry.tags import parse_pairs  # KEY=VALUE, as --tag takes them

    settings: dict[str, Any] = {}
    for flags, _, setting in KUBERNETES_OPTIONS:
        value = getattr(args, flags[0].lstrip("-").replace("-", "_"), None)
        if setting == "node_selector":
            value = parse_pairs(value, "--node-selector") if value else None
        if value is not None:
            settings[setting] = value
    if "num_replicas" in settings:
        settings.setdefault("autoscale_enabled", False)
    return settings


def add_parser(subparsers: Any) -> None:
    """Add ``mldeploy k8s`` and its commands."""
    k8s = subparsers.add_parser(
        "k8s", help="Kubernetes: render manifests, show a service's replicas, its pods' logs, plan replicas",
        description="Kubernetes services: write a configuration's manifests without a cluster (render), show "
                    "replicas and the autoscaler (status), all pods' logs (logs), size the replicas (plan).",
    )
    commands = k8s.add_subparsers(dest="k8s_command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser("render", help="write the YAML a deployment would apply (no cluster needed)")
    p.add_argument("name", help="service name (a Kubernetes name: lowercase letters, digits, '-')")
    p.add_argument("--model", action="append", default=[], metavar="NAME[:VERSION]|PATH",
                   help="a registered model (latest version if none given) or a local path; repeatable")
    p.add_argument("--entry-script", required=True, help="the entry script (init()/run())")
    p.add_argument("--source-dir", help="folder holding the entry script and its code (default: the script's folder)")
    p.add_argument("--env", metavar="FILE", help="requirements.txt or conda .yml of the image's packages")
    p.add_argument("--auth", action=argparse.BooleanOptionalAction, default=None,
                   help="require a key on /score (default on)")
    p.add_argument("--include-keys", action="store_true", help="put the Secret with new auth keys in the YAML")
    p.add_argument("-o", "--output", metavar="FILE", help="write the YAML to FILE (default: standard output)")
    add_kubernetes_options(p)
    p.set_defaults(func=_render)

    p = commands.add_parser("status", help="a Kubernetes service's state, replicas, rollout and autoscaler")
    p.add_argument("name")
    p.set_defaults(func=_status)

    p = commands.add_parser("logs", help="the last lines of every pod of a service, merged and labelled")
    p.add_argument("name")
    p.add_argument("--tail", type=int, default=100, help="lines per pod (default 100)")
    p.set_defaults(func=_logs)

    p = commands.add_parser("plan", help="how many replicas a request rate needs (the AKS sizing rule)")
    p.add_argument("--rps", type=float, required=True, help="the requests per second to serve")
    p.add_argument("--latency-ms", type=float, help="milliseconds one request takes")
    p.add_argument("--loadtest", metavar="FILE", help="the JSON of `mldeploy loadtest --json` (- for stdin)")
    p.add_argument("--latency", choices=("p50", "p95", "p99", "mean"), default="p50",
                   help="which measured latency of --loadtest (default p50)")
    p.add_argument("--max-concurrent-requests", type=int, default=1, help="per replica (default 1)")
    p.add_argument("--target-utilization", type=int, default=70, help="percent (default 70)")
    p.add_argument("--autoscale-min", type=int, default=1, help="fewest replicas (default 1)")
    p.add_argument("--autoscale-max", type=int, default=10, help="most replicas (default 10)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(func=_plan)


def _render(args: argparse.Namespace) -> int:
    from ..deploy import configuration_for, inference_config_from_files, models_from_specs
    from ..deploy.k8s import KubernetesWebservice, render_service

    settings = kubernetes_options(args)
    image, namespace = settings.pop("image", None), settings.get("namespace")
    config = configuration_for(KubernetesWebservice, {"auth_enabled": args.auth, **settings})
    inference = inference_config_from_files(args.entry_script, args.source_dir, args.env, f"{args.name}-env")
    rendered = render_service(args.name, models_from_specs(args.model), inference, config,  # type: ignore[arg-type]
                              image=image, namespace=namespace, include_keys=args.include_keys)
    text = rendered.to_yaml()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        kinds = ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in rendered.objects)
        print(f"wrote {args.output}: {kinds}")
    else:
        sys.stdout.write(text)
    return 0


def _kubernetes_service(name: str) -> Any:
    from ..deploy.service import Webservice

    service = Webservice(name)
    if not hasattr(service, "scale_status"):
        raise InvalidArgumentError(
            f"service {name!r} runs on the {service.compute_type} target, not on Kubernetes: "
            f"use `mldeploy services` and `mldeploy logs {name}`."
        )
    return service


def _status(args: argparse.Namespace) -> int:
    service = _kubernetes_service(args.name)
    scale = service.scale_status()
    print(f"state:       {service.state}")
    print(f"namespace:   {service.namespace}")
    print(f"scale:       {scale.line()}")
    done = scale.updated >= scale.desired and scale.ready >= scale.desired
    print(f"rollout:     {scale.updated}/{scale.desired} replicas updated" + (", complete" if done else ""))
    print(f"scoring_uri: {service.scoring_uri or '-'}")
    return 0


def _logs(args: argparse.Namespace) -> int:
    print(_kubernetes_service(args.name).get_logs(args.tail))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from ..deploy.k8s import plan_replicas

    measured = None
    if args.loadtest:
        source = sys.stdin.read() if args.loadtest == "-" else _read(args.loadtest)
        try:
            measured = json.loads(source)
        except ValueError as err:
            raise InvalidArgumentError(
                f"--loadtest {args.loadtest}: not JSON ({err}); give the output of `mldeploy loadtest NAME --json`."
            ) from err
    plan = plan_replicas(
        args.rps, None if args.latency_ms is None else args.latency_ms / 1000.0, load_test=measured,
        latency=args.latency, max_concurrent_requests=args.max_concurrent_requests,
        target_utilization=args.target_utilization, min_replicas=args.autoscale_min,
        max_replicas=args.autoscale_max,
    )
    if args.json:
        print(json.dumps(plan.to_dict(), indent=2))
        return 0
    print(plan.explain())
    suggested = plan.deploy_configuration_kwargs()
    print("suggested:   --autoscale-min {autoscale_min_replicas} --autoscale-max {autoscale_max_replicas} "
          "--target-utilization {autoscale_target_utilization} "
          "--max-concurrent-requests {replica_max_concurrent_requests}".format(**suggested))
    return 0


def _read(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise InvalidArgumentError(f"cannot read {path!r}: give the file `mldeploy loadtest NAME --json > FILE` wrote.")
    return file.read_text(encoding="utf-8")
