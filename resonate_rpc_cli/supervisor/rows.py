"""The node row: one node slot as the supervisor reports it, from its table to every view.

:class:`NodeRow` is what :meth:`~.manager.Supervisor.snapshot` returns, what
:class:`~.client.SupervisorClient` hands back, and what ``status``, the live
view, ``doctor`` and chaos read. Its JSON form (:meth:`NodeRow.to_dict`, the
``status --json`` node keys in their order) exists only at the control
socket and in ``--json`` output; its shape is :class:`NodeRowJson`, and the
``status`` answer's :class:`StatusDoc`.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from resonate_rpc_cli.contracts.record import Record
from resonate_rpc_cli.links.status import LinkStatusJson
from resonate_rpc_cli.supervisor.events import EventJson


class NodeRowJson(TypedDict):
    """A node row's JSON (``status --json``'s nodes, keys in this order); a reader takes
    the optional parts as absent when they are missing."""

    name: str
    group: str
    pid: NotRequired[int | None]
    state: str
    restarts: NotRequired[int]
    uptime_s: NotRequired[float | None]
    node_id: NotRequired[str | None]
    incarnation: NotRequired[int]
    log: NotRequired[str | None]
    last_exit: NotRequired[int | None]
    past_node_ids: NotRequired[list[str]]
    retiring: NotRequired[bool]


class FaultRowJson(TypedDict):
    """A fault row's JSON (``status --json``'s faults)."""

    id: int
    kind: str
    node: str
    holder: str
    holder_pid: int | None
    holder_alive: bool
    deadline: float
    left_s: float
    since: float


class SignalledJson(TypedDict):
    name: str
    pid: int
    signal: str


class StartedJson(TypedDict):
    name: str
    pid: int
    node_id: str | None


class HealedJson(TypedDict):
    id: int
    kind: str
    node: str
    holder: str
    done: str


class StatusDoc(TypedDict):
    """The supervisor's ``status`` answer on the control socket (``requests.status``
    writes it, :class:`~.client.TopologyStatus` reads it); ``config`` is the
    topology's settings as JSON text, ``targets`` every kill/respawn target."""

    supervisor_pid: int
    config: str
    nodes: list[NodeRowJson]
    all_ready: bool
    shutting_down: bool
    events: NotRequired[list[EventJson]]
    targets: NotRequired[list[str]]
    faults: NotRequired[list[FaultRowJson]]
    #: asked with ``links``: every link's status (None: no links, or they did not answer);
    #: absent from a supervisor that predates it
    links: NotRequired[list[LinkStatusJson] | None]


def _opt_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float | str) and str(value) != "" else None


class NodeRow(Record):
    """One node slot: its process (``pid`` None when it has none), state and history."""

    name: str
    group: str
    pid: int | None
    state: str
    restarts: int = 0
    #: seconds since this incarnation started; None without a live process
    uptime_s: float | None = None
    #: the Resonate pid of the current incarnation; None before the first start
    node_id: str | None = None
    incarnation: int = 0
    log: str | None = None
    last_exit: int | None = None
    #: Resonate pids of earlier incarnations, oldest first
    past_node_ids: tuple[str, ...] = ()
    #: scaled away: the slot goes once its process has exited
    retiring: bool = False

    @classmethod
    def from_dict(cls, doc: NodeRowJson) -> NodeRow:
        """Parse one JSON row (missing optional keys take their defaults)."""
        uptime = doc.get("uptime_s")
        return cls(
            name=str(doc["name"]), group=str(doc["group"]), pid=_opt_int(doc.get("pid")),
            state=str(doc["state"]), restarts=int(doc.get("restarts") or 0),
            uptime_s=float(uptime) if uptime is not None else None,
            node_id=str(doc["node_id"]) if doc.get("node_id") else None,
            incarnation=int(doc.get("incarnation") or 0),
            log=str(doc["log"]) if doc.get("log") else None,
            last_exit=_opt_int(doc.get("last_exit")),
            past_node_ids=tuple(str(i) for i in doc.get("past_node_ids") or ()),
            retiring=bool(doc.get("retiring", False)),
        )

    def to_dict(self) -> NodeRowJson:
        """The JSON row (the keys of ``status --json``'s nodes, in their order)."""
        return {
            "name": self.name, "group": self.group, "pid": self.pid, "state": self.state,
            "restarts": self.restarts, "uptime_s": self.uptime_s, "node_id": self.node_id,
            "incarnation": self.incarnation, "log": self.log, "last_exit": self.last_exit,
            "past_node_ids": list(self.past_node_ids), "retiring": self.retiring,
        }


class Signalled(Record):
    """A node ``kill`` sent a signal to (``signal`` without ``SIG``: KILL, TERM, STOP, CONT)."""

    name: str
    pid: int
    signal: str

    @classmethod
    def from_dict(cls, doc: SignalledJson) -> Signalled:
        return cls(str(doc["name"]), int(doc["pid"]), str(doc["signal"]))

    def to_dict(self) -> SignalledJson:
        return {"name": self.name, "pid": self.pid, "signal": self.signal}


class Started(Record):
    """A node incarnation the supervisor started on request, once it runs."""

    name: str
    pid: int
    node_id: str | None

    @classmethod
    def from_dict(cls, doc: StartedJson) -> Started:
        return cls(str(doc["name"]), int(doc["pid"]), str(doc["node_id"]) if doc.get("node_id")
                   else None)

    def to_dict(self) -> StartedJson:
        return {"name": self.name, "pid": self.pid, "node_id": self.node_id}


class FaultRow(Record):
    """One fault in force, held as a lease by the supervisor (``fault_leases.py``): who
    holds it, whether the holder still runs, its deadline (epoch s) and time left."""

    id: int
    kind: str
    node: str
    holder: str
    holder_pid: int | None
    holder_alive: bool
    deadline: float
    left_s: float
    since: float

    @classmethod
    def from_dict(cls, doc: FaultRowJson) -> FaultRow:
        return cls(int(doc["id"]), str(doc["kind"]), str(doc["node"]),
                   str(doc.get("holder", "?")), _opt_int(doc.get("holder_pid")),
                   bool(doc.get("holder_alive", True)), float(doc.get("deadline", 0.0)),
                   float(doc.get("left_s", 0.0)), float(doc.get("since", 0.0)))

    def to_dict(self) -> FaultRowJson:
        """The ``status`` row (``status --json``'s ``faults``, keys in their order)."""
        return {"id": self.id, "kind": self.kind, "node": self.node, "holder": self.holder,
                "holder_pid": self.holder_pid, "holder_alive": self.holder_alive,
                "deadline": self.deadline, "left_s": self.left_s, "since": self.since}


class Healed(Record):
    """A fault ``heal`` ended: which, held by whom, and what healing it did."""

    id: int
    kind: str
    node: str
    holder: str
    done: str

    @classmethod
    def from_dict(cls, doc: HealedJson) -> Healed:
        return cls(int(doc["id"]), str(doc["kind"]), str(doc["node"]), str(doc["holder"]),
                   str(doc["done"]))

    def to_dict(self) -> HealedJson:
        return {"id": self.id, "kind": self.kind, "node": self.node, "holder": self.holder,
                "done": self.done}
