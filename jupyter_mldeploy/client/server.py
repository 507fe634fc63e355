"""``ScoringServer``: run the scoring server from Python (notebooks, deployments, tests).

The server runs as a child process (``python -m jupyter_mldeploy.scoring``),
never inside the caller: the script's imports stay out of the notebook
kernel, a hung ``run()`` can be killed, and ``python=`` can point at a
deployment's own environment. The listening socket is bound here and handed
to the child, so ``port`` is known as soon as :meth:`start` returns, even for
``port=0``, and nothing can take the port in between.

Examples
--------
>>> from jupyter_mldeploy import ScoringServer                    # doctest: +SKIP
>>> with ScoringServer("score.py", model_dir="models", port=0) as server:   # doctest: +SKIP
...     print(server.scoring_uri)
...     print(server.client().score({"data": [[1, 2, 3]]}))
"""

from __future__ import annotations

import collections
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import ServerStartError
from ..scoring.keys import write_keys_file
from ..scoring.settings import (
    DEFAULT_MAX_BODY_MB,
    DEFAULT_TIMEOUT_MS,
    ServeSettings,
)
from ..scoring.supervisor import bind_socket
from .client import ScoringClient

_LOG_LINES = 5000


class ScoringServer:
    """A scoring server in a child process, with start/stop/wait_ready and its logs.

    Parameters
    ----------
    entry_script
        The entry script (``init()`` / ``run()``).
    source_dir, model_dir
        Folder put on ``sys.path`` (default: the script's) and folder for ``Model.get_model_path``.
    host, port
        Where to listen (``127.0.0.1``; ``port=0`` picks a free port).
    workers, timeout_ms, max_body_mb, auth_keys, cors_origins, reload, debug
        As the ``mldeploy serve`` options of the same names.
    limits
        The other server options by their ``ServeSettings`` names: ``max_header_kb``,
        ``max_headers``, ``read_timeout_s``, ``max_connections``, ``metrics_auth``.
    python
        Interpreter to run the server with (default: this one), e.g. a deployment's environment.
    env
        Extra environment variables for the server process.
    log_path
        Also append the server's log to this file.

    Examples
    --------
    >>> server = ScoringServer("score.py", port=0).start()   # doctest: +SKIP
    >>> server.wait_ready(timeout=30)                       # doctest: +SKIP
    >>> server.url                                          # doctest: +SKIP
    'http://127.0.0.1:40123'
    >>> server.stop()                                       # doctest: +SKIP
    """

    def __init__(
        self,
        entry_script: str | os.PathLike[str],
        source_dir: str | os.PathLike[str] | None = None,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 1,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        max_body_mb: float = DEFAULT_MAX_BODY_MB,
        auth_keys: Iterable[str] = (),
        cors_origins: Iterable[str] = (),
        reload: bool = False,
        debug: bool = False,
        python: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        **limits: Any,
    ) -> None:
        self.settings = ServeSettings(
            entry_script=str(Path(entry_script).expanduser().resolve()),
            source_dir=str(Path(source_dir).expanduser().resolve()) if source_dir else None,
            model_dir=str(Path(model_dir).expanduser().resolve()) if model_dir else None,
            host=host,
            port=port,
            workers=workers,
            timeout_ms=timeout_ms,
            max_body_mb=max_body_mb,
            auth_keys=tuple(auth_keys),
            cors_origins=tuple(cors_origins),
            reload=reload,
            debug=debug,
            stay_up=True,  # a notebook's server shows a failed init() (503 + traceback) rather than exiting
            **limits,
        )
        self.python = str(python) if python else sys.executable
        self.env = dict(env or {})
        self.log_path = Path(log_path) if log_path else None
        self.port: int | None = None if port == 0 else port
        self.process: subprocess.Popen[bytes] | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=_LOG_LINES)
        self._reader: threading.Thread | None = None
        self._log_lock = threading.Lock()

    # --- addresses ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host = self.settings.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def scoring_uri(self) -> str:
        """The ``/score`` URL."""
        return f"{self.url}/score"

    @property
    def swagger_uri(self) -> str:
        """The ``/swagger.json`` URL."""
        return f"{self.url}/swagger.json"

    @property
    def pid(self) -> int | None:
        """The server (supervisor) process id, while it runs."""
        return self.process.pid if self.process is not None else None

    def client(self, timeout: float = 60.0) -> ScoringClient:
        """A :class:`ScoringClient` for this server (with its first auth key, if any)."""
        key = self.settings.auth_keys[0] if self.settings.auth_keys else None
        return ScoringClient(self.url, auth_key=key, timeout=timeout)

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> ScoringServer:
        """Start the server process (returns at once; call :meth:`wait_ready` to wait for ``init()``)."""
        if self.process is not None and self.process.poll() is None:
            return self
        sock = bind_socket(self.settings.host, self.settings.port)
        self.port = sock.getsockname()[1]
        args = [self.python, "-m", "jupyter_mldeploy.scoring", "--fd", str(sock.fileno())]
        env = dict(os.environ)
        env.update(self.env)
        # the settings go through the environment names the server reads (ServeSettings is their one
        # writer); folders left unset must not be inherited from this process either
        for name in ("MLDEPLOY_SOURCE_DIR", "MLDEPLOY_MODEL_DIR"):
            env.pop(name, None)
        s = self.settings
        keys_file = None
        if s.auth_keys:  # through a private file the server deletes, not the environment
            self._keys_dir = tempfile.mkdtemp(prefix="mldeploy-keys-")
            keys_file = write_keys_file(s.auth_keys, Path(self._keys_dir) / "keys")
        env.update(dataclasses.replace(s, port=self.port, auth_keys_file=keys_file).to_env())
        env["PYTHONUNBUFFERED"] = "1"
        if s.debug:
            args.append("--debug")
        try:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),),
                env=env,
                start_new_session=True,  # Ctrl-C in a notebook does not reach the server
            )
        except OSError as err:
            raise ServerStartError(
                f"cannot start the scoring server with {self.python} ({err}); check the python= path"
            ) from err
        finally:
            sock.close()
        self._reader = threading.Thread(target=self._read_logs, name="mldeploy-server-log", daemon=True)
        self._reader.start()
        return self

    def _read_logs(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        sink = open(self.log_path, "a", encoding="utf-8") if self.log_path else None  # noqa: SIM115
        try:
            for raw in self.process.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                with self._log_lock:
                    self._lines.append(line)
                if sink is not None:
                    sink.write(line + "\n")
                    sink.flush()
        finally:
            if sink is not None:
                sink.close()

    def logs(self, tail: int | None = None) -> str:
        """The server's log so far (the last ``tail`` lines if given)."""
        with self._log_lock:
            lines = list(self._lines)
        if tail is not None:
            lines = lines[-tail:]
        return "\n".join(lines)

    def is_running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float = 60.0) -> ScoringServer:
        """Wait until ``/ready`` answers 200.

        Raises
        ------
        InitError
            The script's load or ``init()`` failed; the message and ``traceback_text`` say why
            (raised as soon as the server reports it, not after the timeout).
        ServerStartError
            The process exited, or was not ready within ``timeout`` seconds; the message has its last log lines.
        """
        if self.process is None:
            self.start()
        client = self.client(timeout=5.0)  # with the first key, if any: init() tracebacks come with it
        deadline = time.monotonic() + timeout
        try:
            while True:
                if not self.is_running():
                    time.sleep(0.05)  # let the log reader catch the last lines
                    raise ServerStartError(
                        f"the scoring server exited with code {self.process.returncode if self.process else '?'} "
                        f"before it was ready; its last log lines:\n{self.logs(tail=30)}"
                    )
                try:
                    client.wait_ready(timeout=0.0)
                    return self
                except ServerStartError:
                    pass
                if time.monotonic() >= deadline:
                    raise ServerStartError(
                        f"the scoring server was not ready after {timeout:g}s; its last log lines:\n"
                        f"{self.logs(tail=30)}\nwait longer if init() loads a big model"
                    )
                time.sleep(0.03)
        finally:
            client.close()

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` s); returns its exit code."""
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=2)
        if getattr(self, "_keys_dir", None):
            shutil.rmtree(self._keys_dir, ignore_errors=True)
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def __enter__(self) -> ScoringServer:  # noqa: PYI034 - Self needs Python 3.11
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"ScoringServer({self.settings.entry_script!r}, url={self.url!r}, {state})"
