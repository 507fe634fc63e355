"""JSON views of core objects for the sidebar: models grouped by name, the target note, the code cell.

Everything here is presentation: the records come from the core (``ModelVersion.to_dict()``,
``Webservice.to_dict()``, ``TargetChoice``) and are arranged the way the sidebar lists them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..registry.records import ModelVersion, format_size

__all__ = ["DEFAULT_BODY", "code_cell", "model_groups", "model_summary", "model_version", "target_message"]

#: The editor's body when a service advertises no example.
DEFAULT_BODY = '{"data": []}'


def model_version(record: ModelVersion) -> dict[str, Any]:
    """A version with its files, every size also as text (``size_text``: ``"12.4 kB"``)."""
    data = record.to_dict()
    data["size_text"] = format_size(record.size)
    for file in data["files"]:
        file["size_text"] = format_size(file["size"])
    return data


def model_summary(record: ModelVersion) -> dict[str, Any]:
    """A version as the list shows it: :func:`model_version` without the files, and their count."""
    data = model_version(record)
    data["file_count"] = len(data.pop("files"))
    return data


def model_groups(records: Iterable[ModelVersion]) -> list[dict[str, Any]]:
    """Versions (newest first, as ``Model.list`` gives them) grouped by name, names sorted.

    Each group: ``{"name", "versions": [newest, ...], "latest": model_summary(newest)}``.
    """
    groups: dict[str, dict[str, Any]] = {}
    for record in records:
        group = groups.get(record.name)
        if group is None:
            groups[record.name] = {"name": record.name, "versions": [record.version],
                                   "latest": model_summary(record)}
        else:
            group["versions"].append(record.version)
    return [groups[name] for name in sorted(groups)]


def target_message(compute_type: str, reason: str) -> str:
    """The sentence the Deploy form shows about where a deployment without a chosen target runs."""
    if compute_type == "docker":
        return f"Docker is ready ({reason}): new services run in containers unless you pick the process target."
    return f"Docker cannot be used here: {reason}. The process target is used (a local process, no container)."


def code_cell(name: str, example: Any | None) -> str:
    """A notebook cell that finds service ``name`` again and calls it (with its swagger example, if any)."""
    body = json.dumps(example) if example is not None else DEFAULT_BODY
    if len(body) > 2000:
        body = DEFAULT_BODY  # a huge example makes an unreadable cell; the editor still has it
    return (
        "from jupyter_mldeploy import Webservice\n"
        "\n"
        f"service = Webservice({name!r})\n"
        "print(service.state, service.scoring_uri)\n"
        f"service.run({body!r})"
    )
