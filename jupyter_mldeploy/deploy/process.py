"""The local process target: the scoring server as a child process, no Docker needed.

The server runs detached (its own session) from the environment's
virtualenv (``env.build_local()``) or, without an environment, from the
kernel's own Python. It listens on ``127.0.0.1:PORT``, logs to
``$MLDEPLOY_HOME/services/NAME/server.log`` and is found again after a kernel
restart through its service record (pid + process start time, so a reused pid
is never mistaken for it).

Code edits need no rebuild: the server runs the entry script in place, so
``service.reload()`` (or ``update(inference_config=...)``) swaps the new code into the
running process; an environment that only adds packages is swapped in too (its
``site-packages`` joins the server's ``sys.path``). The phases are the shared pipeline's
(``deploy/pipeline.py``); this module holds only the process-specific hooks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..environment.changes import EnvChange, compare_installed, installed_pins
from ..environment.local_build import META_FILE
from ..registry.layout import LaidOutModels
from ..scoring.keys import write_keys_file
from ..scoring.options import settings_from_env
from ..scoring.supervisor import bind_socket
from . import records as _state
from ._procs import adopt_child, is_running, process_start_time, rotate_log, stop_group, tail_file
from .config import DeploymentConfiguration, server_variables, signal_settings
from .debugger import debug_settings, process_python_path
from .progress import DeploymentProgress
from .records import EXIT_FILE
from .service import Webservice, WebserviceState

#: What a process service keeps of the kernel's environment: system, locale, temp folders, Python and
#: library paths, GPU and thread settings, CA bundles. Everything else (credentials, tokens, the
#: kernel's MLDEPLOY_* settings) stays out; list what a script needs in environment_variables.
PASSED_VARIABLES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "PYTHONPATH", "LD_LIBRARY_PATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    "NUMEXPR_MAX_THREADS", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "MLDEPLOY_HOME",
})
PASSED_PREFIXES = ("LC_", "CUDA_", "NVIDIA_")


def service_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of ``environ`` a process service starts with (see :data:`PASSED_VARIABLES`)."""
    return {k: v for k, v in environ.items() if k in PASSED_VARIABLES or k.startswith(PASSED_PREFIXES)}


@dataclass
class ProcessDeploymentConfiguration(DeploymentConfiguration):
    """Settings of a local-process deployment (see :class:`DeploymentConfiguration`)."""

    compute_type: ClassVar[str] = "process"


class ProcessWebservice(Webservice):
    """A scoring server running as a local process (no Docker).

    Examples
    --------
    >>> config = ProcessWebservice.deploy_configuration(port=6789)          # doctest: +SKIP
    >>> service = Model.deploy("ridge", [model], inference_config, config)  # doctest: +SKIP
    >>> service.wait_for_deployment(show_output=True)                      # doctest: +SKIP
    """

    compute_type = "process"
    configuration_class = ProcessDeploymentConfiguration

    # --- pipeline hooks (deploy/pipeline.py) -----------------------------------------------------

    def _target_model_dir(self, laid_out: LaidOutModels) -> str:
        return str(laid_out.model_dir)

    def _target_environment(self, progress: DeploymentProgress, env: Any, inference_config: Any) -> tuple[str, bool]:
        record = self._record
        if inference_config is None and record.python:
            return "unchanged", False
        old = (record.environment or {}).get("spec_hash")
        if env is None:
            record.python = sys.executable
            record.environment = None
            progress.log(f"using {sys.executable} (pass InferenceConfig(environment=...) for an isolated one)")
            return "no environment given: the current Python and its packages", old is not None
        build = env.build_local(log=progress.log)
        record.python = str(build.python)
        record.environment = {
            "name": env.name,
            "version": getattr(env, "version", None),
            "spec_hash": build.spec_hash,
            "path": str(build.path),
        }
        return f"{env.name} {'reused' if build.reused else 'built'} in {build.seconds:.1f}s", old != build.spec_hash

    def _target_env_change(self, old: dict[str, Any] | None) -> tuple[EnvChange, list[str]]:
        """An environment that only adds packages to the running one: its ``site-packages`` goes on the server's path."""
        new = self._record.environment
        if not old or not new or not old.get("path") or not new.get("path"):
            return EnvChange((), "the environment changed (the kernel's own Python before or after)"), []
        try:
            before, after = (json.loads((Path(e["path"]) / META_FILE).read_text(encoding="utf-8")) for e in (old, new))
        except (OSError, ValueError):
            return EnvChange((), "the environment changed (the running one is gone)"), []
        change = compare_installed(installed_pins(before.get("installed") or []),
                                   installed_pins(after.get("installed") or []),
                                   str((before.get("python") or {}).get("version")),
                                   str((after.get("python") or {}).get("version")),
                                   [("interpreter", (before.get("python") or {}).get("path"),
                                     (after.get("python") or {}).get("path"))])
        return change, [str(p) for p in sorted(Path(new["path"]).glob("lib/python*/site-packages"))]

    def _target_start(self, port: int | None) -> str:
        self._stop_process()
        self._spawn(port)
        return f"pid {self._record.pid} on 127.0.0.1:{self._record.port}"

    debuggable: ClassVar[bool] = True

    def _target_swap_target(self) -> dict[str, str]:
        record = self._record
        return {"entry_script": record.entry_script, "source_dir": record.source_dir, "model_dir": record.model_dir}

    def _target_exited(self) -> str | None:
        exit_code = self._exit_code()
        if exit_code is not None:
            return f"its process exited with code {exit_code}"
        if not self._process_alive():
            return "its process is gone"
        return None

    # --- the process ------------------------------------------------------------------------

    def _spawn(self, port: int | None) -> None:
        record = self._record
        config = record.config
        sock = bind_socket("127.0.0.1", port if port is not None else 0)
        record.port = sock.getsockname()[1]
        folder = record.folder
        folder.mkdir(parents=True, exist_ok=True)
        exit_file = folder / EXIT_FILE
        exit_file.unlink(missing_ok=True)
        user = server_variables(config)
        settings = settings_from_env(
            user,
            entry_script=record.entry_script,
            source_dir=record.source_dir or None,
            model_dir=record.model_dir or None,
            host="127.0.0.1",
            port=record.port,
            timeout_ms=int(config.get("timeout_ms", 60_000)),
            auth_keys=tuple(record.auth_keys),
            # handed over in a private file the server deletes before init(): not in the environment
            auth_keys_file=write_keys_file(record.auth_keys, folder / "auth-keys") if record.auth_keys else None,
            control_key_file=write_keys_file([record.control_key], folder / "control-key") if record.control_key else None,
            service_name=record.name,
            models=tuple(m["id"] for m in record.models),
            stay_up=True,  # the service shows the failure (503 + traceback) instead of vanishing
            **debug_settings(record, "127.0.0.1", int(config.get("workers", 1))),
            **signal_settings(config, str(record.data_path)),
        )
        # a clean environment, as a container has: what a Python service needs from the kernel's
        # (no AWS_SECRET_ACCESS_KEY, tokens, or the kernel's own MLDEPLOY_* settings), then the
        # deployment's own environment_variables, then the server's settings
        env = service_environment(os.environ)
        env.update(user)
        env.update(settings.to_env())
        env.update(AML_APP_ROOT=str(folder), PYTHONUNBUFFERED="1")
        python_path = process_python_path(record, env.get("PYTHONPATH"))
        if python_path:
            env["PYTHONPATH"] = python_path
        args = [record.python, "-m", "jupyter_mldeploy.scoring", "--fd", str(sock.fileno())]
        if config.get("debug", True):
            args.append("--debug")
        # a tiny shell parent records the server's exit code, so that a service found again
        # after a kernel restart can still say how its server ended
        wrapper = ["/bin/sh", "-c", '"$@"; echo $? > "$0"', str(exit_file), *args]
        rotate_log(record.log_path)
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
        adopt_child(proc)
        record.pid = proc.pid
        record.pid_start = process_start_time(proc.pid)
        _state.save(record)

    def _process_alive(self) -> bool:
        return is_running(self._record.pid, self._record.pid_start)

    def _exit_code(self) -> int | None:
        try:
            return int((self._record.folder / EXIT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    def _stop_process(self) -> None:
        if self._record.pid and self._process_alive():
            stop_group(self._record.pid)

    # --- Webservice hooks ---------------------------------------------------------------------

    def _target_state(self) -> str:
        record = self._record
        if not record.pid:
            return WebserviceState.FAILED if record.error else WebserviceState.TRANSITIONING
        if not self._process_alive():
            return WebserviceState.FAILED
        return self._ready_state()

    def _target_logs(self, num_lines: int) -> str:
        return tail_file(self._record.log_path, num_lines)

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

    def _target_delete(self, delete_image: bool) -> None:
        self._stop_process()
