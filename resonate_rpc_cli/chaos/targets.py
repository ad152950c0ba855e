"""What the chaos runner needs from a running topology: a small Protocol.

The runner never starts or signals a process itself; it asks a
:class:`ChaosTopology`. Adapters implement it for a topology driven by the
supervisor (:mod:`.adapters`); tests may implement it however they like.

Node names are the supervisor's (``server``, ``gateway``, ``service-b-1``);
``server`` and ``gateway`` are nodes like any other, so killing and restarting
them uses the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

#: Normalised node states the runner understands.
RUNNING = "running"
PAUSED = "paused"
DOWN = "down"


@dataclass(frozen=True)
class NodeInfo:
    """One node as the topology sees it now.

    ``pid`` is the OS pid of the current incarnation (``None`` when down);
    ``node_id`` its Resonate node id (``None`` for the server, or unknown).
    ``state`` is one of :data:`RUNNING`, :data:`PAUSED`, :data:`DOWN`, or the
    adapter's own word for anything in between (``starting``, ``failed``...).
    """

    name: str
    group: str
    pid: int | None
    state: str
    node_id: str | None = None


class ChaosTopology(Protocol):
    """A running topology the chaos runner may break and heal.

    Every method raises :class:`resonate_rpc_cli.contracts.errors.RpcdemoError` with a
    one-line message when the topology cannot do what was asked (unknown node,
    supervisor gone, a respawn that never became ready).
    """

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway, e.g. ``http://127.0.0.1:5000``."""

    @property
    def server_url(self) -> str:
        """Base URL of the Resonate server."""

    @property
    def ledger_dir(self) -> Path:
        """Directory holding every node's execution ledger."""

    @property
    def durable(self) -> bool:
        """Whether the server keeps its promises across a restart (so ``server`` faults apply)."""

    def nodes(self) -> list[NodeInfo]:
        """Every node of the topology, the server and the gateway included."""

    def kill(self, name: str) -> int:
        """SIGKILL the node's current incarnation; return the OS pid signalled.

        The node stays down (no automatic restart) until :meth:`respawn`.
        """

    def term(self, name: str) -> int:
        """SIGTERM the node (a clean stop); it stays down until :meth:`respawn`."""

    def pause(self, name: str) -> int:
        """SIGSTOP the node: it hangs, still holding its leases and connections."""

    def resume(self, name: str) -> int:
        """SIGCONT a paused node; return its pid."""

    def respawn(self, name: str) -> NodeInfo:
        """Start a new incarnation (a new node id) of a node that is down; return once ready.

        For ``server`` this restarts it on its store; for ``gateway`` on the same port.
        """


class LinkState(Protocol):
    """One node's link as :meth:`LinkControl.status` reports it."""

    @property
    def node(self) -> str:
        """The node's name (``service-b-1``)."""

    @property
    def state(self) -> str:
        """``ok``, ``partitioned`` or ``delayed``."""


class LinkControl(Protocol):
    """The nodes' links to the server, each through its own proxy.

    :class:`resonate_rpc_cli.links.client.LinkClient` implements it; every
    method raises :class:`~resonate_rpc_cli.contracts.errors.RpcdemoError`
    with a one-line message when it cannot do what was asked.
    """

    def partition(self, node: str, for_s: float | None = None) -> object:
        """Let nothing pass either way; open connections hang."""

    def delay(self, node: str, delay_ms: float, jitter_ms: float = 0) -> object:
        """Add latency (with jitter) to each direction."""

    def reset(self, node: str) -> object:
        """Close every open connection of the link."""

    def heal(self, node: str | None = None) -> object:
        """Undo partition and delay on ``node`` (every link when ``None``)."""

    def status(self) -> Sequence[LinkState]:
        """Every link's state now."""


@runtime_checkable
class FaultHolder(Protocol):
    """A topology that holds faults as leases (the supervisor's; ``fault_leases.py``).

    The nemesis registers every fault before it strikes and releases it once
    healed, so a fault it cannot heal (it was killed) is healed for it.
    """

    def hold(self, kind: str, node: str, for_s: float) -> int:
        """Register a fault on ``node`` held by this process for ``for_s``; its lease id."""

    def release(self, lease_id: int) -> None:
        """The fault of ``lease_id`` is healed: forget it."""
