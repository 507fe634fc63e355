"""A worker's half of a code swap: load the new script beside the serving one, then swap it in or drop it.

:meth:`Reloader.prepare` loads the entry script as a fresh module and runs its
``init()`` on the calling thread (the worker's control thread), while the old
script keeps serving; modules already imported (scikit-learn, torch, pandas) stay
imported, only the source folder's own modules are imported again, so a swap costs
the script's own work. :meth:`Reloader.commit` then swaps the new script in (one
attribute assignment: a request in flight finishes on the script object it started
with), :meth:`Reloader.abort` drops it. The supervisor (:mod:`.swap`) runs prepare
in every worker and commits only when every ``init()`` succeeded, so all workers
serve one version. A failed swap keeps the old script, logs the traceback and shows
the error in ``GET /ready`` (``reload_error``) and in ``/metrics``.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .lifecycle import forget_module, freeze_heap
from .logs import ServerLog
from .metrics import RELOAD_FAILURES, RELOADS, WorkerMetrics
from .state import ScriptState

__all__ = ["Reloader", "SwapTarget", "purge_source_modules"]


def purge_source_modules(source_dir: Path) -> list[str]:
    """Forget modules imported from ``source_dir`` so the reloaded script imports fresh copies.

    Installed packages (anything under a ``site-packages`` folder) and
    jupyter_mldeploy itself are kept. Requests in flight keep the objects they hold.
    A module counts as the folder's whether its path goes through a symlink or not.
    """
    roots = {os.path.abspath(source_dir) + os.sep, str(source_dir.resolve()) + os.sep}
    dropped = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or name.startswith(("jupyter_mldeploy", "mldeploy_entry_")):
            continue
        if path.startswith(tuple(roots)) and "site-packages" not in path:
            sys.modules.pop(name, None)
            dropped.append(name)
    return dropped


@dataclass(frozen=True)
class SwapTarget:
    """What a swap loads: the entry script, its source folder and the model folder (as the server sees them).

    ``model_dir`` (``AZUREML_MODEL_DIR``) is ``None`` to keep the current one. ``site_dirs``:
    folders of packages added to ``sys.path`` (as site directories, their ``.pth`` files
    run) before the script loads: an environment change that only adds packages is swapped
    in this way, the packages already imported staying as they are.
    """

    entry_script: str
    source_dir: str | None
    model_dir: str | None = None
    site_dirs: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        """The target as a control-pipe payload (:meth:`from_payload` reads it back)."""
        return {"entry_script": self.entry_script, "source_dir": self.source_dir, "model_dir": self.model_dir,
                "site_dirs": list(self.site_dirs)}

    @classmethod
    def from_payload(cls, payload: dict[str, Any], current: SwapTarget) -> SwapTarget:
        """A target from a payload or request body; what it leaves out stays as in ``current``.

        Raises
        ------
        TypeError
            A field is not a string (``site_dirs``: not a list of strings).
        """
        if not all(isinstance(payload.get(k) or "", str) for k in ("entry_script", "source_dir", "model_dir")):
            raise TypeError("entry_script, source_dir and model_dir must be strings")
        dirs = payload.get("site_dirs")
        if dirs is not None and not (isinstance(dirs, list) and all(isinstance(d, str) and d for d in dirs)):
            raise TypeError("site_dirs must be a list of folder paths")
        return cls(str(payload.get("entry_script") or current.entry_script),
                   str(payload["source_dir"]) if payload.get("source_dir") else current.source_dir,
                   str(payload["model_dir"]) if payload.get("model_dir") else current.model_dir,
                   tuple(dirs) if dirs is not None else current.site_dirs)

    def missing_site_dirs(self) -> list[str]:
        """The ``site_dirs`` this server cannot see (a container started without the environments mounted)."""
        return [d for d in self.site_dirs if not os.path.isdir(d)]


class Reloader:
    """Loads a new script version beside the serving one; swaps it in on :meth:`commit`.

    Parameters
    ----------
    state
        The worker's :class:`ScriptState` (shared with the app).
    load
        Loads and initialises a script for a :class:`SwapTarget`; raises on failure.
    log, metrics
        Where to report swaps.
    """

    def __init__(
        self, state: ScriptState, load: Callable[[SwapTarget], Any], log: ServerLog, metrics: WorkerMetrics
    ) -> None:
        self.state = state
        self.load = load
        self.log = log
        self.metrics = metrics
        self._pending: Any = None
        self._seconds = 0.0

    def prepare(self, target: SwapTarget, why: str = "") -> dict[str, str] | None:
        """Load ``target`` and run its ``init()``; keep it pending. Returns ``None``, or the error."""
        self.abort()
        self.log.info(f"reload: {why or 'asked'}: loading {Path(target.entry_script).name} again beside the "
                      "serving version")
        started = time.perf_counter()
        for folder in {Path(target.source_dir or Path(target.entry_script).parent)} | self._serving_folders():
            if folder.is_dir():
                purge_source_modules(folder)
        try:
            entry = self.load(target)
        except Exception as err:  # noqa: BLE001 - any failure keeps the old script serving
            text = getattr(err, "traceback_text", "") or traceback.format_exc()
            error = {"message": str(err) or type(err).__name__, "traceback": text, "at": time.strftime("%H:%M:%S")}
            self.metrics.add(RELOAD_FAILURES, 1)
            self.failed(error)
            return error
        self._pending = entry
        self._seconds = time.perf_counter() - started
        return None

    def commit(self) -> int:
        """Serve the pending script (its ``init()`` succeeded); return the new generation."""
        entry, self._pending = self._pending, None
        if entry is None:
            return self.state.generation
        self.state.reload_error = None
        previous = self.state.entry
        self.state.serve(entry)
        forget_module(previous)  # the old version (and its model) is freed once its requests finish
        del previous
        freeze_heap()
        self.metrics.add(RELOADS, 1)
        self.log.info(f"reload: now serving generation {self.state.generation} (load + init {self._seconds:.2f}s)")
        return self.state.generation

    def abort(self, error: dict[str, str] | None = None) -> None:
        """Drop a pending script (another worker's ``init()`` failed: ``error`` says how)."""
        entry, self._pending = self._pending, None
        if entry is not None:
            forget_module(entry)
            del entry
            self.log.info("reload: the new version is dropped (another worker's init() failed)")
        if error is not None:
            self.failed(error, counted=False)

    def failed(self, error: dict[str, str], counted: bool = True) -> None:
        """Record a failed swap: the old version keeps serving (503 until fixed when there is none)."""
        self.state.reload_error = error
        text = error.get("traceback", "")
        if self.state.entry is None:
            self.state.fail(error["message"], text)
            self.log.error(f"reload failed, still not serving: {error['message']}\n{text}")
        elif counted:
            self.log.error(f"reload failed, still serving the previous version: {error['message']}\n{text}")

    def reload(self, target: SwapTarget, why: str = "") -> dict[str, str] | None:
        """Prepare and commit in this worker alone (no supervisor); returns ``None`` or the error."""
        error = self.prepare(target, why)
        if error is None:
            self.commit()
        return error

    def _serving_folders(self) -> set[Path]:
        entry = self.state.entry
        folder = getattr(entry, "source_dir", None)
        return {Path(folder)} if folder else set()
