"""IPython magics (``%load_ext jupyter_mldeploy``): thin shells over the Python API and the CLI commands.

``%%score_script`` writes and checks an entry script (and tries it, or reloads
the service using it), ``%deploy_local`` deploys, ``%mldeploy`` runs the
``mldeploy`` commands (models, register, services, logs, test, delete, package) and returns what
they show (a list of models or services, a model, an answer, a package).
Bad arguments and every :class:`~jupyter_mldeploy.errors.MLDeployError` show as
one ``UsageError`` line, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .errors import MLDeployError

__all__ = ["MLDeployMagics", "load_ipython_extension"]

# %mldeploy COMMAND -> the mldeploy CLI's argv prefix
_COMMANDS: dict[str, list[str]] = {
    "models": ["models", "list"],
    "register": ["models", "register"],
    "services": ["services"],
    "logs": ["logs"],
    "test": ["score"],
    "delete": ["delete"],
    "debug": ["debug"],
    "package": ["package"],
}


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """Turn an ``MLDeployError`` into one ``UsageError`` line."""
    try:
        yield
    except MLDeployError as err:
        raise UsageError(str(err)) from err


def _parse(magic: Callable[..., Any], line: str) -> argparse.Namespace:
    """Parse ``line`` with the magic's ``magic_arguments`` parser, shell-style (``'{"a": 1}'`` loses its quotes).

    IPython's own ``parse_argstring`` keeps quotes around arguments, which would break
    JSON samples. Argparse errors are one ``UsageError`` line
    (the help is ``%magic?``).
    """
    try:
        argv = shlex.split(line)
    except ValueError as err:
        raise UsageError(
            f"cannot split the arguments ({err}): close every quote, e.g. --test '{{\"data\": [1]}}'"
        ) from err
    return magic.parser.parse_args(argv)  # type: ignore[attr-defined, no-any-return]


def _models(specs: list[str]) -> list[Any]:
    from .deploy import models_from_specs  # NAME[:VERSION] | PATH, the same rules as the CLI

    return models_from_specs(specs)


def _kubernetes_arguments(magic: Callable[..., Any]) -> Callable[..., Any]:
    """Add the Kubernetes flags of ``mldeploy deploy`` (``cli/k8s.py``'s one list) to a magic."""
    from .cli.k8s import KUBERNETES_OPTIONS

    for flags, kwargs, _ in reversed(KUBERNETES_OPTIONS):
        magic = argument(*flags, **kwargs)(magic)
    return magic


@magics_class
class MLDeployMagics(Magics):
    """``%%score_script``, ``%deploy_local`` and ``%mldeploy``."""

    @magic_arguments()
    @argument(
        "path",
        nargs="?",
        default="score.py",
        help="where to write the entry script (default score.py)",
    )
    @argument(
        "--test",
        metavar="JSON",
        help="run init() and run(JSON) in a fresh process and show the answer",
    )
    @argument(
        "--test-file", metavar="FILE", help="like --test, with the request body read from FILE"
    )
    @argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME[:VERSION]|PATH",
        help="model laid out under AZUREML_MODEL_DIR for --test (repeatable)",
    )
    @argument(
        "--service", metavar="NAME", help="reload this service on the new script (no image rebuild)"
    )
    @cell_magic
    def score_script(self, line: str, cell: str) -> Any:
        """Write the cell to an entry script (like %%writefile), check it, optionally test it or reload a service.

        With no --service, services that already run this file are reloaded.
        Returns the TryResult of --test (else None).
        """
        from .client.check import check_entry_script, try_entry_script

        args = _parse(self.score_script, line)
        path = Path(args.path).expanduser().resolve()
        with _usage_errors():
            if args.test is not None and args.test_file is not None:
                raise UsageError("give --test JSON or --test-file FILE, not both.")
            sample = args.test if args.test_file is None else _read(args.test_file)
            created = not path.parent.exists()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(cell, encoding="utf-8")
            except OSError as err:
                raise UsageError(
                    f"cannot write {path}: {err.strerror}; give a path in a folder you can write to."
                ) from err
            print(f"Wrote {path}" + (f" (created the folder {path.parent})" if created else ""))
            checked = check_entry_script(path)
            print(
                f"OK: run() takes {checked.kind} input{', init() found' if checked.has_init else ', no init()'}"
            )
            result = None
            if sample is not None:
                result = try_entry_script(path, sample, _models(args.model) if args.model else [])
                _show_try(result)
            for service in [_service_running(args.service, path)] if args.service else _services_using(path):
                print(f"Reloading service {service.name!r} on {path.name} (no rebuild) ...")
                service.reload(wait=True)
                print(repr(service))
        return result

    @magic_arguments()
    @argument("name", help="service name")
    @argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME[:VERSION]|PATH",
        help="a registered model (latest version if none given) or a local path; repeatable",
    )
    @argument("--entry-script", default="score.py", help="the entry script (default score.py)")
    @argument(
        "--source-dir",
        help="folder holding the entry script and its code (default: the script's folder)",
    )
    @argument(
        "--env", metavar="FILE", help="requirements.txt or conda .yml for an isolated environment"
    )
    @argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    @argument(
        "--target",
        choices=("docker", "process", "kubernetes"),
        help="Docker container, local process or Kubernetes cluster "
        "(default: Docker when an engine and the base image are there, else a process)",
    )
    @_kubernetes_arguments
    @argument("--overwrite", action="store_true", help="replace a service of the same name")
    @argument(
        "--no-wait",
        action="store_true",
        help="return at once; the deployment goes on in the background",
    )
    @line_magic
    def deploy_local(self, line: str) -> Any:
        """Deploy models and an entry script as a local web service; returns the service.

        In a notebook the deployment panel appears at once and shows the phases live;
        in a terminal the phases are printed. Unless --no-wait, the magic returns when
        the service is Healthy (errors are one line).
        """
        from .cli.k8s import kubernetes_options
        from .deploy import deploy_from_files

        args = _parse(self.deploy_local, line)
        with _usage_errors():
            service = deploy_from_files(
                args.name, args.model, args.entry_script, source_dir=args.source_dir, env_file=args.env,
                target=args.target, port=args.port, overwrite=args.overwrite, options=kubernetes_options(args),
            )
            # in a kernel the panel shows the phases live (also while this cell waits); the
            # returned service then shows as one line in this cell, not as a second panel
            shown = _show_panel(service)
            if not args.no_wait:
                service.wait_for_deployment(show_output=not shown)
        if not shown:
            print(repr(service))
        return service

    @magic_arguments()
    @argument(
        "command", choices=sorted(_COMMANDS), help="what to do (the rest as in the mldeploy CLI)"
    )
    @argument(
        "rest",
        nargs=argparse.REMAINDER,
        help="the command's arguments, e.g. register PATH --name NAME",
    )
    @line_magic
    def mldeploy(self, line: str) -> Any:
        """Registry and service commands: models | register PATH --name NAME [--tag k=v ...] | services |
        logs NAME | test NAME [JSON] | debug NAME [--off] | delete NAME | package --model ... --entry-script ...

        Returns what it shows, for notebook code to use: the list of models or of services
        (displayed as a table), the registered model, the answer of ``test``, the package.
        """
        from .cli import build_parser

        args = _parse(self.mldeploy, line)
        argv = _COMMANDS[args.command] + args.rest
        if args.command == "test" and len(args.rest) < 2:
            raise UsageError(
                "%mldeploy test NAME JSON: give the request body, e.g. "
                "%mldeploy test ridge '{\"data\": [[1, 2]]}'"
            )
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                parsed = build_parser().parse_args(argv)
        except SystemExit as exc:
            if exc.code == 0:  # -h/--help
                print(out.getvalue().rstrip())
                return None
            text = err.getvalue().strip()
            raise UsageError(text.splitlines()[-1] if text else f"bad arguments: {line}") from exc
        with _usage_errors():
            return _RUN[args.command](parsed)


class _Listing(list):  # type: ignore[type-arg]
    """Models or services, returned by ``%mldeploy``, that show as the CLI's table."""

    def __init__(self, items: list[Any], table: Callable[[list[Any]], str]) -> None:
        super().__init__(items)
        self._table = table

    def __repr__(self) -> str:
        return self._table(list(self))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _run_models(args: argparse.Namespace) -> _Listing:
    from .api import Model
    from .cli.models import models_table
    from .registry.tags import parse_tag_filter

    tags = parse_tag_filter(args.tag)
    found = Model.list(name=args.name, tags=tags or None, latest=args.latest)
    filtered = args.name is not None or bool(tags)
    return _Listing(found, lambda models: models_table([m.record for m in models], filtered))


def _run_register(args: argparse.Namespace) -> Any:
    from .api import Model
    from .registry.records import format_size
    from .registry.tags import parse_pairs

    model = Model.register(
        args.path, args.name, tags=parse_pairs(args.tag, "--tag"), properties=parse_pairs(args.property, "--property"),
        description=args.description, child_paths=args.child_path, model_framework=args.framework,
        model_framework_version=args.framework_version,
    )
    print(f"registered {model.id} ({len(model.files)} file(s), {format_size(model.size)})")
    return model


def _run_services(args: argparse.Namespace) -> _Listing:
    from .cli.deploy import services_table
    from .deploy import Webservice

    return _Listing(Webservice.list(), lambda services: services_table([s.to_dict() for s in services]))


def _run_logs(args: argparse.Namespace) -> None:
    from .deploy import Webservice

    print(Webservice(args.name).get_logs(args.tail))


def _run_test(args: argparse.Namespace) -> Any:
    from .cli.deploy import request_body
    from .deploy import Webservice

    return Webservice(args.name).run(request_body(args.data))


def _run_delete(args: argparse.Namespace) -> None:
    from .deploy import Webservice

    Webservice(args.name).delete(delete_image=args.delete_image)
    print(f"deleted {args.name}")


def _run_package(args: argparse.Namespace) -> Any:
    from .cli.deploy import make_package

    return make_package(args)


def _run_debug(args: argparse.Namespace) -> Any:
    from .cli.deploy import run_debug

    return run_debug(args)


#: %mldeploy COMMAND -> what it calls (the arguments are the mldeploy CLI's, parsed by its parser)
_RUN: dict[str, Callable[[argparse.Namespace], Any]] = {
    "debug": _run_debug,
    "models": _run_models,
    "register": _run_register,
    "services": _run_services,
    "logs": _run_logs,
    "test": _run_test,
    "delete": _run_delete,
    "package": _run_package,
}


def _show_panel(service: Any) -> bool:
    """Display the service's DeploymentPanel in a Jupyter kernel; False in a terminal (text output then)."""
    from .widgets._display import show_panel

    return show_panel(service)


def _read(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(
            f"--test-file {path}: cannot read it ({err.strerror}); give an existing JSON file."
        ) from err


def _show_try(result: Any) -> None:
    if result.output.strip():
        print("--- output ---")
        print(result.output.rstrip())
    shown = result.result if isinstance(result.result, str) else json.dumps(result.result)
    print(f"--- result (HTTP {result.status}) ---")
    print(shown[:2000])
    models = f", models {', '.join(result.models)}" if result.models else ""
    print(
        f"init {result.init_seconds * 1000:.1f} ms, run {result.run_seconds * 1000:.1f} ms, "
        f"{result.seconds:.2f} s in all{models}"
    )


def _services_using(path: Path) -> list[Any]:
    from .deploy import services_using

    return services_using(path)


def _service_running(name: str, path: Path) -> Any:
    """Service ``name``, checked to run the file ``path`` (what ``--service NAME`` reloads)."""
    from .deploy import Webservice

    service = Webservice(name)
    running = service.entry_script_path
    if running != path:
        raise UsageError(
            f"service {name!r} runs {running}, not {path}: write the cell to that file, "
            f"or redeploy with %deploy_local {name} --entry-script {path} --overwrite ..."
        )
    return service


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the panels as display views (``%load_ext jupyter_mldeploy``)."""
    from .widgets import install

    install()
    ipython.register_magics(MLDeployMagics)
