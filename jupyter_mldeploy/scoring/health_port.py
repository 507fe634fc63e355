"""The health listener: a second port that answers only the liveness and readiness probes.

azmlinfsrv serves the probes on a port of their own when ``SEPERATE_HEALTH_ENDPOINT=true``
(``--health_port``, default 5000), so a platform can probe a service whose scoring port is
busy or kept private. ``mldeploy serve --health-port PORT`` (or the same environment) does
this: each worker serves :class:`HealthApp` on that socket beside the scoring app, with its
own uvicorn server on the same event loop, so the scoring port's requests pay nothing for
it. ``GET``/``HEAD`` ``/`` and ``/ready`` are answered by the scoring app itself (the same
answers, ``Healthy`` only while the script is loaded and ``init()`` passed); anything else is
a 404 naming the scoring port.
"""

from __future__ import annotations

from typing import Any

from .app import new_request_id
from .asgi import Receive, Scope, Send, send_error
from .contract import ErrorCode

__all__ = ["PROBES", "HealthApp"]

#: the routes the health port answers
PROBES = ("/", "/ready")


class HealthApp:
    """ASGI app of the health port: the probes go to ``app``, every other request is a 404.

    Parameters
    ----------
    app
        The worker's scoring app (it answers the probes, as on the scoring port).
    scoring_port
        The scoring port, named in the 404 so that a client knows where to send the request.
    """

    def __init__(self, app: Any, scoring_port: int) -> None:
        self.app = app
        self.scoring_port = scoring_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] in PROBES and scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        await send_error(
            send, 404, ErrorCode.NOT_FOUND,
            f"This is the health port: it answers GET / (liveness) and GET /ready (readiness) only; send "
            f"{scope['method']} {scope['path']} to the scoring port {self.scoring_port}.",
            new_request_id(), [],
        )
