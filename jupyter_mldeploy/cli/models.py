"""``mldeploy models ...``: register, list, show, download, delete, verify and gc model versions.

A thin layer over :class:`jupyter_mldeploy.registry.Registry`: each command
parses its arguments, calls the registry and prints a table (or JSON with
``--json``). Errors reach ``cli.main``, which prints them as one line.

Examples
--------
$ mldeploy models register outputs/model.pkl --name ridge --tag stage=dev
$ mldeploy models register -p ./models -n sentiment -d "first try"   # az ml model register's spellings
$ mldeploy models list --name ridge
$ mldeploy models show ridge:1
$ mldeploy models download ridge:1 ./restored
$ mldeploy models download ridge:1 -t ./restored --overwrite          # az ml model download's spellings
$ mldeploy models delete ridge:1

``register`` and ``download`` also take ``az ml model register|download``'s flags
(``-p/--model-path``, ``-n``, ``-d``, ``--tag``, ``--property``, ``--model-framework``,
``-i/--model-id``, ``-t/--target-dir``, ``--overwrite``); the workspace flags
(``-w``, ``-g``, ``--subscription-id``) are accepted and ignored (the registry is local).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import InvalidArgumentError, RegistryError
from ..registry.tags import parse_pairs, parse_tag_filter


def add_parser(subparsers: Any) -> None:
    """Add the ``models`` command group to the ``mldeploy`` parser."""
    parser = subparsers.add_parser(
        "models",
        help="register, list, show, download and delete models",
        description="Manage the local model registry (MLDEPLOY_HOME).",
    )
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("register", help="register a model file or folder as a new version")
    p.add_argument("path", metavar="PATH", nargs="?", help="model file or folder (or -p PATH)")
    p.add_argument("-p", "--model-path", dest="model_path", metavar="PATH",
                   help="the same as PATH (az ml model register's spelling)")
    p.add_argument("--name", "-n", required=True, help="model name (versions count up per name)")
    p.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="tag (repeatable)"
    )
    p.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="property (repeatable, add-only)",
    )
    p.add_argument("-d", "--description", default=None, metavar="TEXT")
    p.add_argument(
        "--child-path",
        action="append",
        default=None,
        metavar="REL",
        help="store only this path inside the folder (repeatable)",
    )
    p.add_argument("--framework", "--model-framework", default=None, help="model framework, e.g. ScikitLearn")
    p.add_argument("--framework-version", "--model-framework-version", default=None)
    p.add_argument("--json", action="store_true", help="print the new version as JSON")
    _add_workspace_flags(p)
    p.set_defaults(func=_register)

    p = sub.add_parser("list", help="list model versions, newest first")
    p.add_argument("--name", default=None, help="only versions of this name")
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="only versions with this tag (repeatable)",
    )
    p.add_argument("--latest", action="store_true", help="only the latest version of each name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_list)

    p = sub.add_parser("show", help="show one version and its files")
    p.add_argument("ref", metavar="NAME[:VERSION]")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_show)

    p = sub.add_parser(
        "download", help="copy a version's files into a new folder (sha256 verified)"
    )
    p.add_argument("ref", metavar="NAME[:VERSION]", nargs="?", help="the model (or -i NAME:VERSION)")
    p.add_argument("dir", metavar="DIR", nargs="?", help="the folder to create (or -t DIR)")
    p.add_argument("-i", "--model-id", dest="model_id", metavar="NAME:VERSION",
                   help="the same as NAME[:VERSION] (az ml model download's spelling)")
    p.add_argument("-t", "--target-dir", dest="target_dir", metavar="DIR",
                   help="the same as DIR (az ml model download's spelling)")
    p.add_argument("--exist-ok", "--overwrite", dest="exist_ok", action="store_true",
                   help="write into an existing folder, replacing files of the same names")
    _add_workspace_flags(p)
    p.set_defaults(func=_download)

    p = sub.add_parser("delete", help="delete one version")
    p.add_argument("ref", metavar="NAME:VERSION")
    p.set_defaults(func=_delete)

    p = sub.add_parser("verify", help="re-hash stored files and report damaged or missing ones")
    p.add_argument(
        "ref", nargs="?", default=None, metavar="NAME[:VERSION]", help="default: every model"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_verify)

    p = sub.add_parser("gc", help="remove leftovers of interrupted registers and unused bytes")
    p.add_argument(
        "--grace",
        type=float,
        default=None,
        metavar="SECONDS",
        help="keep unreferenced blobs younger than this (default 600)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_gc)


# --- commands ------------------------------------------------------------------------------


def _registry() -> Any:
    from ..registry import default_registry

    return default_registry()


def _register(args: argparse.Namespace) -> int:
    record = _registry().register(
        _one_of(args.path, args.model_path, "PATH", "-p/--model-path"),
        args.name,
        tags=parse_pairs(args.tag, "--tag"),
        properties=parse_pairs(args.property, "--property"),
        description=args.description,
        child_paths=args.child_path,
        model_framework=args.framework,
        model_framework_version=args.framework_version,
    )
    if args.json:
        _print_json(record.to_dict())
    else:
        from ..registry.records import format_size

        print(f"registered {record.id} ({len(record.files)} file(s), {format_size(record.size)})")
    return 0


def _list(args: argparse.Namespace) -> int:
    tags = parse_tag_filter(args.tag)
    records = _registry().list(name=args.name, tags=tags or None, latest=args.latest)
    if args.json:
        _print_json([r.to_dict() for r in records])
        return 0
    print(models_table(records, filtered=args.name is not None or bool(tags)))
    return 0


def models_table(records: list[Any], filtered: bool = False) -> str:
    """Model versions as the table ``mldeploy models list`` prints (``%mldeploy models`` shows it too)."""
    if not records:
        return "no matching models" if filtered else "no models registered"
    from ..registry.records import format_size

    rows = [
        [
            r.name,
            str(r.version),
            str(len(r.files)),
            format_size(r.size),
            r.created_time[:19].replace("T", " "),
            ", ".join(f"{k}={v}" for k, v in sorted(r.tags.items())),
        ]
        for r in records
    ]
    return table(["NAME", "VERSION", "FILES", "SIZE", "CREATED (UTC)", "TAGS"], rows)


def _show(args: argparse.Namespace) -> int:
    name, version = _parse_ref(args.ref, need_version=False)
    record = _registry().get(name, version)
    if args.json:
        _print_json(record.to_dict())
        return 0
    from ..registry.records import format_size

    fields = [
        ("id", record.id),
        ("kind", record.kind),
        ("created", record.created_time),
        ("description", record.description or ""),
        ("framework", " ".join(x for x in (record.framework, record.framework_version) if x)),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(record.tags.items()))),
        ("properties", ", ".join(f"{k}={v}" for k, v in sorted(record.properties.items()))),
        ("size", f"{format_size(record.size)} in {len(record.files)} file(s)"),
    ]
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        print(f"{key:<{width}}  {value}")
    print()
    _print_table(
        ["PATH", "SIZE", "SHA256"],
        [[f.path, format_size(f.size), f.sha256] for f in record.files],
    )
    return 0


def _download(args: argparse.Namespace) -> int:
    name, version = _parse_ref(_one_of(args.ref, args.model_id, "NAME[:VERSION]", "-i/--model-id"), need_version=False)
    path = _registry().download(name, version, _one_of(args.dir, args.target_dir, "DIR", "-t/--target-dir"),
                                exist_ok=args.exist_ok)
    print(path)
    return 0


def _delete(args: argparse.Namespace) -> int:
    name, version = _parse_ref(args.ref, need_version=True)
    assert version is not None
    _registry().delete(name, version)
    print(f"deleted {name}:{version}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    name, version = _parse_ref(args.ref, need_version=False) if args.ref else (None, None)
    problems = _registry().verify(name, version)
    if args.json:
        _print_json([p.to_dict() for p in problems])
    elif not problems:
        print("all stored files match their sha256")
    else:
        for problem in problems:
            print(f"{problem.sha256}: {problem.issue}; used by {', '.join(problem.used_by)}")
    if problems:
        raise RegistryError(
            f"{len(problems)} stored file(s) are damaged or missing: delete the versions that use "
            "them and register those models again from their original files."
        )
    return 0


def _gc(args: argparse.Namespace) -> int:
    kwargs = {} if args.grace is None else {"blob_grace_s": args.grace}
    report = _registry().gc(**kwargs)
    if args.json:
        _print_json(report.to_dict())
    else:
        from ..registry.records import format_size

        print(
            f"removed {report.temp_files} temp file(s), {report.blobs} unused blob(s) "
            f"({format_size(report.bytes_freed)}), {report.copies} stale local cop(y/ies)"
        )
    return 0


# --- helpers -------------------------------------------------------------------------------


def _add_workspace_flags(parser: argparse.ArgumentParser) -> None:
    """az ml's workspace flags: accepted so its command lines run; the registry is local, so they select nothing."""
    for flags in (("-w", "--workspace-name"), ("-g", "--resource-group"), ("--subscription-id",)):
        parser.add_argument(*flags, dest=f"az_{flags[-1].lstrip('-').replace('-', '_')}", metavar="NAME",
                            help=argparse.SUPPRESS)


def _one_of(positional: str | None, flag: str | None, name: str, flag_name: str) -> str:
    """The value given as the positional ``name`` or as ``flag_name`` (az ml's spelling); exactly one is needed."""
    if positional is not None and flag is not None and positional != flag:
        raise InvalidArgumentError(f"give {name} once: either as {name} or as {flag_name}, not both ({positional!r}, {flag!r}).")
    value = positional if positional is not None else flag
    if value is None:
        raise InvalidArgumentError(f"missing {name}: give it as {name} or {flag_name}.")
    return value


def _parse_ref(ref: str, need_version: bool) -> tuple[str, int | None]:
    name, sep, version = ref.rpartition(":")
    if not sep:
        if need_version:
            raise InvalidArgumentError(
                f"{ref!r} has no version: write NAME:VERSION, e.g. {ref}:1 "
                "('mldeploy models list --name NAME' shows the versions)."
            )
        return ref, None
    if not (version.isascii() and version.isdecimal()) or int(version) < 1:
        raise InvalidArgumentError(
            f"bad version in {ref!r}: write NAME:VERSION with a number, e.g. ridge:2."
        )
    return name, int(version)


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Rows under headers, in columns as wide as their widest cell."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [headers, *rows]
    )


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    print(table(headers, rows))
