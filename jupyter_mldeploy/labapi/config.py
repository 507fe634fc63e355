"""The server extension's settings, as a traitlets ``Configurable`` read from the Jupyter server's config.

Set them like any Jupyter option, e.g. in ``jupyter_server_config.py``::

    c.MLDeployLabConfig.workers = 8

or on the command line: ``jupyter lab --MLDeployLabConfig.score_timeout=120``.
"""

from __future__ import annotations

from traitlets import Float, Int
from traitlets.config import Configurable

__all__ = ["MLDeployLabConfig"]


class MLDeployLabConfig(Configurable):
    """Settings of the ML Deploy server extension (the ``/mldeploy/api/`` routes)."""

    workers = Int(
        4,
        min=1,
        help="Threads that run blocking registry, Docker and scoring calls off the server's event loop.",
    ).tag(config=True)

    score_timeout = Float(
        70.0,
        min=0.1,
        help="Seconds a test request (POST services/NAME/score) waits for the service's answer.",
    ).tag(config=True)

    example_timeout = Float(
        2.0,
        min=0.1,
        help="Seconds to wait for a service's swagger.json (its example body, the code cell).",
    ).tag(config=True)

    max_events = Int(
        2000,
        min=1,
        help="Most progress events (phases and log lines) one GET deployments/NAME/progress returns.",
    ).tag(config=True)
