"""What a service captured: ``service.get_captured(n)`` and ``service.get_collected(n)`` on every ``Webservice``.

The scoring server writes ``capture.jsonl`` (requests and answers, when the deployment has
``collect_model_data=True``) and ``collected.jsonl`` (what entry scripts give
``ModelDataCollector.collect``) into the service's ``data/`` folder: for the process target
directly, for Docker through a read-write bind mount. This mixin reads the last records
back (``scoring/jsonl.read_last``), rotated files included; a target whose files are
elsewhere (Kubernetes: in each pod) overrides :meth:`CapturedData._target_records`.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgumentError
from ..scoring.capture import CAPTURE_FILE
from ..scoring.jsonl import read_last
from ..scoring.monitoring import COLLECTED_FILE
from .records import ServiceRecord

__all__ = ["CapturedData"]


class CapturedData:
    """``get_captured`` / ``get_collected``, mixed into :class:`~jupyter_mldeploy.deploy.service.Webservice`."""

    _record: ServiceRecord

    def get_captured(self, n: int = 10) -> list[dict[str, Any]]:
        """The last ``n`` captured requests and answers, oldest first (see docs/protocols.md, "Capture").

        Each is a dict with ``request_id``, ``time``, ``latency_ms``, ``status``, ``method``,
        ``route``, ``model``, ``input`` and ``output``.

        Raises
        ------
        InvalidArgumentError
            ``n`` is not a whole number >= 0, or the service captures nothing (deployed without
            ``collect_model_data=True``).

        Examples
        --------
        >>> service.get_captured(1)[0]["output"]     # doctest: +SKIP
        {'predictions': [14.5]}
        """
        count = _count(n)
        if not self._record.config.get("collect_model_data") and not (self._record.data_path / CAPTURE_FILE).exists():
            raise InvalidArgumentError(
                f"service {self._record.name!r} captures no requests: deploy (or update) it with "
                "deployment_config(collect_model_data=True) to keep requests and answers."
            )
        return self._target_records(CAPTURE_FILE, count)

    def get_collected(self, n: int = 10) -> list[dict[str, Any]]:
        """The last ``n`` records entry scripts gave ``ModelDataCollector(...).collect(...)``, oldest first."""
        return self._target_records(COLLECTED_FILE, _count(n))

    def _target_records(self, file_name: str, n: int) -> list[dict[str, Any]]:
        """The last ``n`` records of the service's ``file_name`` (here: its data folder on this machine)."""
        return read_last(self._record.data_path / file_name, n)


def _count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidArgumentError(f"n must be a whole number >= 0 (how many records), got {n!r}")
    return n
