"""A script's life in a worker: import it and run ``init()``, free the GC's way, forget a replaced one.

Used once per worker at start (``workers``) and for every reload (``reload``): the
new version is loaded beside the serving one and only swapped in when its
``init()`` succeeded.
"""

from __future__ import annotations

import gc
import importlib
import site
import sys
from pathlib import Path
from typing import Any

from .contract import current_request_id
from .settings import ServeSettings


def model_folder_listing(folder: str | None, limit: int = 40) -> str:
    """A short listing of the model folder (what ``Model.get_model_path`` can see), for init errors."""
    if not folder:
        return "AZUREML_MODEL_DIR is not set (no --model-dir given)"
    root = Path(folder)
    if not root.is_dir():
        return f"model folder {root} does not exist"
    lines = [f"model folder {root}:"]
    count = 0
    for path in sorted(root.rglob("*")):
        if count >= limit:
            lines.append("  ... (more files)")
            break
        rel = path.relative_to(root)
        lines.append(f"  {rel}/" if path.is_dir() else f"  {rel} ({path.stat().st_size} bytes)")
        count += 1
    if count == 0:
        lines.append("  (empty)")
    return "\n".join(lines)


def load_and_init(settings: ServeSettings) -> Any:
    """Import the entry script as a fresh module and run its ``init()``; raises on failure.

    The settings' ``site_dirs`` (packages an environment change added) go on ``sys.path`` first.
    """
    from .entry_script import load_entry_script

    add_site_dirs(settings.site_dirs)
    entry = load_entry_script(settings.script_path, settings.source_dir, debug=settings.debug,
                              batch=settings.batch_options)
    token = current_request_id.set("init")
    try:
        entry.init()
    except BaseException:
        forget_module(entry)  # a failed reload must not keep its half-loaded model in memory
        raise
    finally:
        current_request_id.reset(token)
    return entry


def add_site_dirs(folders: tuple[str, ...] | list[str]) -> list[str]:
    """Put package folders on ``sys.path`` as site directories (their ``.pth`` files run); return those added.

    Folders already there are left alone, so a worker asked twice adds nothing the second time.
    """
    added = [folder for folder in folders if folder not in sys.path]
    for folder in added:
        site.addsitedir(folder)
    if added:
        importlib.invalidate_caches()
    return added


def freeze_heap() -> None:
    """Move everything alive now (the model, its libraries) out of the garbage collector's way.

    A loaded model leaves about a million tracked objects; without this, a full
    collection every few seconds under load pauses the worker for ~100 ms while
    freeing nothing (p99 at c=64 went from 86 ms to 34 ms in bench/serve_vs_peers.py).
    Called after ``init()`` and after each reload (unfreezing first, so that a
    replaced script can still be freed).
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def forget_module(entry: Any) -> None:
    """Drop a script's module from ``sys.modules`` (requests holding it keep it alive until they finish)."""
    module = getattr(entry, "module", None)
    if module is not None:
        sys.modules.pop(module.__name__, None)

