"""Read pip requirement lines (requirements.txt, a conda file's ``pip:`` section).

Requirements are PEP 508 strings; the pip options that change what gets
installed (``--index-url``, ``--extra-index-url``, ``--find-links``,
``--pre``) are kept apart so the builder can pass them to uv. ``-r FILE`` is
followed (relative to the including file). Editable installs and constraints
are refused with a message saying what to write instead; ``--hash`` options
are dropped (uv re-resolves; hashes are written into wheelhouses instead).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from ..errors import EnvironmentSpecError

_NAMED_URL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_VALUE_OPTIONS = {
    "-i": "index_url",
    "--index-url": "index_url",
    "--extra-index-url": "extra_index_urls",
    "-f": "find_links",
    "--find-links": "find_links",
}
_IGNORED_OPTIONS = {"--trusted-host", "--prefer-binary", "--use-feature", "--no-cache-dir"}
_REFUSED = {
    "-e": "editable installs cannot go into a deployment environment: build a wheel "
    "(`uv build --wheel`) and list its path instead",
    "--editable": "editable installs cannot go into a deployment environment: build a wheel "
    "(`uv build --wheel`) and list its path instead",
    "-c": "constraint files are not supported: pin the versions in the requirements themselves",
    "--constraint": "constraint files are not supported: pin the versions in the requirements themselves",
    "--no-index": "--no-index is not supported for environment builds: list --find-links instead",
}


@dataclass
class PipLines:
    """Requirements and pip options read from pip requirement lines."""

    requirements: list[str] = field(default_factory=list)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    pre: bool = False
    notes: list[str] = field(default_factory=list)


def _logical_lines(text: str) -> list[str]:
    """Join ``\\`` continuations and drop comments and blank lines."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.lstrip().startswith("#"):
            continue
        if " #" in line:
            line = line.split(" #", 1)[0]
        if line.strip():
            lines.append(line.strip())
    if pending.strip():
        lines.append(pending.strip())
    return lines


def _path_requirement(text: str, base_dir: Path | None, where: str) -> str | None:
    """Turn a wheel/sdist path or URL without a name into ``name @ url``; None if it is not one."""
    lower = text.lower()
    if _NAMED_URL_RE.match(text):
        return None  # already "name @ url"
    if not (lower.endswith((".whl", ".tar.gz", ".zip")) or text.startswith(("./", "../", "/", "file:"))):
        return None
    filename = text.rsplit("/", 1)[-1]
    try:
        if lower.endswith(".whl"):
            name = parse_wheel_filename(filename)[0]
        else:
            name = parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename) as err:
        raise EnvironmentSpecError(
            f"{where}: {text!r} is not a wheel or source archive with a standard file name: "
            "list wheels as 'name @ file:///absolute/path.whl'."
        ) from err
    if "://" in text:
        return f"{name} @ {text}"
    path = Path(text.removeprefix("file:")).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    path = path.resolve()
    if not path.is_file():
        raise EnvironmentSpecError(
            f"{where}: the package file {path} does not exist: fix the path (relative paths are "
            "relative to the requirements file)."
        )
    return f"{name} @ {path.as_uri()}"


def normalize_requirement(text: str, where: str = "requirement") -> str:
    """Return ``text`` as a canonical PEP 508 string (lower-case name, sorted extras).

    Raises
    ------
    EnvironmentSpecError
        When ``text`` is not a valid requirement.
    """
    try:
        req = Requirement(text)
    except InvalidRequirement as err:
        raise EnvironmentSpecError(
            f"{where}: {text!r} is not a valid pip requirement ({err}). Write it as 'name', "
            "'name==1.2' or 'name>=1.2,<2'."
        ) from err
    out: str = canonicalize_name(req.name)
    if req.extras:
        out += "[" + ",".join(sorted(canonicalize_name(e) for e in req.extras)) + "]"
    if req.url:
        out += f" @ {req.url}"
        if req.marker:
            out += " "
    elif req.specifier:
        out += str(req.specifier)
    if req.marker:
        out += f"; {req.marker}"
    return out


def parse_pip_lines(
    lines: list[str] | str,
    *,
    base_dir: Path | None = None,
    where: str = "pip requirements",
    _seen: frozenset[Path] = frozenset(),
) -> PipLines:
    """Read pip requirement lines into a :class:`PipLines`.

    Parameters
    ----------
    lines
        The lines, or the whole text of a requirements file.
    base_dir
        Folder that relative ``-r`` files and package paths are relative to.
    where
        Names the source in error messages (e.g. the file path).

    Raises
    ------
    EnvironmentSpecError
        For unreadable requirements, refused options (``-e``, ``-c``) and missing files.
    """
    text = lines if isinstance(lines, str) else "\n".join(str(line) for line in lines)
    out = PipLines()
    for line in _logical_lines(text):
        if line.startswith("-"):
            _apply_option(line, out, base_dir, where, _seen)
            continue
        if " --hash" in line:
            line = line.split(" --hash", 1)[0].strip()
            out.notes.append(f"{where}: dropped --hash options (versions are re-resolved)")
        path_req = _path_requirement(line.split(";", 1)[0].strip(), base_dir, where)
        if path_req is not None and ";" in line:
            path_req += " ;" + line.split(";", 1)[1]
        out.requirements.append(normalize_requirement(path_req or line, where))
    return out


def _apply_option(line: str, out: PipLines, base_dir: Path | None, where: str, seen: frozenset[Path]) -> None:
    """Apply one option line (``--extra-index-url URL``, ``-r FILE``, ...) to ``out``."""
    try:
        parts = shlex.split(line)
    except ValueError as err:
        raise EnvironmentSpecError(f"{where}: cannot read the option line {line!r}: {err}") from err
    option, _, inline = parts[0].partition("=")
    value = inline or (parts[1] if len(parts) > 1 else "")
    if option in _REFUSED:
        raise EnvironmentSpecError(f"{where}: {line!r}: {_REFUSED[option]}.")
    if option in ("-r", "--requirement"):
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        path = path.resolve()
        if path in seen:
            raise EnvironmentSpecError(f"{where}: '-r {value}' includes itself: remove the loop.")
        nested = read_requirements_file(path, _seen=seen | {path})
        out.requirements.extend(nested.requirements)
        out.extra_index_urls.extend(u for u in nested.extra_index_urls if u not in out.extra_index_urls)
        out.find_links.extend(u for u in nested.find_links if u not in out.find_links)
        out.index_url = out.index_url or nested.index_url
        out.pre = out.pre or nested.pre
        out.notes.extend(nested.notes)
    elif option == "--pre":
        out.pre = True
    elif option in _VALUE_OPTIONS:
        if not value:
            raise EnvironmentSpecError(f"{where}: {option} needs a value (a URL or folder).")
        attr = _VALUE_OPTIONS[option]
        if attr == "find_links" and "://" not in value:
            folder = Path(value).expanduser()  # a local folder: absolute, builds run elsewhere
            value = str(folder if folder.is_absolute() else ((base_dir or Path.cwd()) / folder).resolve())
        if attr == "index_url":
            out.index_url = value
        elif value not in getattr(out, attr):
            getattr(out, attr).append(value)
    elif option in _IGNORED_OPTIONS:
        out.notes.append(f"{where}: ignored option {option}")
    else:
        raise EnvironmentSpecError(
            f"{where}: the pip option {option!r} is not supported in environments: use only "
            "requirements, -r, --index-url, --extra-index-url, --find-links and --pre."
        )


def read_requirements_file(path: str | Path, *, _seen: frozenset[Path] = frozenset()) -> PipLines:
    """Read a requirements.txt file (following ``-r`` includes).

    Raises
    ------
    EnvironmentSpecError
        When the file is missing or unreadable, or a line cannot be understood.
    """
    path = Path(path).expanduser().resolve()
    text = read_spec_file(path, "requirements file")
    return parse_pip_lines(text, base_dir=path.parent, where=str(path), _seen=_seen | {path})


def read_spec_file(path: Path, kind: str) -> str:
    """Read an environment file (``kind``: "requirements file", "conda file"), with clear errors.

    Raises
    ------
    EnvironmentSpecError
        The file is missing (the message says where relative paths start) or unreadable.
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise EnvironmentSpecError(
            f"the {kind} {path} does not exist: check the path (relative paths are "
            f"relative to the current folder {Path.cwd()})."
        ) from err
    except (OSError, UnicodeDecodeError) as err:
        raise EnvironmentSpecError(f"cannot read the {kind} {path}: {err}.") from err
