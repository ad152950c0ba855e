"""Read-only views of a running topology: nodes (from the supervisor), promises and tasks
(from the server), combined into plain data for ``status``, ``tree`` and the live view.

Everything here degrades instead of failing: a server without
``promise.search``/``task.search`` yields a one-line ``notice`` and empty
promise data; an unreachable server yields ``server.healthy = False``.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from resonate_rpc_cli.clients.protocol import ProtocolError, ServerUnreachable, read_client
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.payload import decode_payload
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.links.status import LinkStatus
from resonate_rpc_cli.observe.facts import node_names_by_id
from resonate_rpc_cli.observe.leases import flag_rows, lease_report
from resonate_rpc_cli.supervisor.client import SupervisorClient
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

PROMISE_STATES = ("pending", "resolved", "rejected", "rejected_canceled", "rejected_timedout")
MAX_COUNTED = 100_000
MAX_PENDING = 200
MAX_TREE = 500


@dataclass(frozen=True)
class PromiseRow:
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
    def from_record(cls, rec: dict[str, Any], holder: str | None = None) -> PromiseRow:
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

    def to_dict(self) -> dict[str, Any]:
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

    def _unsupported(self, exc: ProtocolError, what: str) -> None:
        self.search_supported = False
        self.notice = f"the server does not offer {what} ({exc}); promise views are off"

    def task_holders(self) -> dict[str, str]:
        """Task (= promise) id → Resonate pid (node id) of the node holding it."""
        if not self.search_supported:
            return {}
        try:
            tasks = self.client.task_search(state="acquired")
        except ProtocolError as exc:
            if exc.status in (400, 404, 501):
                self._unsupported(exc, "task.search")
            return {}
        return {str(t["id"]): str(t["pid"]) for t in tasks if t.get("pid")}

    def search(self, state: str | None = None, tags: dict[str, str] | None = None,
               limit: int = MAX_PENDING) -> list[dict[str, Any]]:
        """Up to ``limit`` promise records; empty (with :attr:`notice`) if unsupported."""
        if not self.search_supported:
            return []
        try:
            return list(self.client.promise_search(
                state=state, tags=tags, page_size=min(1000, max(1, limit)), max_items=limit))
        except ProtocolError as exc:
            if exc.status in (400, 404, 501):
                self._unsupported(exc, "promise.search")
            return []

    def counts_are_cheap(self) -> bool:
        """Whether :meth:`counts` is one request (our server's ``/rpcdemo/info``)."""
        if self.extras is None:
            self.extras = self.client.info() is not None
        return self.extras

    def info(self) -> dict[str, Any] | None:
        """Our server's ``/rpcdemo/info`` (``None`` elsewhere); remembers which it is."""
        info = self.client.info()
        self.extras = info is not None
        return info

    def counts(self, limit: int = MAX_COUNTED,
               info: dict[str, Any] | None = None) -> dict[str, int]:
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


def held_by_node(holders: dict[str, str], names: dict[str, str]) -> dict[str, list[str]]:
    """Node name (or unknown node id) -> the sorted ids of the tasks it holds.

    ``holders`` maps task id -> node id (:meth:`PromiseSource.task_holders`),
    ``names`` node id -> name (:func:`node_names_by_id`).
    """
    held: dict[str, list[str]] = {}
    for task_id, pid in holders.items():
        held.setdefault(names.get(pid, pid), []).append(task_id)
    return {name: sorted(ids) for name, ids in held.items()}


def tree_rows(source: PromiseSource, root_id: str, names: dict[str, str],
              holders: dict[str, str] | None = None, limit: int = MAX_TREE) -> list[PromiseRow]:
    """The call graph rooted at ``root_id`` (root first, then by creation), up to ``limit``.

    ``holders`` (task id → node id, from :meth:`PromiseSource.task_holders`) is
    fetched when not given.
    """
    if holders is None:
        holders = source.task_holders()
    records = {r["id"]: r for r in source.search(tags={tag.ORIGIN: root_id}, limit=limit)}
    if root_id not in records:
        with contextlib.suppress(ProtocolError):
            root = source.client.promise_get(root_id)
            if root is not None:
                records[root_id] = root
    rows = [PromiseRow.from_record(r, _holder(holders, names, str(r["id"])))
            for r in records.values()]
    rows.sort(key=lambda r: (r.id != root_id, r.created_ms or 0, r.id))
    return rows


def _holder(holders: dict[str, str], names: dict[str, str], promise_id: str) -> str | None:
    pid = holders.get(promise_id)
    if pid is None:
        return None
    return names.get(pid, pid)


def server_summary(config: TopologyConfig, source: PromiseSource,
                   info: dict[str, Any] | None) -> dict[str, Any]:
    """The ``server`` part of ``status``; ``info`` is :meth:`PromiseSource.info`'s answer."""
    healthy = source.client.healthy()
    return {
        "url": config.server_url,
        "healthy": healthy,
        "kind": (info or {}).get("kind", "resonate" if healthy else "unknown"),
        "durable": (info or {}).get("durable"),
        "store": (info or {}).get("store"),
        # started by this topology (embedded/resonate) or already running elsewhere
        "managed": config.starts_server,
        "extras": info is not None,
    }


def collect_status(home: Home, pending_limit: int = MAX_PENDING) -> dict[str, Any]:
    """The ``status --json`` document: ``{"server", "nodes", "promises"}`` (plus ``events``).

    Raises :class:`~resonate_rpc_cli.contracts.errors.NotRunningError` without a supervisor.
    """
    sup = SupervisorClient(home).status()
    config = sup.config
    source = PromiseSource(config.server_url)
    info = source.info()  # once per answer: the summary and the counts share it
    server = server_summary(config, source, info)
    names = node_names_by_id(sup.node_rows())
    links = LinkClient(home, timeout_s=2.0).status_or_none() if config.links else None
    promises: dict[str, Any] = {"counts": {}, "pending": []}
    work: list[dict[str, Any]] = []
    held: dict[str, list[str]] = {}
    if server["healthy"]:
        try:
            holders = source.task_holders()
            held = held_by_node(holders, names)
            promises["counts"] = source.counts(info=info)
            records = source.search(state="pending", limit=pending_limit)
            promises["pending"] = [
                PromiseRow.from_record(r, _holder(holders, names, str(r["id"]))).to_dict()
                for r in records
            ]
            work = _with_leases(promises, source, records, sup.node_rows(), config, links=links)
        except ServerUnreachable as exc:
            promises["notice"] = str(exc)
    else:
        promises["notice"] = f"the server at {config.server_url} is not answering"
    if source.notice:
        promises["notice"] = source.notice
    link_of = {link.node: link.state for link in links or []}
    nodes = []
    for node in sup.node_rows():
        tasks = held.get(node["name"], [])
        nodes.append({**node, "task": tasks[0] if tasks else None, "tasks": tasks,
                      "link": link_of.get(node["name"])})
    counts = Counter(n["state"] for n in nodes)
    return {
        "server": server,
        # null when this topology runs no gateway (`up --only` without it)
        "gateway": {"url": config.gateway_url if config.includes("gateway") else None},
        "supervisor": {"pid": sup.supervisor_pid, "home": str(home.root),
                       "states": dict(counts)},
        "nodes": nodes,
        "promises": promises,
        # pending work: holder, lease left, attempts, idle (observe/leases.py)
        "tasks": work,
        # null when the topology runs without links (`up` without `--links`)
        "links": None if links is None else [link.to_dict() for link in links],
        "events": sup.events[-20:],
    }


def _with_leases(promises: dict[str, Any], source: PromiseSource, records: list[dict[str, Any]],
                 nodes: list[dict[str, Any]], config: TopologyConfig, *,
                 links: list[LinkStatus] | None) -> list[dict[str, Any]]:
    """Flag the pending rows (stuck, the doctor's cause); return the task rows."""
    report = lease_report(source, records, nodes, config, links=links)
    flag_rows(promises["pending"], report.diagnoses)
    if report.notice:
        promises["notice"] = report.notice
    return report.tasks
