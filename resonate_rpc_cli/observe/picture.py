"""The topology picture: one builder of what runs and what it is doing, for every view.

:func:`read_work` is the server's side (pending calls flagged by the doctor,
who holds which task, the lease rows), shared by ``status``/``watch``
(:func:`picture`) and the live view (``observe/live.py``, at its own rates);
the node side is the supervisor's typed rows. :class:`Picture` is what
``status`` renders and, through :meth:`Picture.to_dict`, the ``status --json``
document.

Everything here degrades instead of failing: a server without
``promise.search``/``task.search`` yields a one-line ``notice`` and empty
promise data; an unreachable server yields ``server.healthy = False``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

from resonate_rpc_cli.clients.protocol import PromiseRecord, ServerInfo, ServerUnreachable
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.record import Record, field
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.links.status import LinkStatus, LinkStatusJson
from resonate_rpc_cli.observe.doctor import Diagnosis
from resonate_rpc_cli.observe.leases import Holders, TaskRow, TaskRowJson, assess, fetch_leases
from resonate_rpc_cli.observe.snapshot import (
    MAX_PENDING,
    PromiseRow,
    PromiseRowJson,
    PromiseSource,
)
from resonate_rpc_cli.supervisor.client import SupervisorClient, TopologyStatus
from resonate_rpc_cli.supervisor.events import Event, EventJson
from resonate_rpc_cli.supervisor.rows import FaultRow, FaultRowJson, NodeRow, NodeRowJson
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig


class ServerSummaryJson(TypedDict):
    """``status --json``'s ``server``."""

    url: str
    healthy: bool
    kind: str
    durable: bool | None
    store: str | None
    managed: bool
    extras: bool


class NodeLineJson(NodeRowJson):
    """``status --json``'s node: the supervisor's row, its tasks and its link."""

    task: str | None
    tasks: list[str]
    link: str | None


class PendingRowJson(PromiseRowJson):
    """``status --json``'s pending promise with the doctor's verdict."""

    stuck: bool
    cause: str | None


class GatewayJson(TypedDict):
    url: str | None


class SupervisorJson(TypedDict):
    pid: int
    home: str
    states: dict[str, int]


class PromisesJson(TypedDict):
    counts: dict[str, int]
    pending: list[PendingRowJson]
    notice: NotRequired[str]


class StatusJson(TypedDict):
    """The ``status --json`` document (keys in this order)."""

    server: ServerSummaryJson
    gateway: GatewayJson
    supervisor: SupervisorJson
    nodes: list[NodeLineJson]
    promises: PromisesJson
    tasks: list[TaskRowJson]
    #: ``links/status.py``'s rows as they are (None: the topology runs without links)
    links: list[LinkStatusJson] | None
    faults: list[FaultRowJson]
    events: list[EventJson]
    app: str | None


class ServerSummary(Record):
    """The ``server`` part of ``status``."""

    url: str
    healthy: bool
    kind: str
    durable: bool | None
    store: str | None
    #: started by this topology (embedded/resonate) or already running elsewhere
    managed: bool
    #: whether it is our embedded server with its extras
    extras: bool

    @classmethod
    def read(cls, config: TopologyConfig, source: PromiseSource,
             info: ServerInfo | None) -> ServerSummary:
        """Ask the server if it is healthy; ``info`` is :meth:`PromiseSource.info`'s answer."""
        healthy = source.client.healthy()
        extra = info or {}
        return cls(url=config.server_url, healthy=healthy,
                   kind=extra.get("kind", "resonate" if healthy else "unknown"),
                   durable=extra.get("durable"), store=extra.get("store"),
                   managed=config.starts_server, extras=info is not None)

    def to_dict(self) -> ServerSummaryJson:
        return {"url": self.url, "healthy": self.healthy, "kind": self.kind,
                "durable": self.durable, "store": self.store, "managed": self.managed,
                "extras": self.extras}


class NodeLine(Record):
    """A node row with the task(s) it holds and its link's state, as the tables show it."""

    row: NodeRow
    #: what the table's task column shows
    task: str | None = None
    tasks: tuple[str, ...] = ()
    link: str | None = None

    def to_dict(self) -> NodeLineJson:
        return {**self.row.to_dict(), "task": self.task, "tasks": list(self.tasks),
                "link": self.link}


class PendingRow(Record):
    """A pending promise with the doctor's verdict."""

    promise: PromiseRow
    stuck: bool = False
    cause: str | None = None

    def to_dict(self) -> PendingRowJson:
        return {**self.promise.to_dict(), "stuck": self.stuck, "cause": self.cause}


class Work(Record):
    """The server's side of the picture."""

    #: the pending promise records as the server sent them (for the views' trees)
    records: list[PromiseRecord]
    pending: list[PendingRow]
    holders: Holders
    tasks: list[TaskRow]
    diagnoses: dict[str, Diagnosis]
    notice: str | None


def read_work(source: PromiseSource, nodes: Sequence[NodeRow], config: TopologyConfig, *,
              links: Sequence[LinkStatus] | None, faults: Sequence[FaultRow] = (),
              pending_limit: int = MAX_PENDING) -> Work:
    """Leases (once: they give the holders too), pending promises, and the doctor's flags
    (``faults``: the supervisor's fault rows, so an abandoned fault is named as the cause).

    Raises :class:`~resonate_rpc_cli.clients.protocol.ServerUnreachable`.
    """
    leases, notice = fetch_leases(source, views_need_it=True)
    records = source.search(state="pending", limit=pending_limit)
    report = assess(leases, notice, records, nodes, config, links=links, faults=faults)
    pending = []
    for rec in records:
        promise_id = str(rec["id"])
        diag = report.diagnoses.get(promise_id)
        pending.append(PendingRow(PromiseRow.from_record(rec, report.holders.holder(promise_id)),
                                  stuck=bool(diag and diag.stuck),
                                  cause=diag.line() if diag else None))
    return Work(records, pending, report.holders, report.tasks, report.diagnoses, report.notice)


def node_lines(nodes: Sequence[NodeRow], held: Mapping[str, list[str]],
               links: Sequence[LinkStatus] | None, *, all_tasks: bool = False) -> list[NodeLine]:
    """Each node with the tasks it holds (``held``: name → task ids) and its link.

    The task column shows the first task, or with ``all_tasks`` every one.
    """
    link_of = {link.node: link.state for link in links or []}
    lines = []
    for node in nodes:
        tasks = held.get(node.name, [])
        task = ", ".join(tasks) if all_tasks else (tasks[0] if tasks else None)
        lines.append(NodeLine(node, task or None, tuple(tasks), link_of.get(node.name)))
    return lines


class Picture(Record):
    """What ``status`` shows: the server, the nodes with their tasks, promises and work."""

    server: ServerSummary
    #: None when this topology runs no gateway (``up --only`` without it)
    gateway_url: str | None
    nodes: list[NodeLine]
    counts: dict[str, int] = field(default_factory=dict)
    pending: list[PendingRow] = field(default_factory=list)
    notice: str | None = None
    tasks: list[TaskRow] = field(default_factory=list)
    #: None when the topology runs without links
    links: list[LinkStatus] | None = None
    #: faults in force, held as leases by the supervisor (its rows, as it sent them)
    faults: list[FaultRow] = field(default_factory=list)
    supervisor_pid: int = 0
    home: str = ""
    #: the supervisor's latest events
    events: list[Event] = field(default_factory=list)
    #: the declared application's name (None: the seed)
    app: str | None = None

    def to_dict(self) -> StatusJson:
        """The ``status --json`` document."""
        promises: PromisesJson = {"counts": self.counts,
                                  "pending": [p.to_dict() for p in self.pending]}
        if self.notice:
            promises["notice"] = self.notice
        return {
            "server": self.server.to_dict(),
            "gateway": {"url": self.gateway_url},
            "supervisor": {"pid": self.supervisor_pid, "home": self.home,
                           "states": dict(Counter(n.row.state for n in self.nodes))},
            "nodes": [n.to_dict() for n in self.nodes],
            "promises": promises,
            # pending work: holder, lease left, attempts, idle (observe/leases.py)
            "tasks": [t.to_dict() for t in self.tasks],
            "links": None if self.links is None else [link.to_dict() for link in self.links],
            # faults in force, held as leases: kind, node, holder, deadline, left_s
            "faults": [f.to_dict() for f in self.faults],
            "events": [e.to_dict() for e in self.events],
            "app": self.app,
        }


def read_topology(home: Home) -> tuple[TopologyStatus, list[LinkStatus] | None]:
    """The node side: the supervisor's status (typed rows) and every link's state (None
    when the topology runs without links or they do not answer); ``status``, ``watch``
    and ``doctor`` start here.

    Raises :class:`~resonate_rpc_cli.contracts.errors.NotRunningError` without a supervisor.
    """
    sup = SupervisorClient(home).status(links=True)
    if not sup.config.links:
        return sup, None
    if "links" not in sup.raw:  # a supervisor started before it answered them with status
        return sup, LinkClient(home, timeout_s=2.0).status_or_none()
    links = sup.raw["links"]
    return sup, None if links is None else [LinkStatus.from_dict(d) for d in links]


def picture(home: Home, pending_limit: int = MAX_PENDING) -> Picture:
    """The topology under ``home`` now.

    Raises :class:`~resonate_rpc_cli.contracts.errors.NotRunningError` without a supervisor.
    """
    sup, links = read_topology(home)
    config = sup.config
    source = PromiseSource(config.server_url)
    info = source.info()  # once per answer: the summary and the counts share it
    server = ServerSummary.read(config, source, info)
    counts: dict[str, int] = {}
    work: Work | None = None
    notice: str | None = None
    if server.healthy:
        try:
            work = read_work(source, sup.nodes, config, links=links, faults=sup.fault_rows(),
                             pending_limit=pending_limit)
            notice = work.notice
            counts = source.counts(info=info)
        except ServerUnreachable as exc:
            notice = str(exc)
    else:
        notice = f"the server at {config.server_url} is not answering"
    notice = source.notice or notice
    held = work.holders.held_by() if work is not None else {}
    return Picture(
        server, config.gateway_url if config.includes("gateway") else None,
        node_lines(sup.nodes, held, links), counts, work.pending if work else [], notice,
        work.tasks if work else [], links, sup.fault_rows(), sup.supervisor_pid, str(home.root),
        sup.events[-20:], config.app.name if config.app is not None else None)


def collect_status(home: Home, pending_limit: int = MAX_PENDING) -> StatusJson:
    """The ``status --json`` document (:meth:`Picture.to_dict` of :func:`picture`)."""
    return picture(home, pending_limit).to_dict()
