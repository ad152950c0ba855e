"""Collect the doctor's :class:`~.facts.Facts` from a running topology.

Sources: the supervisor (process table, topology config), the server
(pending promises and their call trees, tasks with our server's lease
extras, connected listeners), the HOME's ledgers (step starts and ends) and
the tail of each failing node's log. Every source the server or the topology
lacks becomes ``None`` in the facts plus a line in ``notices``; only a
topology that is not running (no supervisor, server not answering) or a
server without ``promise.search`` (nothing to diagnose from) raises
:class:`~resonate_rpc_cli.contracts.errors.NotRunningError`.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Mapping
from pathlib import Path

from resonate_rpc_cli.clients.protocol import ProtocolError, ServerUnreachable
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.errors import NotRunningError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.record import Record
from resonate_rpc_cli.observe.doctor import attempts_of
from resonate_rpc_cli.observe.facts import (
    Attempts,
    Call,
    Facts,
    Lease,
    Member,
    fault_facts,
)
from resonate_rpc_cli.observe.leases import fetch_leases, link_facts
from resonate_rpc_cli.observe.picture import read_topology
from resonate_rpc_cli.observe.snapshot import PromiseSource

MAX_PENDING = 500
MAX_TREES = 30
TREE_LIMIT = 500
LOG_TAIL_BYTES = 64 * 1024
ERROR_LINE = re.compile(r"Error|Exception|Traceback|failed|failure", re.IGNORECASE)


class Gathered(Record):
    """The facts and what could not be known, for the renderer."""

    facts: Facts
    notices: tuple[str, ...]
    server_url: str


def gather(home: Home, stuck_after_s: float | None = None,
           promise_id: str | None = None) -> Gathered:
    """Facts of the topology under ``home`` now; ``stuck_after_s`` defaults to its lease TTL.

    ``promise_id`` is read even when it is not pending (so the caller can say what it is).
    """
    sup, links = read_topology(home)
    config = sup.config
    source = PromiseSource(config.server_url, timeout_s=5.0)
    if not source.client.healthy():
        raise NotRunningError(f"the server at {config.server_url} is not answering")
    notices: list[str] = []
    try:
        calls = _calls(source, notices)
        if not source.search_supported:
            raise NotRunningError(f"cannot diagnose: {source.notice}; without promise.search "
                                  "nothing here can see which promises are pending")
        if promise_id is not None and promise_id not in calls:
            with contextlib.suppress(ProtocolError):
                rec = source.client.promise_get(promise_id)
                if rec is not None:
                    calls[promise_id] = Call.from_record(rec)
        leases = _leases(source, notices)
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    members = [Member.from_row(n) for n in sup.nodes]
    # the ledgers (every step ever run) matter only to a pending call's diagnosis
    pending = any(c.state == "pending" and c.kind == "call" for c in calls.values())
    attempts = _attempts(home) if pending else {}
    facts = Facts(
        calls=calls, leases=leases, members=members, now_ms=int(time.time() * 1000),
        stuck_after_s=config.ttl_s if stuck_after_s is None else stuck_after_s,
        attempts=attempts, errors=_errors(members, attempts), links=link_facts(links),
        local_groups=frozenset(g for g in config.group_names if config.includes(g)),
        command=f"rpcdemo --home {home.root}",
        faults=fault_facts(sup.fault_rows()),
    )
    if source.notice:
        notices.append(source.notice)
    return Gathered(facts, tuple(notices), config.server_url)


def _calls(source: PromiseSource, notices: list[str]) -> dict[str, Call]:
    pending = source.search(state="pending", limit=MAX_PENDING)
    if len(pending) >= MAX_PENDING:
        notices.append(f"only the first {MAX_PENDING} pending promises were read")
    calls = {str(r["id"]): Call.from_record(r) for r in pending}
    origins = sorted({c for r in pending if (c := (r.get("tags") or {}).get(tag.ORIGIN))})
    if len(origins) > MAX_TREES:
        notices.append(f"{len(origins)} flows are pending; settled children were read for "
                       f"the first {MAX_TREES} only (progress times of the rest are rougher)")
    for origin in origins[:MAX_TREES]:
        for rec in source.search(tags={tag.ORIGIN: origin}, limit=TREE_LIMIT):
            calls.setdefault(str(rec["id"]), Call.from_record(rec))
    return calls


def _leases(source: PromiseSource, notices: list[str]) -> dict[str, Lease] | None:
    leases, notice = fetch_leases(source)
    if notice:
        notices.append(notice)
    return leases


def _attempts(home: Home) -> dict[str, Attempts]:
    from resonate_rpc_cli.contracts.ledger import read_ledger  # noqa: PLC0415  (issue 21)

    return attempts_of([(e.promise_id, e.phase, e.ts, e.node)
                        for e in read_ledger(home.ledger_dir)])


def _errors(members: list[Member], attempts: Mapping[str, Attempts]) -> dict[str, tuple[str, str]]:
    """(log path, last error line) of every node with a step that started twice."""
    failing = {a.node for a in attempts.values() if a.starts >= 2 and a.ends == 0}
    out: dict[str, tuple[str, str]] = {}
    for m in members:
        if m.name in failing and m.log:
            out[m.name] = (m.log, last_error_line(Path(m.log)))
    return out


def last_error_line(path: Path) -> str:
    """The last line of ``path``'s tail that looks like an error; empty if none."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - LOG_TAIL_BYTES))
            tail = fh.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if ERROR_LINE.search(line)]
    return lines[-1][:300] if lines else ""
