"""Fault leases: every fault injected into a topology, held by the supervisor until healed.

A client that breaks something (a chaos run pausing a node, cutting a link,
killing a node it will respawn) first registers a :class:`FaultLease` with the
supervisor: the fault's kind, its node, its holder (the client's pid, watched
the way the lifeline watches a parent) and its deadline. The supervisor heals
the fault itself (:func:`.fault_heal.heal_lease`: SIGCONT a paused node, respawn a killed
one, heal the link) when the deadline passes, when the holder goes away (exit,
crash, ``kill -9``), or when asked (``rpcdemo heal``). A holder that heals its
own fault releases the lease afterwards. So a fault never outlives whoever
injected it by more than a poll interval, and never outlives its deadline.

:class:`FaultBook` is pure data (unit-tested with fakes), owned by the
:class:`~.manager.Supervisor`; healing is :mod:`.fault_heal`'s, on the
supervisor's loop thread; :func:`holder_alive` is the real check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psutil

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.supervisor.rows import FaultRow

#: Fault kinds the supervisor knows how to heal (anything else is healed as "nothing to do").
PROCESS_DOWN = frozenset({"kill", "term", "gateway", "server"})
LINK_FAULTS = frozenset({"partition", "delay", "reset"})
#: The longest a lease may be asked for (a holder that wants longer renews... it does not).
MAX_LEASE_S = 24 * 3600.0
#: How often the holders are looked at (the lifeline polls its parent as often).
HOLDER_POLL_S = 0.2

#: Tells whether holder ``pid`` (started at ``started``, psutil's create_time) still runs.
AliveCheck = Callable[[int, float | None], bool]


def process_started(pid: int) -> float | None:
    """``pid``'s start time (psutil ``create_time``), or None when it does not run."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def holder_alive(pid: int, started: float | None) -> bool:
    """Whether the holder still runs: same pid, same start time, not a zombie."""
    try:
        proc = psutil.Process(pid)
        if started is not None and abs(proc.create_time() - started) > 0.05:
            return False  # the pid was reused by another process
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


@dataclass
class FaultLease:
    """One fault in force (see the module docstring); ``deadline`` is the supervisor's
    monotonic clock, ``deadline_wall`` the same instant as epoch seconds."""

    id: int
    kind: str
    node: str
    holder: str
    holder_pid: int | None
    holder_started: float | None
    deadline: float
    deadline_wall: float
    since_wall: float

    def row(self, now: float, alive: bool) -> FaultRow:
        """The ``status`` row: who holds it and how long it has left."""
        return FaultRow(self.id, self.kind, self.node, self.holder, self.holder_pid, alive,
                        round(self.deadline_wall, 3), round(max(0.0, self.deadline - now), 3),
                        round(self.since_wall, 3))


class FaultBook:
    """The supervisor's faults in force; mutated only from its loop thread."""

    def __init__(self) -> None:
        self.leases: dict[int, FaultLease] = {}
        self._next = 1
        self.last_poll = -1e9

    def add(self, kind: str, node: str, *, holder: str, holder_pid: int | None,
            holder_started: float | None, for_s: float, now: float,
            wall: float) -> FaultLease:
        """Register a fault held for ``for_s`` seconds; :class:`UsageError` for a bad value.

        It replaces a lease of the same kind on the same node by the same holder (the
        operator breaking a link again with `net`)."""
        if not kind or not node:
            raise UsageError("a fault needs a kind and a node")
        if not 0 < for_s <= MAX_LEASE_S:
            raise UsageError(f"a fault lease must last 0..{MAX_LEASE_S:g} s, got {for_s!r}")
        for old in list(self.leases.values()):
            if (old.kind, old.node, old.holder, old.holder_pid) == \
                    (kind, node, holder, holder_pid):
                del self.leases[old.id]
        lease = FaultLease(self._next, kind, node, holder, holder_pid, holder_started,
                           now + for_s, wall + for_s, wall)
        self._next += 1
        self.leases[lease.id] = lease
        return lease

    def release(self, lease_id: int) -> FaultLease | None:
        """Forget a fault its holder healed; None when it was not held (already healed)."""
        return self.leases.pop(lease_id, None)

    def on(self, target: str | None, group_of: Callable[[str], str]) -> list[FaultLease]:
        """Leases on ``target`` (a node name or a group; every lease for None)."""
        return [lease for lease in self.leases.values()
                if target is None or lease.node == target or group_of(lease.node) == target]

    def due(self, now: float, alive: AliveCheck) -> list[tuple[FaultLease, str]]:
        """Remove and return the leases to heal now, each with why (deadline, holder gone)."""
        out: list[tuple[FaultLease, str]] = []
        for lease in list(self.leases.values()):
            if now >= lease.deadline:
                out.append((lease, "deadline passed"))
            elif lease.holder_pid is not None and not alive(lease.holder_pid,
                                                             lease.holder_started):
                out.append((lease, f"holder {lease.holder} (pid {lease.holder_pid}) is gone"))
        for lease, _why in out:
            self.leases.pop(lease.id, None)
        return out

    def rows(self, now: float, alive: AliveCheck) -> list[FaultRow]:
        return [lease.row(now, lease.holder_pid is None
                              or alive(lease.holder_pid, lease.holder_started))
                for lease in self.leases.values()]
