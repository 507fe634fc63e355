"""Debug runs of a deployment: debugpy listening on ``127.0.0.1``, and the VS Code entry to attach with.

``service.debug()`` records a debug port on the service and restarts it: its server
(one worker, so that every request reaches the debugger) starts debugpy before it loads
the entry script (:mod:`jupyter_mldeploy.scoring.debugging`). debugpy is not part of
the runtime: a debug run only gets this machine's own debugpy package on its path (a
read-only mount in Docker, where the port is published on ``127.0.0.1`` only). A debugger
that attaches with :func:`launch_entry`'s configuration stops at breakpoints in
``score.py`` while a ``/score`` request runs. ``service.debug(False)`` restarts it without.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from .._net import free_port
from ..errors import DeploymentError
from .records import ServiceRecord

__all__ = ["CONTAINER_DEBUGPY", "debug_run", "debug_settings", "debugpy_package", "launch_entry", "process_python_path"]

#: Where a debug run's container finds debugpy (the host's package, mounted read-only).
CONTAINER_DEBUGPY = "/opt/mldeploy-debug"


def debugpy_package() -> Path:
    """This machine's debugpy package folder (what a debug run imports).

    Raises
    ------
    DeploymentError
        debugpy is not installed here.
    """
    spec = importlib.util.find_spec("debugpy")
    if spec is None or not spec.submodule_search_locations:
        raise DeploymentError(
            "debug runs need debugpy on this machine (it comes with ipykernel); "
            "install it into the kernel's environment with `pip install debugpy`."
        )
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def choose_port(wanted: int | None) -> int:
    """The debug port: ``wanted``, or a free one on 127.0.0.1."""
    if wanted is not None and not 1 <= int(wanted) <= 65535:
        raise DeploymentError(f"debug port must be from 1 to 65535, got {wanted}; pass port=None for a free one")
    return int(wanted) if wanted else free_port()


def debug_settings(record: ServiceRecord, host: str, workers: int) -> dict[str, Any]:
    """The server settings of a run: debugpy on ``host:debug_port`` and one worker in a debug run."""
    if not record.debug_port:
        return {"workers": workers}
    return {"workers": 1, "debugpy": f"{host}:{record.debug_port}", "debugpy_wait": record.debug_wait}


def process_python_path(record: ServiceRecord, inherited: str | None) -> str | None:
    """``PYTHONPATH`` of a process service: in a debug run, a folder holding only a link to debugpy first."""
    if not record.debug_port:
        return inherited
    folder = record.folder / "debugpy-path"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "debugpy"
    target = debugpy_package()
    if not link.is_symlink() or Path(os.readlink(link)) != target:
        link.unlink(missing_ok=True)
        link.symlink_to(target, target_is_directory=True)
    return os.pathsep.join(p for p in (str(folder), inherited) if p)


def launch_entry(record: ServiceRecord, remote_root: str) -> dict[str, Any]:
    """The VS Code ``launch.json`` configuration that attaches to the service's debugpy."""
    return {
        "name": f"Attach to {record.name}",
        "type": "debugpy",
        "request": "attach",
        "connect": {"host": "127.0.0.1", "port": record.debug_port},
        "pathMappings": [{"localRoot": record.source_dir, "remoteRoot": remote_root}],
        "justMyCode": True,
    }


def debug_run(
    service: Any, enable: bool, *, wait_for_client: bool, port: int | None, wait: bool, show: bool
) -> dict[str, Any] | None:
    """What ``Webservice.debug()`` does: record the debug port, restart, show the attach entry."""
    from . import pipeline

    if not service.debuggable:
        raise DeploymentError(
            f"debug() runs local services only (process or Docker); {service.name!r} is a {service.compute_type} "
            "service: deploy it with ProcessWebservice or LocalWebservice to debug it."
        )
    wanted = choose_port(port) if enable else 0
    waits = bool(enable and wait_for_client)

    def work(progress: Any) -> None:
        service._record.debug_port, service._record.debug_wait = wanted, waits
        why = f"debug run: debugpy on 127.0.0.1:{wanted}" if wanted else "debug run over"
        pipeline.restart(service, progress, why, wait_init=not waits)

    service._start_operation(work)
    remote = service._target_swap_target()["source_dir"]
    if not wait:
        return launch_entry(dataclasses.replace(service._record, debug_port=wanted), remote) if wanted else None
    service.wait_for_deployment()
    entry: dict[str, Any] | None = service.debugger
    if show and entry is not None:
        print(f"{service.name}: debugpy listens on 127.0.0.1:{wanted}"
              + ("; the script loads once a debugger attached" if waits else "")
              + f'; in VS Code add to launch.json "configurations":\n{json.dumps(entry, indent=2)}')
    return entry
