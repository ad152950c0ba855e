"""Leases, attempts and progress of the pending work, for ``status``, ``watch`` and the live view.

:func:`fetch_leases` reads every live task (acquired, pending, suspended) with
our server's extras; :func:`lease_report` adds the doctor's view of the
pending calls: one row per task that is being or waiting to be worked on
(holder, lease time left, attempts, time since progress) and, per pending
call, whether it is stuck and the doctor's one-line cause. It only reads
what ``status`` reads anyway (no ledger, no logs), so it stays cheap enough
for a view refreshed every second; ``rpcdemo doctor`` adds the rest.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from resonate_rpc_cli.clients.protocol import ProtocolError, ReadClient
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.naming import SERVICE_GROUPS
from resonate_rpc_cli.links.status import LinkStatus
from resonate_rpc_cli.observe.doctor import Diagnosis, diagnose
from resonate_rpc_cli.observe.facts import Call, Facts, Lease, Link, Member, node_names_by_id
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

LIVE_TASK_STATES = ("acquired", "pending", "suspended")
NO_TASK_SEARCH = "the server offers no task.search: holders, leases and attempts cannot be known"
NO_EXTRAS = ("this server does not report lease expiry or acquire counts (only rpcdemo's "
             "embedded server does): lease countdowns and attempts are unknown")


class LeaseSource(Protocol):
    """The reads a lease report makes (:class:`~.snapshot.PromiseSource` is one; this
    module does not import it, since :mod:`.snapshot` builds ``status`` from this one)."""

    client: ReadClient

    def search(self, state: str | None = None, tags: dict[str, str] | None = None,
               limit: int = ...) -> list[dict[str, Any]]: ...


def fetch_leases(source: LeaseSource) -> tuple[dict[str, Lease] | None, str | None]:
    """Every live task by id, and a notice of what this server cannot tell.

    ``None`` leases when the server has no ``task.search``. Raises
    :class:`~resonate_rpc_cli.clients.protocol.ServerUnreachable`.
    """
    out: dict[str, Lease] = {}
    for state in LIVE_TASK_STATES:
        try:
            tasks = source.client.task_search(state=state)
        except ProtocolError as exc:
            return None, f"{NO_TASK_SEARCH} ({exc})"
        out.update({str(t["id"]): Lease.from_record(t) for t in tasks})
    extras = any(lease.changed_ms is not None or lease.expires_ms is not None
                 for lease in out.values())
    return out, None if extras or not out else NO_EXTRAS


@dataclass(frozen=True)
class LeaseReport:
    """Task rows for the tables and the diagnoses of pending calls by promise id."""

    tasks: list[dict[str, Any]]
    diagnoses: dict[str, Diagnosis]
    notice: str | None


def lease_report(
    source: LeaseSource, pending: Sequence[Mapping[str, Any]],
    nodes: Sequence[Mapping[str, Any]], config: TopologyConfig, *, now_ms: int | None = None,
    links: Sequence[LinkStatus] | None = None,
) -> LeaseReport:
    """The lease rows and flags for the pending promise records ``pending``."""
    leases, notice = fetch_leases(source)
    facts = Facts(
        calls={str(r["id"]): Call.from_record(r) for r in pending},
        leases=leases, members=[Member.from_status(n) for n in nodes],
        now_ms=int(time.time() * 1000) if now_ms is None else now_ms,
        stuck_after_s=config.ttl_s,
        local_groups=frozenset(g for g in SERVICE_GROUPS if config.includes(g)),
        links=link_facts(links),
    )
    diagnoses = {d.promise_id: d for d in diagnose(facts)}
    names = node_names_by_id([dict(n) for n in nodes])
    return LeaseReport(task_rows(facts, diagnoses, names), diagnoses, notice)


def link_facts(links: Sequence[LinkStatus] | None) -> dict[str, Link] | None:
    """Node name → its link's state, from the link proxies' statuses."""
    if links is None:
        return None
    return {s.node: Link(str(s.state), float(s.delay_ms)) for s in links}


def stuck_in_tree(source: LeaseSource, root_id: str, nodes: Sequence[Mapping[str, Any]],
                  config: TopologyConfig) -> dict[str, str]:
    """Promise id → the doctor's short cause, for each stuck call of ``root_id``'s tree."""
    pending = source.search(state="pending", tags={tag.ORIGIN: root_id})
    if not pending:
        return {}
    report = lease_report(source, pending, nodes, config)
    return {pid: d.short() for pid, d in report.diagnoses.items() if d.stuck}


def task_rows(facts: Facts, diagnoses: Mapping[str, Diagnosis],
              names: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per acquired or pending task: the work being done or waiting."""
    rows = []
    for lease in sorted((facts.leases or {}).values(), key=lambda t: t.id):
        if lease.state not in ("acquired", "pending"):
            continue
        call = facts.calls.get(lease.id)
        diag = diagnoses.get(lease.id)
        rows.append({
            "id": lease.id, "call": call.label if call else None, "state": lease.state,
            "holder": names.get(lease.pid, lease.pid) if lease.pid else None,
            "node_id": lease.pid,
            "lease_left_s": _left(lease.expires_ms, facts.now_ms),
            "attempts": lease.acquires,
            "idle_s": _idle(diag, lease, facts.now_ms),
            "stuck": bool(diag and diag.stuck),
            "cause": diag.line() if diag else None,
        })
    return rows


def flag_rows(rows: list[dict[str, Any]], diagnoses: Mapping[str, Diagnosis]) -> None:
    """Add ``stuck`` and the doctor's one-line ``cause`` to pending promise rows, in place."""
    for row in rows:
        diag = diagnoses.get(str(row.get("id")))
        row["stuck"] = bool(diag and diag.stuck)
        row["cause"] = diag.line() if diag else None


def _left(expires_ms: int | None, now_ms: int) -> float | None:
    return None if expires_ms is None else round(max(0.0, (expires_ms - now_ms) / 1000), 1)


def _idle(diag: Diagnosis | None, lease: Lease, now_ms: int) -> float | None:
    if diag is not None and diag.idle_s is not None:
        return round(diag.idle_s, 1)
    if lease.changed_ms is None:
        return None
    return round(max(0.0, (now_ms - lease.changed_ms) / 1000), 1)
