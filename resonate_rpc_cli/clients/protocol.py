"""A small synchronous client for the Resonate server protocol (reads, and promise settles).

Used by ``status``, ``tree``, the live view and the chaos checker, through
``backends.read_client``, which picks SQL reads for a resonate-pg database
(:class:`ReadClient` is what both offer). It speaks
only what the real server offers (``promise.get``, ``promise.search``,
``task.search``, ``promise.settle`` for ``rpcdemo promise``/``flow cancel``
through ``backends.write_client``) plus, when :meth:`ResonateClient.info` says the server is our
embedded one, its extras. Every method raises :class:`ServerUnreachable` when
the server cannot be reached and :class:`ProtocolError` for an error status.

The records travel as the protocol's JSON shapes (:class:`PromiseRecord`,
:class:`TaskRecord`, :class:`ServerInfo`): the HTTP client passes the server's
JSON on as it came, the resonate-pg reader builds the same shapes from rows.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from typing import Any, NotRequired, Protocol, TypedDict, cast

from resonate_base import PROTOCOL_VERSION

from resonate_rpc_cli.clients.http import exchange
from resonate_rpc_cli.clients.tokens import server_token

_corr = itertools.count(1)


class Payload(TypedDict, total=False):
    """A promise's ``param`` or ``value``: headers and base64 data (absent when empty)."""

    headers: dict[str, str] | None
    data: str | None


class PromiseRecord(TypedDict):
    """One durable promise as the protocol carries it (times in ms since the epoch).

    Only ``id`` is sure: readers take the rest with ``.get`` (a server may leave a
    part out, or spell a state in capitals)."""

    id: str
    state: NotRequired[str]
    param: NotRequired[Payload | None]
    value: NotRequired[Payload | None]
    tags: NotRequired[dict[str, str] | None]
    timeoutAt: NotRequired[int | None]
    createdAt: NotRequired[int | None]
    settledAt: NotRequired[int | None]


class TaskExtras(TypedDict, total=False):
    """Our embedded server's ``rpcdemo`` part of a task (``server/progress.py``)."""

    expiresAt: int | None
    acquires: int
    changedAt: int | None
    changedBy: str | None


class TaskRecord(TypedDict):
    """One task as ``task.search`` answers it; ``pid``/``ttl`` while it is leased, and our
    embedded server's extras when it offers them."""

    id: str
    state: str
    version: int
    pid: NotRequired[str | None]
    ttl: NotRequired[int | None]
    rpcdemo: NotRequired[TaskExtras]


class ServerInfo(TypedDict, total=False):
    """What a server says about itself (``GET /rpcdemo/info`` on ours; resonate-pg's
    reader answers the first four); only the keys the views read are named."""

    kind: str
    durable: bool
    store: str | None
    promise_states: dict[str, int]
    version: str
    listeners: list[str]
    held: int
    promises: int
    tasks: int


class _Search(TypedDict, total=False):
    limit: int
    state: str
    tags: dict[str, str]
    cursor: str


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
        except OSError as exc:  # refused, reset, timed out (urllib's URLError is one too)
            raise ServerUnreachable(f"cannot reach Resonate server at {self.url}: {exc}") from exc

    def request(self, kind: str, data: Mapping[str, object]) -> dict[str, Any]:
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

    def promise_get(self, promise_id: str) -> PromiseRecord | None:
        """The promise record, or ``None`` if the server does not know it."""
        try:
            record: PromiseRecord = self.request("promise.get", {"id": promise_id})["promise"]
            return record
        except ProtocolError as exc:
            if exc.status == 404:
                return None
            raise

    def promise_settle(self, promise_id: str, state: str, value: Payload
                       ) -> PromiseRecord | None:
        """``promise.settle`` to ``state`` (``resolved``, ``rejected`` or
        ``rejected_canceled``) with ``value`` (``{"headers"?, "data"?}``); the record the
        server answers (an already settled promise comes back unchanged, as Resonate's
        servers do), or ``None`` if the server does not know the promise."""
        try:
            data = self.request("promise.settle",
                                {"id": promise_id, "state": state, "value": value})
        except ProtocolError as exc:
            if exc.status == 404:
                return None
            raise
        record: PromiseRecord = data["promise"]
        return record

    def promise_search(
        self,
        state: str | None = None,
        tags: dict[str, str] | None = None,
        page_size: int = 1000,
        max_items: int | None = None,
    ) -> Iterator[PromiseRecord]:
        """Every promise matching ``state`` and ``tags``, following cursors."""
        cursor: str | None = None
        seen = 0
        while True:
            data: _Search = {"limit": page_size}
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

    def task_search(self, state: str | None = None, page_size: int = 1000) -> list[TaskRecord]:
        """Every task (optionally in ``state``), following cursors."""
        out: list[TaskRecord] = []
        cursor: str | None = None
        while True:
            data: _Search = {"limit": page_size}
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

    def info(self) -> ServerInfo | None:
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
        return cast("ServerInfo", obj) if isinstance(obj, dict) else None


class WriteClient(Protocol):
    """The write side on durable promises, whichever server holds them (HTTP or
    resonate-pg); raises :class:`ServerUnreachable` and :class:`ProtocolError`."""

    url: str

    def promise_settle(self, promise_id: str, state: str, value: Payload
                       ) -> PromiseRecord | None: ...


class ReadClient(Protocol):
    """The read side every view uses, whichever server it reads (HTTP or resonate-pg).

    Methods raise :class:`ServerUnreachable` and :class:`ProtocolError` like
    :class:`ResonateClient`; ``info`` is ``None`` when the server has no extras.
    """

    url: str

    def promise_get(self, promise_id: str) -> PromiseRecord | None: ...

    def promise_search(
        self, state: str | None = None, tags: dict[str, str] | None = None,
        page_size: int = 1000, max_items: int | None = None,
    ) -> Iterator[PromiseRecord]: ...

    def task_search(self, state: str | None = None, page_size: int = 1000
                    ) -> list[TaskRecord]: ...

    def healthy(self) -> bool: ...

    def info(self) -> ServerInfo | None: ...
