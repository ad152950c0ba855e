"""The steps of one call tree (``rpcdemo flow steps ROOT``): per promise, its state and
timings, how often its work ran and where (the execution ledgers), and its task now
(holder, lease left, leases granted).

Sources: the server's promises of the tree (``resonate:origin`` = ROOT), its
live tasks (acquired, pending, suspended; the lease expiry and the count of
leases granted only on rpcdemo's embedded server, under its ``rpcdemo`` task
extras) and this HOME's ledgers (one ``start`` line per attempt of a step's
work, an ``end`` when it returned). What a source cannot tell is ``None`` in
the rows plus a line in ``notices`` (resonate-pg and the real server carry no
lease expiry or grant count; a node on another host writes no ledger here).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from resonate_rpc_cli.clients.protocol import PromiseRecord, ServerUnreachable
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ids import promise_id_problem
from resonate_rpc_cli.contracts.ledger import LedgerEntry, read_ledger
from resonate_rpc_cli.observe.facts import Call, Lease, node_names_by_id
from resonate_rpc_cli.observe.leases import NO_EXTRAS, fetch_leases
from resonate_rpc_cli.observe.snapshot import MAX_TREE, PromiseSource
from resonate_rpc_cli.supervisor.client import SupervisorClient

NO_LEASE_TIMES = ("the {kind} server reports no lease expiry or count of leases granted (only "
                  "rpcdemo's embedded server does): lease left and leases are unknown")
NO_LEDGER = ("no ledger line names these steps under this HOME (their nodes ran elsewhere, "
             "or no step has started): attempts and the nodes that ran them are unknown")


@dataclass(frozen=True)
class Ran:
    """Ledger facts of one step's work: attempts (starts), ends, who ran it, when."""

    starts: int = 0
    ends: int = 0
    nodes: tuple[str, ...] = ()
    first_start: float | None = None
    last_end: float | None = None


@dataclass(frozen=True)
class Step:
    """One promise of the tree with what is known of its execution."""

    id: str
    call: str  # foo@service-a, (run), (sleep)
    parent: str | None
    state: str
    created_ms: int | None
    settled_ms: int | None
    attempts: int | None  # starts of its work in the ledgers (None: no ledger line)
    ends: int | None
    nodes: tuple[str, ...]  # nodes that started its work, first to last
    task: str | None  # its task's state now (None: no task, or fulfilled)
    holder: str | None  # node holding its lease now
    lease_left_s: float | None  # until the current lease lapses (embedded server only)
    leases: int | None  # leases granted since the server started (embedded server only)

    @property
    def took_ms(self) -> int | None:
        if self.created_ms is None or self.settled_ms is None:
            return None
        return max(0, self.settled_ms - self.created_ms)

    def to_dict(self) -> StepJson:
        return {"id": self.id, "call": self.call, "parent": self.parent, "state": self.state,
                "created_ms": self.created_ms, "settled_ms": self.settled_ms,
                "took_ms": self.took_ms, "attempts": self.attempts, "ends": self.ends,
                "nodes": list(self.nodes), "task": self.task, "holder": self.holder,
                "lease_left_s": self.lease_left_s, "leases": self.leases}


class StepJson(TypedDict):
    """A step's JSON (``flow steps --json``'s ``steps``)."""

    id: str
    call: str
    parent: str | None
    state: str
    created_ms: int | None
    settled_ms: int | None
    took_ms: int | None
    attempts: int | None
    ends: int | None
    nodes: list[str]
    task: str | None
    holder: str | None
    lease_left_s: float | None
    leases: int | None


class FlowStepsJson(TypedDict):
    """``flow steps --json``."""

    root: str
    server: str
    steps: list[StepJson]
    notices: list[str]


@dataclass(frozen=True)
class FlowSteps:
    """``flow steps`` of one root: its steps (root first, then by creation) and notices."""

    root: str
    server_url: str
    steps: list[Step]
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> FlowStepsJson:
        return {"root": self.root, "server": self.server_url,
                "steps": [s.to_dict() for s in self.steps], "notices": self.notices}


def flow_steps(home: Home, root: str) -> FlowSteps:
    """The steps of ``root``'s call tree now.

    UsageError for a bad id or one the server does not hold; NotRunningError
    without a supervisor or when the server does not answer.
    """
    problem = promise_id_problem(root)
    if problem is not None:
        raise UsageError(f"ROOT {root!r} {problem}")
    sup = SupervisorClient(home).status()
    url = sup.config.server_url
    source = PromiseSource(url, timeout_s=5.0)
    notices: list[str] = []
    try:
        records = tree_records(source, root)
        leases, notice = fetch_leases(source)
        info = source.info()
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    kind = (info or {}).get("kind", "resonate")
    if kind != "embedded":
        notices.append(NO_LEASE_TIMES.format(kind=kind))
    if notice and notice != NO_EXTRAS:
        notices.append(notice)
    if source.notice:
        notices.append(source.notice)
    ids = {str(r["id"]) for r in records}
    ran = ledger_facts(read_ledger(home.ledger_dir), ids)
    if not ran:
        notices.append(NO_LEDGER)
    names = node_names_by_id(sup.nodes)
    steps = build_steps(records, leases, ran, names, int(time.time() * 1000))
    return FlowSteps(root, url, steps, notices)


def tree_records(source: PromiseSource, root: str) -> list[PromiseRecord]:
    """Every promise record of ``root``'s tree (UsageError if the server does not hold it)."""
    records = {str(r["id"]): r for r in source.search(tags={tag.ORIGIN: root}, limit=MAX_TREE)}
    if root not in records:
        rec = source.client.promise_get(root)
        if rec is None:
            raise UsageError(f"no promise {root!r} on {source.client.url}")
        records[root] = rec
    return list(records.values())


def ledger_facts(entries: Iterable[LedgerEntry], ids: set[str]) -> dict[str, Ran]:
    """Promise id -> :class:`Ran`, for the ids in ``ids``: a call's own work is its
    ``promise_id``'s, a ``(run)`` checkpoint's its ``step_id``'s."""
    out: dict[str, Ran] = {}
    for e in sorted(entries, key=lambda e: e.ts):
        for key in {e.promise_id, e.step_id} & ids:
            out[key] = _add(out.get(key, Ran()), e)
    return out


def _add(ran: Ran, e: LedgerEntry) -> Ran:
    if e.phase == "start":
        nodes = ran.nodes if ran.nodes[-1:] == (e.node,) else (*ran.nodes, e.node)
        first = e.ts if ran.first_start is None else ran.first_start
        return Ran(ran.starts + 1, ran.ends, nodes, first, ran.last_end)
    if e.phase == "end":
        return Ran(ran.starts, ran.ends + 1, ran.nodes, ran.first_start, e.ts)
    return ran


def build_steps(records: Iterable[PromiseRecord], leases: Mapping[str, Lease] | None,
                ran: Mapping[str, Ran], names: Mapping[str, str], now_ms: int) -> list[Step]:
    """Pure: the rows, root first then by creation time (``leases`` None: no task.search)."""
    steps = []
    for rec in records:
        call = Call.from_record(rec)
        lease = (leases or {}).get(call.id)
        facts = ran.get(call.id)
        steps.append(Step(
            id=call.id, call=call.label if call.func or call.kind != "call" else "-",
            parent=call.parent, state=call.state,
            created_ms=call.created_ms, settled_ms=call.settled_ms,
            attempts=facts.starts if facts else None, ends=facts.ends if facts else None,
            nodes=facts.nodes if facts else (),
            task=lease.state if lease else None,
            holder=(names.get(lease.pid, lease.pid) if lease and lease.pid
                    and lease.state == "acquired" else None),
            lease_left_s=(None if lease is None or lease.expires_ms is None else
                          round(max(0.0, (lease.expires_ms - now_ms) / 1000), 1)),
            leases=lease.acquires if lease else None,
        ))
    steps.sort(key=lambda s: (s.parent is not None, s.created_ms or 0, s.id))
    return steps
