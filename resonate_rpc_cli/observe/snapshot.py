"""The server's promises as the views read them: :class:`PromiseSource` (queries that
remember what the server lacks), :class:`PromiseRow` and one call graph (``tree_rows``).
The topology picture that combines them with the nodes is ``observe/picture.py``'s.

Everything here degrades instead of failing: a server without
``promise.search``/``task.search`` yields a one-line ``notice`` and empty
promise data; an unreachable server yields ``server.healthy = False``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypedDict

from resonate_rpc_cli.backends import read_client
from resonate_rpc_cli.clients.protocol import PromiseRecord, ProtocolError, ServerInfo
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.payload import decode_payload
from resonate_rpc_cli.contracts.record import Record

PROMISE_STATES = ("pending", "resolved", "rejected", "rejected_canceled", "rejected_timedout")
MAX_COUNTED = 100_000
MAX_PENDING = 200
MAX_TREE = 500


class PromiseRowJson(TypedDict):
    """A promise row's JSON (``status --json``'s pending, the console's flows)."""

    id: str
    state: str
    func: str | None
    args: Any
    value: Any
    parent: str | None
    origin: str | None
    created_ms: int | None
    settled_ms: int | None
    holder: str | None


class PromiseRow(Record):
    """One promise, flattened for display."""

    id: str
    state: str
    func: str | None
    args: Any
    value: Any
    parent: str | None
    origin: str | None
    created_ms: int | None
    settled_ms: int | None
    holder: str | None = None  # node name holding its task

    @classmethod
    def from_record(cls, rec: PromiseRecord, holder: str | None = None) -> PromiseRow:
        tags = rec.get("tags") or {}
        param = decode_payload(rec.get("param"))
        func = param.get("func") if isinstance(param, dict) else None
        if not isinstance(func, str):
            func = "(sleep)" if tags.get(tag.TIMER) == "true" else (
                "(run)" if tags.get(tag.SCOPE) == "local" else None)
        args = param.get("args") if isinstance(param, dict) else None
        state = str(rec.get("state", "?")).lower()
        value = decode_payload(rec.get("value")) if state != "pending" else None
        parent = tags.get(tag.PARENT)
        return cls(
            id=str(rec.get("id")), state=state, func=func,
            args=args, value=value,
            parent=parent if parent and parent != rec.get("id") else None,
            origin=tags.get(tag.ORIGIN),
            created_ms=rec.get("createdAt"), settled_ms=rec.get("settledAt"), holder=holder,
        )

    def to_dict(self) -> PromiseRowJson:
        return {
            "id": self.id, "state": self.state, "func": self.func, "args": self.args,
            "value": self.value, "parent": self.parent, "origin": self.origin,
            "created_ms": self.created_ms, "settled_ms": self.settled_ms, "holder": self.holder,
        }


class PromiseSource:
    """Promise and task queries against one server, remembering what it lacks."""

    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        self.client = read_client(url, timeout_s=timeout_s)
        self.notice: str | None = None
        self.search_supported = True
        #: whether the server is our embedded one with its extras (None: not asked yet)
        self.extras: bool | None = None

    def unsupported(self, exc: ProtocolError, what: str) -> None:
        """Note that the server lacks ``what``: promise views are off from now on."""
        self.search_supported = False
        self.notice = f"the server does not offer {what} ({exc}); promise views are off"

    def search(self, state: str | None = None, tags: dict[str, str] | None = None,
               limit: int = MAX_PENDING) -> list[PromiseRecord]:
        """Up to ``limit`` promise records; empty (with :attr:`notice`) if unsupported."""
        if not self.search_supported:
            return []
        try:
            return list(self.client.promise_search(
                state=state, tags=tags, page_size=min(1000, max(1, limit)), max_items=limit))
        except ProtocolError as exc:
            if exc.status in (400, 404, 501):
                self.unsupported(exc, "promise.search")
            return []

    def counts_are_cheap(self) -> bool:
        """Whether :meth:`counts` is one request (our server's ``/rpcdemo/info``)."""
        if self.extras is None:
            self.extras = self.client.info() is not None
        return self.extras

    def info(self) -> ServerInfo | None:
        """Our server's ``/rpcdemo/info`` (``None`` elsewhere); remembers which it is."""
        info = self.client.info()
        self.extras = info is not None
        return info

    def counts(self, limit: int = MAX_COUNTED,
               info: ServerInfo | None = None) -> dict[str, int]:
        """Promises per state: from our server's info (``info`` when already fetched) in
        one request, else by searching (each count then capped at ``limit``)."""
        if info is not None or self.counts_are_cheap():
            info = info if info is not None else self.client.info()
            states = info.get("promise_states") if info is not None else None
            if isinstance(states, dict):
                return {state: int(states.get(state, 0)) for state in PROMISE_STATES}
            self.extras = False
        out: dict[str, int] = {}
        for state in PROMISE_STATES:
            n = len(self.search(state=state, limit=limit))
            if not self.search_supported:
                return {}
            out[state] = n
        return out


def tree_rows(source: PromiseSource, root_id: str, holder: Callable[[str], str | None],
              limit: int = MAX_TREE) -> list[PromiseRow]:
    """The call graph rooted at ``root_id`` (root first, then by creation), up to ``limit``.

    ``holder`` names the node holding a task (``observe.leases.Holders.holder``).
    """
    records = {r["id"]: r for r in source.search(tags={tag.ORIGIN: root_id}, limit=limit)}
    if root_id not in records:
        with contextlib.suppress(ProtocolError):
            root = source.client.promise_get(root_id)
            if root is not None:
                records[root_id] = root
    rows = [PromiseRow.from_record(r, holder(str(r["id"]))) for r in records.values()]
    rows.sort(key=lambda r: (r.id != root_id, r.created_ms or 0, r.id))
    return rows
