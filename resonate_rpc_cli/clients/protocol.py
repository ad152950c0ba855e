"""A small synchronous client for the Resonate server protocol (read side).

Used by ``status``, ``tree``, the live view and the chaos checker, through
``backends.read_client``, which picks SQL reads for a resonate-pg database
(:class:`ReadClient` is what both offer). It speaks
only what the real server offers (``promise.get``, ``promise.search``,
``task.search``) plus, when :meth:`ResonateClient.info` says the server is our
embedded one, its extras. Every method raises :class:`ServerUnreachable` when
the server cannot be reached and :class:`ProtocolError` for an error status.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
from collections.abc import Iterator
from typing import Any, Protocol

from resonate_base import PROTOCOL_VERSION

from resonate_rpc_cli.clients.http import exchange
from resonate_rpc_cli.clients.tokens import server_token

_corr = itertools.count(1)


class ServerUnreachable(Exception):
    """The server at the given URL did not answer."""


class ProtocolError(Exception):
    """The server answered a request with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class ResonateClient:
    """Blocking protocol client; cheap to construct, holds no connection."""

    def __init__(self, url: str, timeout_s: float = 5.0, token: str | None = None) -> None:
        """``token`` (default :func:`~.tokens.server_token`) goes in every envelope's
        ``head.auth`` and, for ``/rpcdemo/*``, in the ``Authorization`` header."""
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.token = token if token is not None else server_token(self.url)

    # -- raw -------------------------------------------------------------------

    def _http(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        try:
            return exchange(method, self.url + path, body, self.timeout_s, self.token)
        except (urllib.error.URLError, OSError) as exc:
            raise ServerUnreachable(f"cannot reach Resonate server at {self.url}: {exc}") from exc

    def request(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send one envelope; return its ``data`` or raise :class:`ProtocolError`."""
        head = {"corrId": f"rpcdemo-{next(_corr)}", "version": PROTOCOL_VERSION}
        if self.token:
            head["auth"] = self.token
        envelope = {"kind": kind, "head": head, "data": data}
        status, raw = self._http("POST", "/", json.dumps(envelope).encode())
        try:
            resp = json.loads(raw)
        except ValueError as exc:
            raise ProtocolError(status, f"non-JSON response to {kind}") from exc
        head = resp.get("head", {}) if isinstance(resp, dict) else {}
        code = int(head.get("status", status))
        body = resp.get("data", {}) if isinstance(resp, dict) else {}
        if code >= 400:
            # the Rust server's error data is the message (older rpcdemo servers: {"error"})
            err = body.get("error") if isinstance(body, dict) else body
            raise ProtocolError(code, str(err or resp))
        return body if isinstance(body, dict) else {}

    # -- promises and tasks ----------------------------------------------------

    def promise_get(self, promise_id: str) -> dict[str, Any] | None:
        """The promise record, or ``None`` if the server does not know it."""
        try:
            return dict(self.request("promise.get", {"id": promise_id})["promise"])
        except ProtocolError as exc:
            if exc.status == 404:
                return None
            raise

    def promise_search(
        self,
        state: str | None = None,
        tags: dict[str, str] | None = None,
        page_size: int = 1000,
        max_items: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every promise matching ``state`` and ``tags``, following cursors."""
        cursor: str | None = None
        seen = 0
        while True:
            data: dict[str, Any] = {"limit": page_size}
            if state is not None:
                data["state"] = state
            if tags:
                data["tags"] = tags
            if cursor is not None:
                data["cursor"] = cursor
            page = self.request("promise.search", data)
            for p in page.get("promises", []):
                yield p
                seen += 1
                if max_items is not None and seen >= max_items:
                    return
            cursor = page.get("cursor")
            if not cursor:
                return

    def task_search(self, state: str | None = None, page_size: int = 1000) -> list[dict[str, Any]]:
        """Every task (optionally in ``state``), following cursors."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            data: dict[str, Any] = {"limit": page_size}
            if state is not None:
                data["state"] = state
            if cursor is not None:
                data["cursor"] = cursor
            page = self.request("task.search", data)
            out.extend(page.get("tasks", []))
            cursor = page.get("cursor")
            if not cursor:
                return out

    # -- health and embedded-server extras -------------------------------------

    def healthy(self) -> bool:
        try:
            status, _ = self._http("GET", "/health")
        except ServerUnreachable:
            return False
        return status == 200

    def info(self) -> dict[str, Any] | None:
        """Our embedded server's ``GET /rpcdemo/info``; ``None`` on any other server."""
        try:
            status, raw = self._http("GET", "/rpcdemo/info")
        except ServerUnreachable:
            return None
        if status != 200:
            return None
        try:
            obj = json.loads(raw)
        except ValueError:
            return None
        return obj if isinstance(obj, dict) else None


class ReadClient(Protocol):
    """The read side every view uses, whichever server it reads (HTTP or resonate-pg).

    Methods raise :class:`ServerUnreachable` and :class:`ProtocolError` like
    :class:`ResonateClient`; ``info`` is ``None`` when the server has no extras.
    """

    url: str

    def promise_get(self, promise_id: str) -> dict[str, Any] | None: ...

    def promise_search(
        self, state: str | None = None, tags: dict[str, str] | None = None,
        page_size: int = 1000, max_items: int | None = None,
    ) -> Iterator[dict[str, Any]]: ...

    def task_search(self, state: str | None = None, page_size: int = 1000
                    ) -> list[dict[str, Any]]: ...

    def healthy(self) -> bool: ...

    def info(self) -> dict[str, Any] | None: ...
