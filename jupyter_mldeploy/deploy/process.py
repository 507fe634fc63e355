"""The local process target: the scoring server as a child process, no Docker needed.

The server runs detached (its own session) from the environment's
virtualenv (``env.build_local()``) or, without an environment, from the
kernel's own Python. It listens on ``127.0.0.1:PORT``, logs to
``$MLDEPLOY_HOME/services/NAME/server.log`` and is found again after a kernel
restart through its service record (pid + process start time, so a reused pid
is never mistaken for it).

Code edits need no rebuild: the server runs the entry script in place, so
``service.reload()`` (or ``update(inference_config=...)``) only restarts the
process and re-runs ``init()``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import (
    DeploymentError,
    InitError,
    PortInUseError,
    ServerStartError,
)
from . import records as _state
from ..registry.layout import lay_out_models
from .records import EXIT_FILE
from .progress import DeploymentProgress
from .service import DeploymentConfiguration, Webservice, WebserviceState

#: How long a stopping server gets after SIGTERM before SIGKILL.
STOP_GRACE_S = 10.0

#: A service's log is rotated (one previous file kept) when it is larger than this at a (re)start.
LOG_ROTATE_BYTES = 20 * 1024 * 1024

#: Server processes started by this process, kept so they are reaped (no zombies) and never
#: garbage-collected while they run; see :func:`_reap_children`.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap_children() -> None:
    """Collect the exit status of finished server processes started here."""
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]


@dataclass
class ProcessDeploymentConfiguration(DeploymentConfiguration):
    """Settings of a local-process deployment (see :class:`DeploymentConfiguration`)."""

    compute_type = "process"


class ProcessWebservice(Webservice):
    """A scoring server running as a local process (no Docker).

    Examples
    --------
    >>> config = ProcessWebservice.deploy_configuration(port=6789)          # doctest: +SKIP
    >>> service = Model.deploy("ridge", [model], inference_config, config)  # doctest: +SKIP
    >>> service.wait_for_deployment(show_output=True)                      # doctest: +SKIP
    """

    compute_type = "process"

    @staticmethod
    def deploy_configuration(
        port: int | None = None,
        auth_enabled: bool = False,
        workers: int = 1,
        timeout_ms: int = 60_000,
        debug: bool = True,
        environment_variables: dict[str, str] | None = None,
    ) -> ProcessDeploymentConfiguration:
        """Settings for a local-process deployment (``port=None`` picks a free port)."""
        return ProcessDeploymentConfiguration(
            port=port,
            auth_enabled=auth_enabled,
            workers=workers,
            timeout_ms=timeout_ms,
            debug=debug,
            environment_variables=dict(environment_variables or {}),
        )

    # --- deployment ------------------------------------------------------------------------

    def _full_deploy(
        self,
        progress: DeploymentProgress,
        models: Sequence[Any],
        inference_config: Any,
        config: DeploymentConfiguration,
        note: str = "",
    ) -> None:
        if note:
            progress.log(note)
        self._resolve(progress, models, inference_config)
        self._environment(progress, inference_config)
        self._start_and_wait(progress, config.port)

    def _resolve(self, progress: DeploymentProgress, models: Sequence[Any] | None, inference_config: Any) -> None:
        record = self._record
        with progress.phase("resolve") as phase:
            if inference_config is not None:
                record.entry_script = str(inference_config.entry_script_path)
                record.source_dir = str(inference_config.source_directory_path)
            if models is not None:
                laid_out = lay_out_models(models, record.folder / "azureml-models", log=progress.log)
                record.model_dir = str(laid_out.model_dir)
                record.models = laid_out.entries
            phase.detail = f"{len(record.models)} model(s), entry script {Path(record.entry_script).name}"
            _state.save(record)

    def _environment(self, progress: DeploymentProgress, inference_config: Any) -> None:
        record = self._record
        env = getattr(inference_config, "environment", None) if inference_config is not None else None
        with progress.phase("environment") as phase:
            if inference_config is None and record.python:
                phase.detail = "unchanged"
                return
            if env is None:
                record.python = sys.executable
                record.environment = None
                phase.detail = "no environment given: the current Python and its packages"
                progress.log(f"using {sys.executable} (pass InferenceConfig(environment=...) for an isolated one)")
            else:
                build = env.build_local(log=progress.log)
                record.python = str(build.python)
                record.environment = {
                    "name": env.name,
                    "version": getattr(env, "version", None),
                    "spec_hash": build.spec_hash,
                    "path": str(build.path),
                }
                phase.detail = f"{env.name} {'reused' if build.reused else 'built'} in {build.seconds:.1f}s"
            _state.save(record)

    def _start_and_wait(self, progress: DeploymentProgress, port: int | None) -> None:
        record = self._record
        with progress.phase("start") as phase:
            self._stop_process()
            self._spawn(port)
            phase.detail = f"pid {record.pid} on 127.0.0.1:{record.port}"
        with progress.phase("init"):
            self._wait_ready(progress)
        with progress.phase("ready", detail=f"{self.scoring_uri}"):
            pass

    # --- the process ------------------------------------------------------------------------

    def _spawn(self, port: int | None) -> None:
        from ..scoring.supervisor import bind_socket

        record = self._record
        config = record.config
        wanted = port if port is not None else record.port if record.port else 0
        try:
            sock = bind_socket("127.0.0.1", wanted)
        except PortInUseError as err:
            holder = _state.holder_of_port(wanted, exclude=record.name)
            who = f" by service {holder!r} (delete it, or redeploy it on another port)" if holder else ""
            raise PortInUseError(
                f"port {wanted} on 127.0.0.1 is taken{who}; choose another with "
                "deploy_configuration(port=...) or port=None for a free one."
            ) from err
        record.port = sock.getsockname()[1]
        folder = record.folder
        folder.mkdir(parents=True, exist_ok=True)
        exit_file = folder / EXIT_FILE
        exit_file.unlink(missing_ok=True)
        # the kernel's own MLDEPLOY_* settings (a model dir, CORS, reload, ...) must not
        # override this service's: start from the environment without them
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLDEPLOY_") or k == "MLDEPLOY_HOME"}
        env.update({k: str(v) for k, v in (config.get("environment_variables") or {}).items()})
        env.update(
            MLDEPLOY_ENTRY_SCRIPT=record.entry_script,
            MLDEPLOY_SOURCE_DIR=record.source_dir,
            MLDEPLOY_MODEL_DIR=record.model_dir,
            AZUREML_ENTRY_SCRIPT=record.entry_script,
            AZUREML_SOURCE_DIRECTORY=record.source_dir,
            AZUREML_MODEL_DIR=record.model_dir,
            AML_APP_ROOT=str(folder),
            MLDEPLOY_HOST="127.0.0.1",
            MLDEPLOY_PORT=str(record.port),
            MLDEPLOY_WORKERS=str(config.get("workers", 1)),
            MLDEPLOY_TIMEOUT_MS=str(config.get("timeout_ms", 60_000)),
            MLDEPLOY_AUTH_KEYS=",".join(record.auth_keys),
            MLDEPLOY_SERVICE_NAME=record.name,
            PYTHONUNBUFFERED="1",
        )
        args = [record.python, "-m", "jupyter_mldeploy.scoring", "--fd", str(sock.fileno())]
        if config.get("debug", True):
            args.append("--debug")
        # a tiny shell parent records the server's exit code, so that a service found again
        # after a kernel restart can still say how its server ended
        wrapper = ["/bin/sh", "-c", '"$@"; echo $? > "$0"', str(exit_file), *args]
        _rotate_log(record.log_path)
        with open(os.open(record.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
            log.write(f"--- {_state.now_iso()} starting {' '.join(args)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                wrapper,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),),
                start_new_session=True,
                cwd=record.source_dir or None,
                env=env,
            )
        sock.close()
        _reap_children()
        _CHILDREN[proc.pid] = proc
        record.pid = proc.pid
        record.pid_start = _process_start_time(proc.pid)
        _state.save(record)

    def _wait_ready(self, progress: DeploymentProgress, timeout_s: float = 600.0) -> None:
        from ..client.client import ScoringClient

        record = self._record
        deadline = time.monotonic() + timeout_s
        with ScoringClient(f"http://127.0.0.1:{record.port}", timeout=2.0) as client:
            while True:
                exit_code = self._exit_code()
                if exit_code is not None or not self._process_alive():
                    raise DeploymentError(
                        f"the scoring server of {record.name!r} exited"
                        + (f" with code {exit_code}" if exit_code is not None else "")
                        + f" before it was ready. Last log lines:\n{self._target_logs(30)}",
                        logs=self._target_logs(200),
                    )
                try:
                    client.wait_ready(timeout=0.0)
                    return
                except InitError as err:
                    trace = err.traceback_text.strip()
                    raise DeploymentError(
                        f"init() of {Path(record.entry_script).name} failed in service {record.name!r}: {err}\n"
                        + (f"{trace}\n" if trace else "")
                        + f"Last log lines:\n{self._target_logs(20)}\n"
                        "Fix the script, then call service.reload() (no rebuild needed).",
                        logs=self._target_logs(200),
                    ) from err
                except ServerStartError:
                    pass  # not ready yet: connection refused, or 503 while init() runs
                if time.monotonic() >= deadline:
                    raise DeploymentError(
                        f"service {record.name!r} was not ready after {timeout_s:g}s. "
                        f"Last log lines:\n{self._target_logs(30)}"
                    )
                time.sleep(0.05)

    def _process_alive(self) -> bool:
        pid = self._record.pid
        if not pid:
            return False
        _reap_children()
        start = _process_start_time(pid)
        return start is not None and start == self._record.pid_start

    def _exit_code(self) -> int | None:
        try:
            return int((self._record.folder / EXIT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    def _stop_process(self) -> None:
        record = self._record
        if not record.pid or not self._process_alive():
            return
        pid = record.pid
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        # wait for the whole group (the shell, the supervisor and its workers): the
        # supervisor holds the listening socket until it has exited
        deadline = time.monotonic() + STOP_GRACE_S
        while _group_members(pid) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.02)
        if _group_members(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            kill_deadline = time.monotonic() + 5
            while _group_members(pid) and time.monotonic() < kill_deadline:
                self._reap()
                time.sleep(0.02)
        self._reap()

    def _reap(self) -> None:
        _reap_children()

    # --- Webservice hooks ---------------------------------------------------------------------

    def _target_state(self) -> str:
        record = self._record
        if not record.pid:
            return WebserviceState.FAILED if record.error else WebserviceState.TRANSITIONING
        if not self._process_alive():
            return WebserviceState.FAILED
        return self._ready_state()

    def _target_logs(self, num_lines: int) -> str:
        try:
            with open(self._record.log_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 256 * max(num_lines, 1)))
                data = handle.read()
        except FileNotFoundError:
            return ""
        lines = data.decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-num_lines:])

    def _target_follow(self, poll_s: float) -> Iterator[str]:
        path = self._record.log_path
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            pending = b""
            while path.exists():
                chunk = handle.read()
                if not chunk:
                    time.sleep(poll_s)
                    continue
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")

    def _target_update(
        self,
        progress: DeploymentProgress,
        models: Sequence[Any] | None,
        inference_config: Any,
        deployment_config: DeploymentConfiguration | None,
    ) -> None:
        port = self._apply_deployment_config(deployment_config)
        self._resolve(progress, models, inference_config)
        self._environment(progress, inference_config)
        self._start_and_wait(progress, port)

    def _target_reload(self, progress: DeploymentProgress) -> None:
        self._start_and_wait(progress, self._record.port)

    def _target_delete(self, delete_image: bool) -> None:
        self._stop_process()


def _process_start_time(pid: int) -> str | None:
    """The start time of ``pid`` from /proc (``None`` if it does not run, or is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def _rotate_log(path: Path) -> None:
    """Keep one previous log: move ``server.log`` to ``server.log.1`` once it passes the limit."""
    try:
        if path.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass


def _group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members
