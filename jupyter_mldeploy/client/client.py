"""A small client for a scoring server, on the standard library (``http.client``, keep-alive).

Used by the deployment targets, the widgets' test panel and load test, and the
tests. One keep-alive connection per thread, so one client can be shared by
a thread pool.

Kept over ``httpx`` and ``requests`` after measuring the three in the same load loop
against a 1-worker ``ScoringServer`` on 127.0.0.1 with ``python bench/libraries.py --only
client`` (2026-12-01, the project's 2-core box, medians of 5 rounds): 2240 / 3490 req/s at
concurrency 1 / 8 here, against 1080 / 965 for ``httpx.Client`` (0.48x / 0.28x) and
800 / 705 for ``requests.Session`` (0.36x / 0.20x), because they spend 3.3x-6x more client
CPU per request (about 200 us here, 660-1160 us there), which would cap what ``load_test``
can measure.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..errors import InitError, InvalidArgumentError, ScoringRequestError, ServerStartError
from .bodies import MAX_SHOWN, summarise_body


@dataclass
class Response:
    """One HTTP answer: ``status``, lower-cased ``headers``, raw ``body`` bytes and ``latency_ms``."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    latency_ms: float = 0.0

    @property
    def request_id(self) -> str:
        """The server's ``x-request-id`` for this answer."""
        return self.headers.get("x-request-id", "")

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    @property
    def error(self) -> dict[str, Any] | None:
        """The ``error`` object of a JSON error body, if there is one."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data.get("error") if isinstance(data, dict) and isinstance(data.get("error"), dict) else None

    def to_dict(self, max_chars: int = MAX_SHOWN) -> dict[str, Any]:
        """A JSON-ready summary: status, latency, headers, content type, the server's ``run()`` time,
        and the body as :func:`~jupyter_mldeploy.client.bodies.summarise_body` shows it (pretty JSON
        or text cut at ``max_chars``; binary bodies as ``hex`` of their first bytes).
        """
        content_type = self.headers.get("content-type", "")
        run_ms = self.headers.get("x-ms-run-fn-exec-ms")
        try:
            server_ms = float(run_ms) if run_ms is not None else None
        except ValueError:
            server_ms = None
        return {
            "status": self.status,
            "latency_ms": round(self.latency_ms, 3),
            "headers": dict(self.headers),
            "content_type": content_type,
            "server_ms": server_ms,
            **summarise_body(self.body, content_type, max_chars).to_dict(),
        }


#: Reuse a kept-alive connection only if it was used this recently (the server keeps idle
#: connections for longer than this), so a POST never goes out on a connection the server closed.
IDLE_REUSE_S = 10.0

class ScoringClient:
    """Call a scoring server.

    Parameters
    ----------
    base_url
        The server's root, e.g. ``http://127.0.0.1:5001`` (a ``.../score`` URL works too).
    auth_key
        Sent as ``Authorization: Bearer KEY`` when given.
    timeout
        Seconds to wait for each answer.

    Examples
    --------
    >>> client = ScoringClient("http://127.0.0.1:5001")        # doctest: +SKIP
    >>> client.wait_ready(timeout=30)                          # doctest: +SKIP
    >>> client.score({"data": [[1, 2, 3]]})                    # doctest: +SKIP
    {'predictions': [14.5]}
    """

    def __init__(self, base_url: str, auth_key: str | None = None, timeout: float = 60.0) -> None:
        parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgumentError(
                f"cannot use {base_url!r} as a scoring server URL; pass e.g. 'http://127.0.0.1:5001'"
            )
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/").removesuffix("/score")
        self.base_url = f"{self.scheme}://{parts.netloc}{self.prefix}"
        self.auth_key = auth_key
        self.timeout = timeout
        self._local = threading.local()

    @property
    def scoring_uri(self) -> str:
        """The ``/score`` URL."""
        return f"{self.base_url}/score"

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> ScoringClient:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str = "/score",
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        *,
        auth: bool = True,
    ) -> Response:
        """Send one request and return the :class:`Response` whatever its status.

        Raises
        ------
        ScoringRequestError
            The server could not be reached or closed the connection without answering.
        """
        send_headers = {"Connection": "keep-alive"}
        if self.auth_key and auth:
            send_headers["Authorization"] = f"Bearer {self.auth_key}"
        if headers:
            send_headers.update(headers)
        payload = body.encode() if isinstance(body, str) else body
        url = self.prefix + path
        last: Exception | None = None
        # A kept-alive connection may have been closed by the server meanwhile. Sending on it
        # fails, but for a POST we cannot know whether run() already ran, so: never reuse a
        # connection idle for longer than the server keeps it, and resend only idempotent requests.
        idempotent = method.upper() in ("GET", "HEAD", "OPTIONS")
        last_used = getattr(self._local, "last_used", 0.0)
        if time.monotonic() - last_used > IDLE_REUSE_S:
            self.close()
        for attempt in range(2):
            reused = getattr(self._local, "conn", None) is not None
            conn = self._connection()
            started = time.perf_counter()
            try:
                conn.request(method, url, body=payload, headers=send_headers)
                answer = conn.getresponse()
                data = answer.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                self.close()
                last = err
                if attempt == 0 and reused and idempotent:  # a stale connection: safe to resend
                    continue
                break
            except (OSError, http.client.HTTPException) as err:
                self.close()
                raise ScoringRequestError(
                    f"cannot reach the scoring server at {self.base_url} ({type(err).__name__}: {err}); "
                    "check that it runs (mldeploy serve) and the URL"
                ) from err
            latency = (time.perf_counter() - started) * 1000.0
            self._local.last_used = time.monotonic()
            if answer.getheader("connection", "").lower() == "close":
                self.close()
            return Response(
                answer.status, {k.lower(): v for k, v in answer.getheaders()}, data, latency
            )
        raise ScoringRequestError(
            f"the scoring server at {self.base_url} closed the connection without answering ({last}); "
            "see its log (a worker may have been restarted). A POST is not resent, so run() did not "
            "run twice: send it again if that is safe"
        ) from last

    # --- health -----------------------------------------------------------------------

    def health(self) -> bool:
        """Whether ``GET /`` answers 200 (the process serves)."""
        try:
            return self.request("GET", "/", auth=False).status == 200
        except ScoringRequestError:
            return False

    def ready(self) -> bool:
        """Whether ``GET /ready`` answers 200 (``init()`` succeeded)."""
        try:
            return self.request("GET", "/ready", auth=False).status == 200
        except ScoringRequestError:
            return False

    def wait_ready(self, timeout: float = 30.0, interval: float = 0.05) -> None:
        """Wait until ``/ready`` answers 200.

        Raises
        ------
        InitError
            The script's load or ``init()`` failed (raised as soon as the server says so).
        ServerStartError
            Not ready within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            try:
                answer = self.request("GET", "/ready")  # with the key (if any): its details come with it
            except ScoringRequestError as err:
                last = str(err)
            else:
                if answer.status == 200:
                    return
                error = answer.error or {}
                if error.get("code") == "InitFailed":
                    raise InitError(str(error.get("message", "init() failed")), str(error.get("traceback", "")))
                last = f"{answer.status} {answer.text[:200]}"
            if time.monotonic() >= deadline:
                raise ServerStartError(
                    f"the scoring server at {self.base_url} was not ready after {timeout:g}s (last: {last}); "
                    "check its log, or wait longer if init() loads a big model"
                )
            time.sleep(interval)

    # --- scoring ----------------------------------------------------------------------

    def score(self, data: Any, headers: dict[str, str] | None = None) -> Any:
        """POST ``data`` to ``/score`` and return the parsed JSON answer (or text/bytes if not JSON).

        ``data`` may be bytes or str (sent as they are) or any JSON-able object.

        Raises
        ------
        ScoringRequestError
            The answer was not 2xx; ``status`` and ``body`` (parsed JSON if possible) are on the error.
        """
        send = dict(headers or {})
        if isinstance(data, (bytes, bytearray)):
            body: bytes | str = bytes(data)
            send.setdefault("Content-Type", "application/octet-stream")
        elif isinstance(data, str):
            body = data
            send.setdefault("Content-Type", "application/json")
        else:
            body = json.dumps(data)
            send.setdefault("Content-Type", "application/json")
        answer = self.request("POST", "/score", body, send)
        if answer.status >= 300:
            try:
                parsed: Any = answer.json()
            except ValueError:
                parsed = answer.text
            error = answer.error or {}
            message = error.get("message") or answer.text[:300]
            raise ScoringRequestError(
                f"/score answered {answer.status} {error.get('code', '')}: {message}".replace("  ", " "),
                status=answer.status,
                body=parsed,
            )
        content_type = answer.headers.get("content-type", "")
        if "json" in content_type:
            try:
                return answer.json()
            except ValueError:
                return answer.text
        if content_type.startswith("text/"):
            return answer.text
        return answer.body

    def swagger(self, version: int = 2) -> dict[str, Any]:
        """The server's ``swagger.json`` (OpenAPI 2, or 3 with ``version=3``)."""
        answer = self.request("GET", "/swagger.json" + ("?version=3" if version == 3 else ""))
        if answer.status != 200:
            raise ScoringRequestError(
                f"/swagger.json answered {answer.status}: {answer.text[:300]}", answer.status, answer.text
            )
        return dict(answer.json())

    def metrics(self) -> str:
        """The Prometheus text of ``/metrics``."""
        answer = self.request("GET", "/metrics", auth=False)
        if answer.status != 200:
            raise ScoringRequestError(f"/metrics answered {answer.status}", answer.status, answer.text)
        return answer.text
