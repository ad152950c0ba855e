"""The console's document: what the page draws, built from the live view's model.

:func:`console_document` is a pure function of a
:class:`~resonate_rpc_cli.observe.live.LiveModel` (the same model the
terminal's live view renders; it does the polling, this only reads). Its
:meth:`ConsoleDocument.to_dict` is the JSON each ``state`` event carries (the
chaos run's timeline is the ``chaos`` event's, ``web/chaos_feed.py``); the page
keeps no state of its own beyond them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TypedDict

from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.flows import FLOWS
from resonate_rpc_cli.links.status import LinkStatus, LinkStatusJson
from resonate_rpc_cli.observe.actions import Kind, Target, actions_for, flow_target
from resonate_rpc_cli.observe.live import LiveModel
from resonate_rpc_cli.observe.snapshot import PromiseRow, PromiseRowJson
from resonate_rpc_cli.supervisor.rows import FaultRow, FaultRowJson


class OfferedJson(TypedDict):
    """One button: an action a row offers now."""

    name: str
    label: str
    help: str
    ask: str | None


class HeldTaskJson(TypedDict):
    id: str
    lease_left_s: float | None


class ConsoleNodeJson(TypedDict):
    name: str
    group: str
    state: str
    pid: int | None
    restarts: int
    node_id: str | None
    link: str | None
    tasks: list[HeldTaskJson]
    cpu: str | None
    mem: str | None
    actions: list[OfferedJson]


class GraphPromiseJson(PromiseRowJson):
    """A promise of a call graph, with the doctor's flag and its buttons."""

    flag: str | None
    actions: list[OfferedJson]


class FlowGraphJson(TypedDict):
    root: str
    actions: list[OfferedJson]
    promises: list[GraphPromiseJson]


class RunnableJson(TypedDict):
    name: str
    root: str
    actions: list[OfferedJson]


class GroupJson(TypedDict):
    group: str
    count: int
    actions: list[OfferedJson]


class ConsoleDocumentJson(TypedDict):
    """The JSON each server-sent event carries (keys in this order)."""

    home: str
    server_url: str | None
    gateway_url: str | None
    ttl_s: float | None
    nodes: list[ConsoleNodeJson]
    groups: list[GroupJson]
    runnable: list[RunnableJson]
    flows: list[FlowGraphJson]
    counts: dict[str, int]
    events: list[str]
    #: ``links/status.py``'s rows as they are
    links: list[LinkStatusJson] | None
    faults: list[FaultRowJson]
    notice: str | None
    #: always null: the chaos run's timeline is the stream's own ``chaos`` part
    #: (``web/chaos_feed.py``); the key stays for the page's readers
    chaos: None
    at_ms: int


def offered(target: Target) -> list[OfferedJson]:
    """The actions the core offers ``target`` now (the page's buttons, the terminal's keys)."""
    return [{"name": a.name, "label": a.label, "help": a.help, "ask": a.ask}
            for a, _t in actions_for(target)]


@dataclass(frozen=True)
class HeldTask:
    """A task a node holds, with its lease's time left when the server reports it."""

    id: str
    lease_left_s: float | None

    def to_dict(self) -> HeldTaskJson:
        return {"id": self.id, "lease_left_s": self.lease_left_s}


@dataclass(frozen=True)
class ConsoleNode:
    """One node row of the page."""

    name: str
    group: str
    state: str
    pid: int | None
    restarts: int
    node_id: str | None
    link: str | None
    tasks: tuple[HeldTask, ...] = ()
    cpu: str | None = None
    mem: str | None = None
    #: scaled away, going once its process exited (not counted in its group's size)
    retiring: bool = False

    def to_dict(self) -> ConsoleNodeJson:
        return {"name": self.name, "group": self.group, "state": self.state, "pid": self.pid,
                "restarts": self.restarts, "node_id": self.node_id, "link": self.link,
                "tasks": [t.to_dict() for t in self.tasks], "cpu": self.cpu, "mem": self.mem,
                "actions": offered(Target(Kind.NODE, self.name, self.state, self.link))}


@dataclass(frozen=True)
class FlowGraph:
    """One call graph: its promises, each pointing at its parent (a DAG rooted at ``root``)."""

    root: str
    promises: tuple[PromiseRow, ...]
    #: promise id → the doctor's short cause for a stuck pending promise
    flags: dict[str, str] = field(default_factory=dict)
    #: the declared application that runs (its flows are what a root runs); None: the seed
    app: AppTopology | None = None

    def to_dict(self) -> FlowGraphJson:
        top = self.promises[0].state if self.promises else ""
        return {"root": self.root, "actions": offered(flow_target(self.root, top, self.app)),
                "promises": [{**p.to_dict(), "flag": self.flags.get(p.id),
                              "actions": offered(Target(Kind.PROMISE, p.id, p.state))}
                             for p in self.promises]}


@dataclass(frozen=True)
class ConsoleDocument:
    """Everything one frame of the page shows."""

    home: str
    server_url: str | None
    gateway_url: str | None
    ttl_s: float | None
    nodes: tuple[ConsoleNode, ...]
    flows: tuple[FlowGraph, ...]
    counts: dict[str, int]
    events: tuple[str, ...]
    #: every node's link (None: the topology runs without links)
    links: tuple[LinkStatus, ...] | None
    #: faults in force, held as leases by the supervisor
    faults: tuple[FaultRow, ...]
    notice: str | None
    #: wall-clock ms when it was built (the page counts leases down from it)
    at_ms: int = 0
    #: the declared application that runs (its flows are the runnable ones); None: the seed
    app: AppTopology | None = None

    def runnable(self) -> list[RunnableJson]:
        """The flows a run button starts: the declared application's, else the seed's."""
        if self.app is not None:
            return [{"name": f.name, "root": f.name,
                     "actions": offered(flow_target(f.name, "", self.app))}
                    for f in self.app.flows]
        return [{"name": f.name, "root": f.promise_id,
                 "actions": offered(Target(Kind.FLOW, f.promise_id))} for f in FLOWS.values()]

    def groups(self) -> list[GroupJson]:
        """Each group with its size and the actions it offers (scale)."""
        sizes: dict[str, int] = {}
        for node in self.nodes:
            sizes[node.group] = sizes.get(node.group, 0) + (0 if node.retiring else 1)
        return [{"group": g, "count": n, "actions": offered(Target(Kind.GROUP, g, count=n))}
                for g, n in sorted(sizes.items())]

    def to_dict(self) -> ConsoleDocumentJson:
        return {"home": self.home, "server_url": self.server_url,
                "gateway_url": self.gateway_url, "ttl_s": self.ttl_s,
                "nodes": [n.to_dict() for n in self.nodes], "groups": self.groups(),
                "runnable": self.runnable(),
                "flows": [f.to_dict() for f in self.flows], "counts": self.counts,
                "events": list(self.events),
                "links": None if self.links is None else [link.to_dict() for link in self.links],
                "faults": [f.to_dict() for f in self.faults],
                "notice": self.notice, "chaos": None, "at_ms": self.at_ms}


def _nodes(model: LiveModel) -> tuple[ConsoleNode, ...]:
    lease_left = {t.id: t.lease_left_s for t in model.tasks}
    rows = []
    for line in model.nodes_with_tasks():
        node = line.row
        usage = model.usage.get(node.pid or 0, {})
        rows.append(ConsoleNode(
            name=node.name, group=node.group, state=node.state, pid=node.pid,
            restarts=node.restarts, node_id=node.node_id, link=line.link,
            tasks=tuple(HeldTask(t, lease_left.get(t)) for t in line.tasks),
            cpu=usage.get("cpu"), mem=usage.get("mem"), retiring=node.retiring))
    return tuple(rows)


def console_document(model: LiveModel, now_ms: int | None = None) -> ConsoleDocument:
    """The page's frame from what ``model`` last polled (no I/O here)."""
    cfg = model.config
    app = cfg.app if cfg else None
    flows = tuple(FlowGraph(root, tuple(rows),
                            {p.id: model.flags[p.id] for p in rows if p.id in model.flags}, app)
                  for root, rows in model.trees.items())
    return ConsoleDocument(
        home=str(model.home.root),
        server_url=cfg.server_url if cfg else None,
        gateway_url=cfg.gateway_url if cfg and cfg.includes("gateway") else None,
        ttl_s=cfg.ttl_s if cfg else None,
        nodes=_nodes(model), flows=flows, counts=dict(model.counts),
        events=tuple(model.feed),
        links=None if model.links is None else tuple(model.links),
        faults=tuple(model.faults), notice=model.notice,
        at_ms=int(time.time() * 1000) if now_ms is None else now_ms, app=app)
