"""Fault leases: every fault injected into a topology, held by the supervisor until healed.

A client that breaks something (a chaos run pausing a node, cutting a link,
killing a node it will respawn) first registers a :class:`FaultLease` with the
supervisor: the fault's kind, its node, its holder (the client's pid, watched
the way the lifeline watches a parent) and its deadline. The supervisor heals
the fault itself (:func:`heal_lease`: SIGCONT a paused node, respawn a killed
one, heal the link) when the deadline passes, when the holder goes away (exit,
crash, ``kill -9``), or when asked (``rpcdemo heal``). A holder that heals its
own fault releases the lease afterwards. So a fault never outlives whoever
injected it by more than a poll interval, and never outlives its deadline.

:class:`FaultBook` is pure data (unit-tested with fakes); :func:`heal_lease`
acts on the supervisor's loop thread; :func:`holder_alive` is the real check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import psutil

from resonate_rpc_cli.contracts.errors import RpcdemoError, UsageError
from resonate_rpc_cli.supervisor import commands
from resonate_rpc_cli.supervisor.events import EventKind
from resonate_rpc_cli.supervisor.states import NodeState

if TYPE_CHECKING:
    from resonate_rpc_cli.supervisor.manager import Supervisor

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

    def to_dict(self, now: float, alive: bool) -> dict[str, Any]:
        """The ``status`` row: who holds it and how long it has left."""
        return {"id": self.id, "kind": self.kind, "node": self.node, "holder": self.holder,
                "holder_pid": self.holder_pid, "holder_alive": alive,
                "deadline": round(self.deadline_wall, 3),
                "left_s": round(max(0.0, self.deadline - now), 3),
                "since": round(self.since_wall, 3)}


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

    def rows(self, now: float, alive: AliveCheck) -> list[dict[str, Any]]:
        return [lease.to_dict(now, lease.holder_pid is None
                              or alive(lease.holder_pid, lease.holder_started))
                for lease in self.leases.values()]


@runtime_checkable
class LinkHealer(Protocol):
    """The link hub's side the supervisor heals a link with."""

    def heal_link(self, node: str) -> None:
        """Clear every fault on ``node``'s link (nothing when it has none)."""


def heal_lease(sup: Supervisor, lease: FaultLease) -> str:
    """Undo ``lease``'s fault on the supervisor's loop thread; what was done.

    Never raises: a node that is no longer paused or down needs nothing (a
    holder may have healed it just before), and an error is the answer's text.
    """
    node = sup.nodes.get(lease.node)
    try:
        if lease.kind in LINK_FAULTS:
            if lease.kind != "reset" and isinstance(sup.links, LinkHealer):
                sup.links.heal_link(lease.node)
                return "healed the link"
            return "nothing to heal"
        if node is None or sup.shutting_down:
            return "nothing to heal"
        if node.state is NodeState.PAUSED:
            commands.kill(sup, node.label, "CONT")
            return "resumed"
        if lease.kind in PROCESS_DOWN and node.handle is None and \
                node.state is NodeState.KILLED:
            commands.respawn(sup, node.label)
            return "respawned"
        if lease.kind in PROCESS_DOWN and node.state is NodeState.KILLED and \
                node.restart_at is None:
            node.restart_at = sup.clock.monotonic()  # respawn once the old process is reaped
            return "respawning"
    except RpcdemoError as exc:
        return f"error: {exc}"
    return "nothing to heal"


def heal_due(sup: Supervisor, book: FaultBook, alive: AliveCheck = holder_alive) -> list[str]:
    """Heal the leases whose deadline passed or whose holder is gone (at most every
    :data:`HOLDER_POLL_S`); one event per heal; what was done."""
    now = sup.clock.monotonic()
    if not book.leases or now - book.last_poll < HOLDER_POLL_S:
        return []
    book.last_poll = now
    done = []
    for lease, why in book.due(now, alive):
        did = heal_lease(sup, lease)
        done.append(f"{lease.kind} {lease.node}: {did} ({why})")
        with contextlib.suppress(KeyError):
            _emit_healed(sup, lease, f"{lease.kind} healed: {did} ({why})")
    return done


def heal_now(sup: Supervisor, book: FaultBook, target: str | None,
             kinds: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """``rpcdemo heal [NODE]``: heal every lease on ``target`` (all for None) now; with
    ``kinds``, only the leases of those kinds (``net heal``: the link faults).

    Raises :class:`UsageError` for a target that is neither a node nor a group.
    """
    if target is not None:
        sup.resolve(target)  # UsageError naming the valid targets
    healed = []
    for lease in book.on(target, lambda name: sup.nodes[name].name.group
                         if name in sup.nodes else name):
        if kinds is not None and lease.kind not in kinds:
            continue
        book.release(lease.id)
        did = heal_lease(sup, lease)
        with contextlib.suppress(KeyError):
            _emit_healed(sup, lease, f"{lease.kind} healed: {did} (rpcdemo heal)")
        healed.append({"id": lease.id, "kind": lease.kind, "node": lease.node,
                       "holder": lease.holder, "done": did})
    return healed


def _emit_healed(sup: Supervisor, lease: FaultLease, detail: str) -> None:
    node = sup.nodes[lease.node]
    sup.emit(EventKind.HEALED, node, detail=detail)
