"""A Resonate server spoken to over HTTP: one already running at ``--server-url http(s)://``.

:class:`HttpServer` is what every HTTP server shares (our embedded one and the
real binary derive from it): reads through the protocol client, readiness as
``GET /ready``, no timers to drive, no extra preload, settles through the
protocol client, and lease release through our server's extra
(:class:`ExtrasRelease`). :class:`HttpBackend` is the one
``up`` does not start: it must answer ``GET /health`` before anything starts.
"""

from __future__ import annotations

import json
from pathlib import Path

from resonate_rpc_cli.backends.base import (
    Prepared,
    ReleaseOutcome,
    ServerSettings,
    Stoppable,
    refuse_exposure,
    refuse_retain,
)
from resonate_rpc_cli.clients.http import exchange, http_ok
from resonate_rpc_cli.clients.protocol import ReadClient, ResonateClient, WriteClient
from resonate_rpc_cli.clients.tokens import server_token
from resonate_rpc_cli.contracts.connectors import HTTP
from resonate_rpc_cli.contracts.errors import NotRunningError
from resonate_rpc_cli.contracts.home import Home


class ExtrasRelease:
    """Lease release through our server's ``POST /rpcdemo/release {"pid": node_id}``.

    Only sent when ``GET /rpcdemo/info`` says the server is our embedded one;
    on any other server (the real one, ``--no-extras``) nothing is sent and the
    outcome says the leases lapse after the TTL, never an error.
    """

    def __init__(self, server_url: str, timeout_s: float = 1.0) -> None:
        self.server_url = server_url.rstrip("/")
        self.timeout_s = timeout_s
        self._extras: bool | None = None  # unknown until asked; a "yes" is kept

    def __call__(self, node: str, node_id: str) -> ReleaseOutcome:
        if not self._has_extras():
            return ReleaseOutcome(node, node_id, None,
                                  "server has no release extra; leases lapse after the TTL")
        body = json.dumps({"pid": node_id}).encode()
        try:
            status, raw = self._http("POST", "/rpcdemo/release", body)
        except OSError as exc:
            return ReleaseOutcome.failed(node, node_id, exc)
        if status == 404:
            self._extras = None  # the server changed under us; ask again next time
        if status != 200:
            return ReleaseOutcome(node, node_id, None,
                                  f"release answered {status}; leases lapse after the TTL")
        try:
            released = json.loads(raw)["released"]
            ids = tuple(str(t) for t in released)
        except (ValueError, KeyError, TypeError):
            return ReleaseOutcome(node, node_id, None, "release answered nonsense")
        return ReleaseOutcome.done(node, node_id, ids)

    def _has_extras(self) -> bool:
        if self._extras:
            return True
        try:
            status, raw = self._http("GET", "/rpcdemo/info", None)
            info = json.loads(raw) if status == 200 else None
        except (OSError, ValueError):
            return False  # unreachable now: ask again next time
        self._extras = isinstance(info, dict) and info.get("kind") == "embedded"
        return self._extras

    def _http(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        return exchange(method, self.server_url + path, body, self.timeout_s,
                        server_token(self.server_url))


class HttpServer:
    """What every HTTP server shares; the subclasses say how one is started."""

    kind: str | None = None
    connector: str | None = None

    def __init__(self, started: bool) -> None:
        self.started = started

    def server_url(self, settings: ServerSettings) -> str:
        return f"http://{settings.host}:{settings.server_port}"

    def check(self, settings: ServerSettings) -> None:
        refuse_retain(settings)
        refuse_exposure(settings, tokens=False, listens=self.started)

    def preflight(self, settings: ServerSettings, home: Home) -> Prepared:
        return Prepared(settings.server_url, settings.resonate_sql)

    def server_command(self, settings: ServerSettings, home: Home
                       ) -> tuple[list[str], dict[str, str]]:
        raise ValueError(f"{type(self).__name__} starts no server")

    def reader(self, url: str, timeout_s: float) -> ReadClient:
        return ResonateClient(url, timeout_s=timeout_s)

    def writer(self, url: str, timeout_s: float) -> WriteClient:
        return ResonateClient(url, timeout_s=timeout_s)

    def releaser(self, url: str) -> ExtrasRelease:
        return ExtrasRelease(url)

    def start_timers(self, url: str) -> Stoppable | None:
        return None  # an HTTP server fires its own timers

    def ready(self, url: str) -> bool:
        return http_ok(url + "/ready")

    def preload(self) -> tuple[str, ...]:
        return ()

    def handoff_socket(self, home: Home) -> Path | None:
        return None  # a server we do not run cannot adopt connections: the links relay


class HttpBackend(HttpServer):
    """A server already running at an ``http(s)://`` URL; ``up`` starts none."""

    connector = HTTP

    def server_url(self, settings: ServerSettings) -> str:
        return settings.server_url.rstrip("/")

    def preflight(self, settings: ServerSettings, home: Home) -> Prepared:
        """NotRunningError (exit 3) unless the server answers ``GET /health`` now."""
        if not ResonateClient(settings.server_url, timeout_s=3.0).healthy():
            raise NotRunningError(
                f"no Resonate server answers at {settings.server_url} (GET /health); start it "
                "first or fix --server-url"
            )
        return super().preflight(settings, home)
