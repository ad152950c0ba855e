"""Healing fault leases on the supervisor's loop thread (the leases: :mod:`.fault_leases`).

:func:`heal_due` runs after every step of the daemon's loop: it heals the
leases whose deadline passed or whose holder is gone (looked at every
:data:`~.fault_leases.HOLDER_POLL_S`); :func:`heal_now` is ``rpcdemo heal``.
Each heal is one :func:`heal_lease` (SIGCONT a paused node, respawn a killed
one, heal the link) and one ``healed`` event.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from resonate_rpc_cli.contracts.errors import RpcdemoError
from resonate_rpc_cli.supervisor import operations
from resonate_rpc_cli.supervisor.events import EventKind
from resonate_rpc_cli.supervisor.fault_leases import (
    HOLDER_POLL_S,
    LINK_FAULTS,
    PROCESS_DOWN,
    AliveCheck,
    FaultBook,
    FaultLease,
    holder_alive,
)
from resonate_rpc_cli.supervisor.rows import Healed
from resonate_rpc_cli.supervisor.states import NodeState

if TYPE_CHECKING:
    from resonate_rpc_cli.supervisor.manager import Supervisor


@runtime_checkable
class LinkHealer(Protocol):
    """The link switchboard's side the supervisor heals a link with."""

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
            operations.kill(sup, node.label, "CONT")
            return "resumed"
        if lease.kind in PROCESS_DOWN and node.handle is None and \
                node.state is NodeState.KILLED:
            operations.respawn(sup, node.label)
            return "respawned"
        if lease.kind in PROCESS_DOWN and node.state is NodeState.KILLED and \
                node.restart_at is None:
            node.restart_at = sup.clock.monotonic()  # respawn once the old process is reaped
            return "respawning"
    except RpcdemoError as exc:
        return f"error: {exc}"
    except TimeoutError:  # the links' loop is busy: the heal still runs when it is free
        return "error: the links did not answer in time; the heal is still queued"
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
             kinds: frozenset[str] | None = None) -> list[Healed]:
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
        healed.append(Healed(lease.id, lease.kind, lease.node, lease.holder, did))
    return healed


def _emit_healed(sup: Supervisor, lease: FaultLease, detail: str) -> None:
    node = sup.nodes[lease.node]
    sup.emit(EventKind.HEALED, node, detail=detail)
