"""What the doctor knows about a topology, as plain immutable facts.

Everything here is data: promise records, task records, the process table,
ledger counts, log lines, link states. :mod:`.doctor` turns them into causes
without any I/O; :mod:`.gather` collects them from a running topology.
A fact source the topology lacks is ``None`` (a bare external server has no
process table; a server without ``task.search`` has no leases), and the
doctor then says what it cannot know instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from resonate_rpc_cli.clients.protocol import PromiseRecord, TaskExtras, TaskRecord
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.payload import decode_payload
from resonate_rpc_cli.contracts.record import Record, field
from resonate_rpc_cli.supervisor.rows import FaultRow, NodeRow

#: Node states with a process expected to be doing work.
WORKING_STATES = frozenset({"starting", "ready"})
#: Node states whose process is gone (or going) and holds nothing any more.
DEAD_STATES = frozenset({"killed", "backoff", "failed", "stopping", "stopped", "pending"})


class Call(Record):
    """One promise as the doctor needs it: who runs it, under whom, when."""

    id: str
    state: str
    func: str | None
    parent: str | None
    #: the group its task is sent to (``poll://any@service-b`` → ``service-b``); None for
    #: a local checkpoint (``ctx.run``), a timer or a promise nothing executes
    group: str | None
    kind: str  # "call" | "run" | "sleep"
    created_ms: int | None
    settled_ms: int | None
    timeout_ms: int | None

    @classmethod
    def from_record(cls, rec: PromiseRecord) -> Call:
        """Build from a server promise record (the protocol's shape)."""
        tags = rec.get("tags") or {}
        param = decode_payload(rec.get("param"))
        func = param.get("func") if isinstance(param, dict) else None
        kind = "sleep" if tags.get(tag.TIMER) == "true" else (
            "run" if tags.get(tag.SCOPE) == "local" else "call")
        parent = tags.get(tag.PARENT)
        return cls(
            id=str(rec.get("id")), state=str(rec.get("state", "?")).lower(),
            func=func if isinstance(func, str) else None,
            parent=parent if parent and parent != rec.get("id") else None,
            group=target_group(tags.get(tag.TARGET)), kind=kind,
            created_ms=_int(rec.get("createdAt")), settled_ms=_int(rec.get("settledAt")),
            timeout_ms=_int(rec.get("timeoutAt")),
        )

    @property
    def label(self) -> str:
        """``bar@service-b``, ``(sleep)``, ``(run)``."""
        if self.kind != "call":
            return f"({self.kind})"
        return f"{self.func or '?'}@{self.group or '?'}"


class Lease(Record):
    """One task as the server reports it; the extras only on our embedded server."""

    id: str
    state: str  # pending | acquired | suspended | halted | fulfilled
    pid: str | None = None
    ttl_ms: int | None = None
    version: int = 0
    expires_ms: int | None = None  # when the lease lapses (embedded server only)
    acquires: int | None = None  # leases granted since the server started (embedded only)
    changed_ms: int | None = None  # last state change of the task (embedded only)
    changed_by: str | None = None  # what changed it: a request kind, "lapse", "release"

    @classmethod
    def from_record(cls, rec: TaskRecord) -> Lease:
        raw = rec.get("rpcdemo")
        extra: TaskExtras = raw if isinstance(raw, dict) else {}
        changed_by = extra.get("changedBy")
        pid = rec.get("pid")
        return cls(
            id=str(rec.get("id")), state=str(rec.get("state", "?")),
            pid=str(pid) if pid else None, ttl_ms=_int(rec.get("ttl")),
            version=_int(rec.get("version")) or 0,
            expires_ms=_int(extra.get("expiresAt")), acquires=_int(extra.get("acquires")),
            changed_ms=_int(extra.get("changedAt")),
            changed_by=changed_by if isinstance(changed_by, str) else None,
        )


class Member(Record):
    """One node slot of the process table (supervisor ``status``)."""

    name: str
    group: str
    state: str
    os_pid: int | None
    node_id: str | None
    past_ids: tuple[str, ...] = ()
    log: str | None = None

    @classmethod
    def from_row(cls, node: NodeRow) -> Member:
        return cls(name=node.name, group=node.group, state=node.state, os_pid=node.pid,
                   node_id=node.node_id, past_ids=node.past_node_ids, log=node.log)


class Attempts(Record):
    """Ledger facts of one durable function's own step (by its promise id)."""

    starts: int
    ends: int
    last_ts: float
    node: str  # the node of the latest start


class Fault(Record):
    """A fault in force on a node, held as a lease by the supervisor (``fault_leases.py``)."""

    kind: str
    holder: str
    holder_pid: int | None
    holder_alive: bool
    left_s: float

    @classmethod
    def from_row(cls, row: FaultRow) -> Fault:
        return cls(row.kind, row.holder, row.holder_pid, row.holder_alive, row.left_s)

    def who(self) -> str:
        return self.holder if self.holder_pid is None else f"{self.holder} (pid {self.holder_pid})"


def fault_facts(rows: Sequence[FaultRow]) -> dict[str, Fault]:
    """Node name → the fault in force on it (the first, when several), from status rows."""
    out: dict[str, Fault] = {}
    for row in rows:
        out.setdefault(row.node, Fault.from_row(row))
    return out


class Link(Record):
    """A node's network link as the link proxies report it."""

    state: str  # ok | partitioned | delayed
    delay_ms: float = 0.0


class Facts(Record):
    """Everything :func:`.doctor.diagnose` reads; ``None`` means "this source is absent"."""

    calls: Mapping[str, Call]
    leases: Mapping[str, Lease] | None
    members: Sequence[Member] | None
    now_ms: int
    stuck_after_s: float
    attempts: Mapping[str, Attempts] | None = None
    #: node name -> (log path, last error line of its current log)
    errors: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    links: Mapping[str, Link] | None = None
    #: the groups this HOME runs (None: unknown); another group may run on another host
    local_groups: frozenset[str] | None = None
    #: prefix of suggested commands, e.g. ``rpcdemo --home /tmp/h``
    command: str = "rpcdemo"
    #: node name -> the fault in force on it (the supervisor's fault leases)
    faults: Mapping[str, Fault] = field(default_factory=dict)


def target_group(target: Any) -> str | None:
    """``poll://any@service-b`` or ``poll://uni@service-b/pid`` → ``service-b``."""
    if not isinstance(target, str) or "@" not in target:
        return None
    return target.split("@", 1)[1].split("/", 1)[0] or None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def node_names_by_id(nodes: Iterable[NodeRow]) -> dict[str, str]:
    """Resonate node id → readable name; ids of dead incarnations say so.

    A task can stay leased to a killed incarnation until its TTL runs out;
    it shows as ``service-b-1 (incarnation 1, gone)``.
    """
    names: dict[str, str] = {}
    for node in nodes:
        for i, old in enumerate(node.past_node_ids, start=1):
            if old != "gateway":
                names[old] = f"{node.name} (incarnation {i}, gone)"
        if node.node_id:
            names[node.node_id] = node.name
    return names
