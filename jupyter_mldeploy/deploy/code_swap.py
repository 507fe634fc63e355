"""Code-only changes of a running deployment: swap the new code in, without a restart.

An edit of the entry script or source folder followed by ``update(inference_config=...)``
or ``reload()`` asks the running server (``POST /-/reload`` with the deployment's control
key, :mod:`jupyter_mldeploy.scoring.control`) to load the new script in every worker and
run its ``init()`` while the old version keeps serving; only when every ``init()``
succeeded is it swapped in. Modules already imported stay imported, so a swap costs the
script's own work, and no request fails meanwhile.

A failing new ``init()`` raises :class:`~jupyter_mldeploy.errors.InitError` with its
traceback at once; the old version keeps serving. When the server cannot swap (it is not
running, or it predates code swaps) :func:`swap_code` returns ``False`` and the caller
restarts it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..client.client import ScoringClient
from ..errors import DeploymentError, InitError, ScoringRequestError
from ..scoring.swap import ROUTE, SWAP_TIMEOUT_S
from .hooks import TargetHooks
from .progress import DeploymentProgress

__all__ = ["swap_code"]


def swap_code(service: TargetHooks, progress: DeploymentProgress, what: str = "",
              site_dirs: list[str] | None = None) -> bool:
    """Swap the record's current code (and models) into the running server; ``False`` when it cannot (restart then).

    ``what`` names a change beyond the code (``"new model(s) k:2"``) for the log and the phase;
    ``site_dirs``: package folders (as the server sees them) of an environment that only
    adds packages, put on the server's ``sys.path`` before the new version loads.

    Raises
    ------
    InitError
        The new version's ``init()`` (or its import) failed; the previous version keeps serving.
    DeploymentError
        The server answered the swap in an unexpected way.
    """
    record = service._record
    base = service._base_url
    if not record.control_key or not base or service._target_exited() is not None:
        return False
    script = Path(record.entry_script).name
    if what:
        progress.log(f"swapping in the running server, no restart: {what}")
    with progress.phase("init", detail=f"code swap of {script} in the running server") as phase:
        target: dict[str, object] = dict(service._target_swap_target())
        if site_dirs:
            target["site_dirs"] = list(site_dirs)
        body = json.dumps(target).encode()
        try:
            with ScoringClient(base, auth_key=record.control_key, timeout=SWAP_TIMEOUT_S + 60) as client:
                answer = client.request("POST", ROUTE, body, {"Content-Type": "application/json"})
        except ScoringRequestError as err:
            progress.log(f"the server did not take the code swap ({err}); restarting it instead")
            return False
        if answer.status in (401, 404, 409):  # started before code swaps, with another key, or cannot see site_dirs
            progress.log(f"the server cannot swap {'this in' if answer.status == 409 else 'code'} "
                         f"(HTTP {answer.status}); restarting it instead")
            return False
        try:
            data = json.loads(answer.body or b"{}")
        except ValueError:
            data = {}
        if answer.status == 500:
            service._target_swap_ended(False)
            error = data.get("error") or {}
            trace = str(error.get("traceback") or "")
            raise InitError(
                f"the new version of {script} failed to load or init() in service {record.name!r}; "
                f"the previous version keeps serving: {error.get('message', 'init() failed')}\n"
                + (f"{trace.rstrip()}\n" if trace else "")
                + "Fix the script, then call service.reload() again.",
                trace,
            )
        if answer.status != 200:
            raise DeploymentError(
                f"the code swap of service {record.name!r} got HTTP {answer.status}: {answer.body[:500]!r}"
            )
        service._target_swap_ended(True)
        phase.detail = (f"code swap{f' ({what})' if what else ''}: {script} loaded and init() run in "
                        f"{data.get('workers', '?')} worker(s) in {float(data.get('seconds', 0.0)):.2f}s, no restart")
    with progress.phase("ready", detail=f"{service.scoring_uri}"):
        pass
    return True
