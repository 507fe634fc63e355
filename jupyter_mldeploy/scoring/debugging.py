"""Debug runs: each worker listens for a debugger (debugpy) before it loads the entry script.

Only when the server is started with ``MLDEPLOY_DEBUGPY=HOST:PORT`` (a deployment's
``service.debug()``): debugpy is not part of the runtime and is imported only then,
from wherever the deployment put it (``PYTHONPATH``). A debugger that attaches then
stops at breakpoints in ``score.py`` while a ``/score`` request runs; with
``MLDEPLOY_DEBUGPY_WAIT=1`` the worker waits for it before importing the script, so
breakpoints in ``init()`` stop too.
"""

from __future__ import annotations

from .logs import ServerLog

__all__ = ["listen"]


def listen(address: str, *, wait: bool, log: ServerLog) -> bool:
    """Start debugpy's listener on ``address`` (``HOST:PORT``); return whether it listens.

    A missing debugpy or a taken port is logged, and the worker serves without a debugger.
    """
    host, _, port = address.rpartition(":")
    try:
        import debugpy  # noqa: T100 - this module's job is the debugger
    except ImportError:
        log.error(f"debug run asked (debugpy on {address}) but debugpy cannot be imported here; "
                  "serving without a debugger (service.debug() installs it for the service)")
        return False
    try:
        debugpy.listen((host.strip("[]"), int(port)))  # noqa: T100
    except (OSError, RuntimeError) as err:
        log.error(f"debugpy cannot listen on {address} ({err}); serving without a debugger")
        return False
    log.info(f"debugpy {debugpy.__version__} listening on {address}"
             + ("; waiting for a debugger to attach before loading the script" if wait else ""))
    if wait:
        debugpy.wait_for_client()  # noqa: T100
        log.info("debugger attached")
    return True
