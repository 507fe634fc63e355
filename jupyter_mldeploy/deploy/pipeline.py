"""The deployment pipeline every target shares: resolve, environment, build, start, init, ready.

:func:`deploy`, :func:`update` and :func:`reload` run the phases in order, each under
``progress.phase(...)`` so that ``wait_for_deployment(show_output=True)`` and the panels
show them live. What is the same for every target lives here once: laying out the
models, the phase details, when a build is needed, the port-in-use message, and the
wait until ``/ready`` answers (an ``init()`` failure raises at once with its traceback;
a server that stops first raises with how it ended). A target implements only what
differs, as the ``_target_*`` hooks of its :class:`~jupyter_mldeploy.deploy.service.Webservice`
subclass, declared in :class:`~jupyter_mldeploy.deploy.hooks.TargetHooks` (model folder as
the server sees it, copying the source, the environment, the build, starting, whether the
server has stopped, logs).

Adding a target (Kubernetes, say) means one new module with those hooks.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._net import port_is_free
from ..client.client import ScoringClient
from ..errors import DeploymentError, InitError, PortInUseError, ServerStartError
from ..registry.layout import lay_out_models
from . import records
from .code_swap import swap_code
from .config import DeploymentConfiguration
from .hooks import TargetHooks
from .progress import DeploymentProgress

__all__ = ["check_port", "deploy", "reload", "restart", "update", "wait_ready"]

#: How long a new server may take to load the script and run ``init()``.
READY_TIMEOUT_S = 600.0
#: How often the target is asked whether its server still runs while waiting.
ALIVE_CHECK_S = 0.25


def deploy(
    service: TargetHooks,
    progress: DeploymentProgress,
    models: Sequence[Any],
    inference_config: Any,
    config: DeploymentConfiguration,
    note: str = "",
) -> None:
    """A first deployment: every phase."""
    _resolve(service, progress, models, inference_config, note)
    _environment(service, progress, inference_config)
    if service.builds_images:
        _build(service, progress)
    _start_and_wait(service, progress, config.port)


def update(
    service: TargetHooks,
    progress: DeploymentProgress,
    models: Sequence[Any] | None,
    inference_config: Any,
    deployment_config: DeploymentConfiguration | None,
) -> None:
    """Change models, code, environment or settings, redoing only the phases that need it.

    A change of code or models alone is swapped into the running server (:mod:`.code_swap`:
    the new version's ``init()`` runs beside the old one), and so is an environment that
    only adds packages (they go on the server's ``sys.path``); any other environment change,
    or new settings, restart it, and the log says why. When the swap's ``init()`` fails the
    record goes back to the version that keeps serving.
    """
    record = service._record
    before = dict(record.config)
    serving = _serving(record)
    port = service._apply_deployment_config(deployment_config)
    _resolve(service, progress, models, inference_config)
    changed = _environment(service, progress, inference_config)
    notes = [_models_note(service, models)]
    env_why, site_dirs = None, None
    if changed:
        change, dirs = service._target_env_change(serving["environment"])
        if change.swappable:
            notes.append(f"the environment {change.summary}")
            site_dirs = dirs
        else:
            env_why = change.reason or "the environment changed"
    why = _restart_reason(service, None, env_why, before != record.config or port != record.port)
    try:
        if why is None and swap_code(service, progress, "; ".join(n for n in notes if n), site_dirs):
            return
    except InitError:
        _restore(service, serving)
        raise
    if why is None and models is not None:
        why = _restart_reason(service, models, None, False)
    if why:
        progress.log(f"restarting the server: {why}")
    if service.builds_images:
        code = inference_config is not None and service.bakes_source
        if models is not None or changed or code or service._target_needs_build():
            _build(service, progress)
        else:
            with progress.phase("build", detail="skipped: no model or environment change (code is mounted)"):
                pass
    _start_and_wait(service, progress, port)


#: What a record says about the version its server runs (put back when a swap's init() fails).
_SERVING_FIELDS = ("models", "model_dir", "entry_script", "source_dir", "environment", "python")


def _serving(record: records.ServiceRecord) -> dict[str, Any]:
    return {name: copy.deepcopy(getattr(record, name)) for name in _SERVING_FIELDS}


def _restore(service: TargetHooks, serving: dict[str, Any]) -> None:
    """The swap failed: the record names the version that still serves again."""
    for name, value in serving.items():
        setattr(service._record, name, value)
    records.save(service._record)


def reload(service: TargetHooks, progress: DeploymentProgress) -> None:
    """Serve the current code and models: swapped into the running server, or a restart (re-running ``init()``).

    A server that is not running (or cannot swap) is restarted, rebuilding only what is gone;
    a target whose image holds the code (Kubernetes) rebuilds it, so that edits are served.
    """
    if service.copies_source:
        with progress.phase("resolve") as phase:
            phase.detail = f"{_sync(service, progress)} source file(s) re-read"
    if _restart_reason(service, None, None, False) is None and swap_code(service, progress):
        return
    if service.builds_images and (service.bakes_source or service._target_needs_build()):
        _environment(service, progress, None)
        _build(service, progress)  # code inside the image: rebuilt (the layer cache keeps it quick)
    _start_and_wait(service, progress, service._record.port)


def restart(service: TargetHooks, progress: DeploymentProgress, why: str, wait_init: bool = True) -> None:
    """Restart the server on the current code, models and settings (``why`` goes into the log).

    ``wait_init=False`` returns once it started (a debug run waiting for its debugger).
    """
    progress.log(f"restarting the server: {why}")
    if service.builds_images and service._target_needs_build():
        _environment(service, progress, None)
        _build(service, progress)
    if wait_init:
        _start_and_wait(service, progress, service._record.port)
    else:
        _start(service, progress, service._record.port)


def _models_note(service: TargetHooks, models: Sequence[Any] | None) -> str:
    if models is None:
        return ""
    return "new model(s) " + ", ".join(m["id"] for m in service._record.models)


def _restart_reason(service: TargetHooks, models: Sequence[Any] | None, env_why: str | None,
                    settings_changed: bool) -> str | None:
    """Why a change needs a restart rather than a code swap (``None``: a swap will do)."""
    if models is not None:
        return "new model(s) " + ", ".join(m["id"] for m in service._record.models)
    if env_why:
        return env_why
    if settings_changed:
        return "the deployment configuration changed"
    if service.bakes_source:
        return "the code is inside the image (rebuilt)"
    if service.builds_images and service._target_needs_build():
        return "its image is gone (rebuilt)"
    return None


# --- the phases ------------------------------------------------------------------------------


def _resolve(
    service: TargetHooks, progress: DeploymentProgress, models: Sequence[Any] | None, inference_config: Any,
    note: str = "",
) -> None:
    record = service._record
    with progress.phase("resolve") as phase:
        if note:
            progress.log(note)
        if inference_config is not None:
            record.source_dir = str(inference_config.source_directory_path)
            record.entry_script = str(inference_config.entry_script_relative)
        if models is not None:
            laid_out = lay_out_models(models, service._target_models_folder(), log=progress.log)
            record.models = laid_out.entries
            record.model_dir = service._target_model_dir(laid_out)
        copied = _sync(service, progress) if service.copies_source else None
        phase.detail = (
            (f"{note}; " if note else "")
            + f"{len(record.models)} model(s), entry script {record.entry_script}"
            + (f", {copied} source file(s)" if copied is not None else "")
        )
        records.save(record)


def _sync(service: TargetHooks, progress: DeploymentProgress) -> int:
    """Copy the source where the server reads it; say what was left out; return the file count."""
    copied = service._target_sync_source()
    note = copied.note()
    if note:
        progress.log(note)
    return copied.files


def _environment(service: TargetHooks, progress: DeploymentProgress, inference_config: Any) -> bool:
    """Make the environment ready; return whether it changed (a build then needs doing)."""
    env = getattr(inference_config, "environment", None) if inference_config is not None else None
    with progress.phase("environment") as phase:
        phase.detail, changed = service._target_environment(progress, env, inference_config)
        records.save(service._record)
    return changed


def _build(service: TargetHooks, progress: DeploymentProgress) -> None:
    with progress.phase("build") as phase:
        phase.detail = service._target_build(progress)
        records.save(service._record)


def _start_and_wait(service: TargetHooks, progress: DeploymentProgress, port: int | None) -> None:
    _start(service, progress, port)
    with progress.phase("init"):
        wait_ready(service)
    with progress.phase("ready", detail=f"{service.scoring_uri}"):
        pass


def _start(service: TargetHooks, progress: DeploymentProgress, port: int | None) -> None:
    record = service._record
    if not record.control_key:
        record.control_key = records.new_key()  # the server's POST /-/reload (later code swaps)
    with progress.phase("start") as phase:
        wanted = port if port is not None else record.port
        try:
            phase.detail = service._target_start(wanted)
        except PortInUseError as err:
            if not wanted:
                raise  # a free port was taken in between, more than once: the target says so
            raise _port_taken(wanted, record.name) from err
        records.save(record)


def check_port(port: int | None, name: str) -> None:
    """Refuse now a ``port`` that something other than service ``name`` holds (the same message as at start).

    What the faces' :func:`~jupyter_mldeploy.deploy.deploy_from_files` calls before anything is
    recorded, so a taken port is a clear error at once instead of a failed deployment; the
    ``start`` phase checks again (the port may be taken in between). ``None`` (a free port) and
    the service's own port (it is being replaced) pass.

    Raises
    ------
    PortInUseError
        The port is taken; the message names the service holding it when it is one of ours.
    """
    if port is None or port_is_free(port) or records.holder_of_port(port) == name:
        return
    raise _port_taken(port, name)


def _port_taken(port: int, name: str) -> PortInUseError:
    """The one message for a taken port: who holds it when it is one of our services, and what to do."""
    holder = records.holder_of_port(port, exclude=name)
    who = f" by service {holder!r} (delete it, or redeploy it on another port)" if holder else ""
    hint = "" if holder else f" (another program holds it: `ss -ltnp | grep :{port}` shows which)"
    return PortInUseError(
        f"port {port} on 127.0.0.1 is taken{who}; choose another with "
        f"deploy_configuration(port=...) or port=None for a free one{hint}."
    )


def wait_ready(service: TargetHooks, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Wait until the service's ``/ready`` answers 200.

    Raises
    ------
    DeploymentError
        ``init()`` failed (at once, with its traceback and the last log lines), the server
        stopped before it was ready (with how it ended), or it was not ready in time.
    """
    record = service._record
    script = Path(record.entry_script).name
    deadline = time.monotonic() + timeout_s
    next_check = 0.0
    key = record.auth_keys[0] if record.auth_keys else None  # the owner's key: init() tracebacks come with it
    with ScoringClient(str(service._base_url), auth_key=key, timeout=2.0) as client:
        while True:
            try:
                client.wait_ready(timeout=0.0)
                if service._target_settled():
                    return
            except InitError as err:
                trace = err.traceback_text.strip()
                logs = service._target_logs(200)
                raise DeploymentError(
                    f"init() of {script} failed in service {record.name!r}: {err}\n"
                    + (f"{trace}\n" if trace else "")
                    + f"Last log lines:\n{_tail(logs, 20)}\n"
                    "Fix the script, then call service.reload() (no rebuild needed).",
                    logs=logs,
                ) from err
            except ServerStartError:
                pass  # not answering yet: connection refused, or 503 while init() runs
            now = time.monotonic()
            if now >= next_check:
                next_check = now + ALIVE_CHECK_S
                ended = service._target_exited()
                if ended is not None:
                    logs = service._target_logs(200)
                    raise DeploymentError(
                        f"the scoring server of {record.name!r} stopped before it was ready: {ended}\n"
                        f"Last log lines:\n{_tail(logs, 30)}\n"
                        "Fix the entry script or environment, then call service.reload().",
                        logs=logs,
                    )
            if now >= deadline:
                raise DeploymentError(
                    f"service {record.name!r} was not ready after {timeout_s:g}s. "
                    f"Last log lines:\n{_tail(service._target_logs(30), 30)}"
                )
            time.sleep(0.05)


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])
