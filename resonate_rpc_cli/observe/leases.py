"""Leases, attempts and progress of the pending work, for ``status``, ``watch`` and the live view.

:func:`fetch_leases` reads every live task (acquired, pending, suspended) with
our server's extras; :func:`assess` adds the doctor's view of the
pending calls: one row per task that is being or waiting to be worked on
(holder, lease time left, attempts, time since progress) and, per pending
call, whether it is stuck and the doctor's one-line cause. It only reads
what ``status`` reads anyway (no ledger, no logs), so it stays cheap enough
for a view refreshed every second; ``rpcdemo doctor`` adds the rest.
:class:`Holders` is the one "who holds which task" map, taken from the
acquired leases.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TypedDict

from resonate_rpc_cli.clients.protocol import PromiseRecord, ProtocolError
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.record import Record
from resonate_rpc_cli.links.status import LinkStatus
from resonate_rpc_cli.observe.doctor import Diagnosis, diagnose
from resonate_rpc_cli.observe.facts import (
    Call,
    Facts,
    Lease,
    Link,
    Member,
    fault_facts,
    node_names_by_id,
)
from resonate_rpc_cli.observe.snapshot import PromiseSource
from resonate_rpc_cli.supervisor.rows import FaultRow, NodeRow
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

LIVE_TASK_STATES = ("acquired", "pending", "suspended")
NO_TASK_SEARCH = "the server offers no task.search: holders, leases and attempts cannot be known"
NO_EXTRAS = ("this server does not report lease expiry or acquire counts (only rpcdemo's "
             "embedded server does): lease countdowns and attempts are unknown")


def fetch_leases(source: PromiseSource, *, views_need_it: bool = False
                 ) -> tuple[dict[str, Lease] | None, str | None]:
    """Every live task by id, and a notice of what this server cannot tell.

    ``None`` leases when the server has no ``task.search``; with
    ``views_need_it`` the source then also turns its promise views off (its
    :attr:`~.snapshot.PromiseSource.notice` says so), as ``status`` and the
    live view want. Raises
    :class:`~resonate_rpc_cli.clients.protocol.ServerUnreachable`.
    """
    out: dict[str, Lease] = {}
    for state in LIVE_TASK_STATES:
        try:
            tasks = source.client.task_search(state=state)
        except ProtocolError as exc:
            if views_need_it and exc.status in (400, 404, 501):
                source.unsupported(exc, "task.search")
            return None, f"{NO_TASK_SEARCH} ({exc})"
        out.update({str(t["id"]): Lease.from_record(t) for t in tasks})
    extras = any(lease.changed_ms is not None or lease.expires_ms is not None
                 for lease in out.values())
    return out, None if extras or not out else NO_EXTRAS


class Holders(Record):
    """Who holds which task: the one map every view reads (from the acquired leases)."""

    #: task (= promise) id → Resonate pid (node id) of the node holding its lease
    by_task: Mapping[str, str]
    #: node id → readable name (:func:`~.facts.node_names_by_id`)
    names: Mapping[str, str]

    @classmethod
    def of(cls, leases: Mapping[str, Lease] | None, nodes: Iterable[NodeRow]) -> Holders:
        """From :func:`fetch_leases`' answer (``None``: nobody is known to hold anything)."""
        by_task = {t.id: t.pid for t in (leases or {}).values()
                   if t.state == "acquired" and t.pid}
        return cls(by_task, node_names_by_id(nodes))

    def name(self, node_id: str) -> str:
        """The node's name, or the id itself for a node this topology does not know."""
        return self.names.get(node_id, node_id)

    def holder(self, task_id: str) -> str | None:
        """The name of the node holding ``task_id``; None when nobody does."""
        pid = self.by_task.get(task_id)
        return None if pid is None else self.name(pid)

    def held_by(self) -> dict[str, list[str]]:
        """Node name (or unknown node id) → the sorted ids of the tasks it holds."""
        held: dict[str, list[str]] = {}
        for task_id, pid in self.by_task.items():
            held.setdefault(self.name(pid), []).append(task_id)
        return {name: sorted(ids) for name, ids in held.items()}


class TaskRowJson(TypedDict):
    """A task row's JSON (``status --json``'s ``tasks``)."""

    id: str
    call: str | None
    state: str
    holder: str | None
    node_id: str | None
    lease_left_s: float | None
    attempts: int | None
    idle_s: float | None
    stuck: bool
    cause: str | None


class TaskRow(Record):
    """One task being or waiting to be worked on (``status --json``'s ``tasks``)."""

    id: str
    call: str | None
    state: str
    holder: str | None
    node_id: str | None
    lease_left_s: float | None
    attempts: int | None
    idle_s: float | None
    stuck: bool
    cause: str | None

    def to_dict(self) -> TaskRowJson:
        return {
            "id": self.id, "call": self.call, "state": self.state, "holder": self.holder,
            "node_id": self.node_id, "lease_left_s": self.lease_left_s,
            "attempts": self.attempts, "idle_s": self.idle_s, "stuck": self.stuck,
            "cause": self.cause,
        }


class LeaseReport(Record):
    """Task rows, the diagnoses of pending calls by promise id, and who holds what."""

    tasks: list[TaskRow]
    diagnoses: dict[str, Diagnosis]
    notice: str | None
    holders: Holders


def assess(
    leases: Mapping[str, Lease] | None, notice: str | None,
    pending: Sequence[PromiseRecord], nodes: Sequence[NodeRow], config: TopologyConfig, *,
    now_ms: int | None = None, links: Sequence[LinkStatus] | None = None,
    faults: Sequence[FaultRow] = (),
) -> LeaseReport:
    """The lease rows and flags for the pending promise records ``pending``, given the
    leases and notice :func:`fetch_leases` answered (``faults``: the supervisor's fault
    leases, so an abandoned fault is named as the cause)."""
    facts = Facts(
        calls={str(r["id"]): Call.from_record(r) for r in pending},
        leases=leases, members=[Member.from_row(n) for n in nodes],
        now_ms=int(time.time() * 1000) if now_ms is None else now_ms,
        stuck_after_s=config.ttl_s,
        local_groups=frozenset(g for g in config.group_names if config.includes(g)),
        links=link_facts(links), faults=fault_facts(faults),
    )
    diagnoses = {d.promise_id: d for d in diagnose(facts)}
    holders = Holders.of(leases, nodes)
    return LeaseReport(task_rows(facts, diagnoses, holders.names), diagnoses, notice, holders)


def link_facts(links: Sequence[LinkStatus] | None) -> dict[str, Link] | None:
    """Node name → its link's state, from the link proxies' statuses."""
    if links is None:
        return None
    return {s.node: Link(str(s.state), float(s.delay_ms)) for s in links}


def stuck_in_tree(source: PromiseSource, root_id: str, nodes: Sequence[NodeRow],
                  config: TopologyConfig, leases: Mapping[str, Lease] | None,
                  notice: str | None) -> dict[str, str]:
    """Promise id → the doctor's short cause, for each stuck call of ``root_id``'s tree;
    ``leases`` and ``notice`` are what :func:`fetch_leases` answered for the tree's holders
    (one read of the leases serves both)."""
    pending = source.search(state="pending", tags={tag.ORIGIN: root_id})
    if not pending:
        return {}
    report = assess(leases, notice, pending, nodes, config)
    return {pid: d.short() for pid, d in report.diagnoses.items() if d.stuck}


def task_rows(facts: Facts, diagnoses: Mapping[str, Diagnosis],
              names: Mapping[str, str]) -> list[TaskRow]:
    """One row per acquired or pending task: the work being done or waiting."""
    rows = []
    for lease in sorted((facts.leases or {}).values(), key=lambda t: t.id):
        if lease.state not in ("acquired", "pending"):
            continue
        call = facts.calls.get(lease.id)
        diag = diagnoses.get(lease.id)
        rows.append(TaskRow(
            id=lease.id, call=call.label if call else None, state=lease.state,
            holder=names.get(lease.pid, lease.pid) if lease.pid else None,
            node_id=lease.pid, lease_left_s=_left(lease.expires_ms, facts.now_ms),
            attempts=lease.acquires, idle_s=_idle(diag, lease, facts.now_ms),
            stuck=bool(diag and diag.stuck), cause=diag.line() if diag else None,
        ))
    return rows


def _left(expires_ms: int | None, now_ms: int) -> float | None:
    return None if expires_ms is None else round(max(0.0, (expires_ms - now_ms) / 1000), 1)


def _idle(diag: Diagnosis | None, lease: Lease, now_ms: int) -> float | None:
    if diag is not None and diag.idle_s is not None:
        return round(diag.idle_s, 1)
    if lease.changed_ms is None:
        return None
    return round(max(0.0, (now_ms - lease.changed_ms) / 1000), 1)
