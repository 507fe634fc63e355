"""A model version as HTML: what the registry browser shows of the selected version (tags, properties, files)."""

from __future__ import annotations

from collections.abc import Sequence

from ..api import Model
from ._base import esc, human_bytes

__all__ = ["MAX_FILES_SHOWN", "details_html"]

#: Files listed in a version's details before "... and N more".
MAX_FILES_SHOWN = 200
_TABLE = 'style="border-collapse:collapse;margin:2px 0 6px 0;font-size:90%"'
_CELL = 'style="padding:1px 10px 1px 0;text-align:left;vertical-align:top"'


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"

def _created(model: Model) -> str:
    return model.created_time.strftime("%Y-%m-%d %H:%M:%S UTC")

def _table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> str:
    """An HTML table of already-escaped cells."""
    head = ""
    if header:
        head = "<tr>" + "".join(f"<th {_CELL}>{h}</th>" for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {_TABLE}>{head}{body}</table>"

def _pairs(values: dict[str, str], empty: str) -> str:
    if not values:
        return f"<i>{esc(empty)}</i>"
    return _table([(f"<code>{esc(k)}</code>", esc(v)) for k, v in sorted(values.items())])

def details_html(model: Model) -> str:
    """The details of one model version as HTML: facts, tags, properties, files and sizes."""
    framework = " ".join(p for p in (model.framework, model.framework_version) if p) or "not given"
    facts = [
        ("Id", f"<b>{esc(model.id)}</b>"),
        ("Created", esc(_created(model))),
        ("Description", esc(model.description) if model.description else "<i>none</i>"),
        ("Framework", esc(framework)),
        (
            "In code",
            f"<code>Model.get_model_path({esc(repr(model.name))}, version={model.version})</code>",
        ),
    ]
    files = model.files
    rows = [
        (
            f"<code>{esc(f.path)}</code>",
            esc(human_bytes(f.size)),
            f"<code>{esc(f.sha256[:12])}</code>",
        )
        for f in files[:MAX_FILES_SHOWN]
    ]
    if len(files) > MAX_FILES_SHOWN:
        rows.append((f"<i>... and {len(files) - MAX_FILES_SHOWN} more files</i>", "", ""))
    rows.append(
        (
            f"<b>total: {esc(_plural(len(files), 'file'))}</b>",
            f"<b>{esc(human_bytes(model.size))}</b>",
            "",
        )
    )
    facts = [(f'<span style="color:#57606a">{label}</span>', value) for label, value in facts]
    sections = (
        ("Tags", _pairs(model.tags, "no tags")),
        ("Properties", _pairs(model.properties, "no properties")),
        ("Files", _table(rows, ("path", "size", "sha256"))),
    )
    boxes = "".join(f"<div><div><b>{title}</b></div>{body}</div>" for title, body in sections)
    return (
        f'<div class="mldeploy-model-details" style="line-height:1.45">{_table(facts)}'
        f'<div style="display:flex;flex-wrap:wrap;gap:4px 32px">{boxes}</div></div>'
    )
