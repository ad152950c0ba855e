"""The topology chaos breaks and heals: what the runner needs from it, and the supervisor's.

The runner never starts or signals a process itself; it asks a
:class:`ChaosTopology` (a small Protocol). :class:`SupervisedTopology`
implements it over the control socket of a topology that ``rpcdemo up`` (or
chaos itself, ``supervisor/scratch.py``) started under a HOME; tests may
implement it however they like. :func:`link_control` finds the nodes' link
proxies, :func:`task_holders` who holds which task now, :func:`heal_everything`
undoes whatever is still broken.

Node names are the supervisor's (``server``, ``gateway``, ``service-b-1``);
``server`` and ``gateway`` are nodes like any other, so killing and restarting
them uses the same methods.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import psutil

from resonate_rpc_cli.backends import read_client
from resonate_rpc_cli.clients.protocol import ProtocolError, ServerUnreachable
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.supervisor.client import SupervisorClient, TopologyStatus
from resonate_rpc_cli.supervisor.states import NO_PROCESS

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


#: The supervisor's node states, normalised for the runner.
_STATES = {"ready": RUNNING, "paused": PAUSED, "killed": DOWN, "backoff": DOWN,
           "failed": DOWN, "stopped": DOWN}
RESPAWN_READY_S = 60.0


class SupervisedTopology:
    """The topology of one HOME, driven through its supervisor (see the module docstring).

    Raises :class:`NotRunningError` at construction when no supervisor answers.
    """

    def __init__(self, home: Home, ready_timeout_s: float = RESPAWN_READY_S) -> None:
        self.home = home
        self.ready_timeout_s = ready_timeout_s
        self.supervisor = SupervisorClient(home)
        self.config = self._status().config

    def _status(self) -> TopologyStatus:
        return self.supervisor.status(timeout_s=10.0)

    @property
    def gateway_url(self) -> str:
        return self.config.gateway_url

    @property
    def server_url(self) -> str:
        return self.config.server_url

    @property
    def ledger_dir(self) -> Path:
        return self.home.ledger_dir

    @property
    def durable(self) -> bool:
        return not self.config.memory

    @property
    def app(self) -> AppTopology | None:
        """The declared application it runs (``None``: the seed)."""
        return self.config.app

    def nodes(self) -> list[NodeInfo]:
        return [
            NodeInfo(
                name=n.name, group=n.group,
                pid=n.pid if n.state not in NO_PROCESS else None,
                state=_STATES.get(n.state, n.state), node_id=n.node_id,
            )
            for n in self._status().nodes
        ]

    def _signal(self, name: str, sig: str) -> int:
        killed = self.supervisor.kill(name, sig, count=1).killed
        if not killed:
            raise RpcdemoError(f"the supervisor did not signal {name} with {sig}")
        return killed[0].pid

    def kill(self, name: str) -> int:
        return self._signal(name, "KILL")

    def term(self, name: str) -> int:
        return self._signal(name, "TERM")

    def pause(self, name: str) -> int:
        return self._signal(name, "STOP")

    def resume(self, name: str) -> int:
        return self._signal(name, "CONT")

    def hold(self, kind: str, node: str, for_s: float) -> int:
        """Register a fault as a lease this process holds (see :class:`FaultHolder`)."""
        return self.supervisor.hold_fault(kind, node, for_s, holder="chaos",
                                          holder_pid=os.getpid())

    def release(self, lease_id: int) -> None:
        self.supervisor.release_fault(lease_id)

    def respawn(self, name: str) -> NodeInfo:
        """Respawn ``name`` (or accept the supervisor's own restart) and wait until ready."""
        try:
            self.supervisor.respawn(name, wait=False)
        except RpcdemoError as exc:
            if exc.status != ExitStatus.USAGE:
                raise
            # "nothing to respawn": not down (any more), the supervisor restarts it already;
            # an unknown name shows up below as no such node

        deadline = time.monotonic() + self.ready_timeout_s
        last: NodeInfo | None = None
        while True:
            last = next((n for n in self.nodes() if n.name == name), None)
            if last is None:
                raise UsageError(f"no node named {name!r}")
            if last.state == RUNNING:
                return last
            if time.monotonic() >= deadline:
                raise NotRunningError(
                    f"{name} was not ready {self.ready_timeout_s:g}s after its respawn "
                    f"(state {last.state}; logs under {self.home.logs_dir})"
                )
            time.sleep(0.05)


def link_control(home: Home) -> LinkControl | None:
    """The link proxies of the topology under ``home``, or ``None`` when it runs without.

    ``None`` when the links do not answer (``up --no-links``, an external
    topology): network faults are then left out, or refused when asked for.
    """
    client = LinkClient(home)
    try:
        client.status()
    except RpcdemoError:
        return None
    return client


def pid_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (absent, or a zombie awaiting its reaper)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def pid_stopped(pid: int) -> bool:
    """True while ``pid`` is stopped by a signal (SIGSTOP)."""
    try:
        return bool(psutil.Process(pid).status() in (psutil.STATUS_STOPPED, "tracing-stop"))
    except psutil.Error:
        return False


def wait_for(probe: Callable[[], bool], timeout_s: float, interval_s: float = 0.01) -> bool:
    """Poll ``probe`` until it is true or ``timeout_s`` passes; return its last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        if probe():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def task_holders(server_url: str, nodes: Sequence[NodeInfo]) -> dict[str, list[str]]:
    """Node name → ids of the tasks it holds now (leased), from ``task.search``.

    An unreachable server (it may be the one we just killed) holds nothing.
    """
    by_id = {n.node_id: n.name for n in nodes if n.node_id}
    out: dict[str, list[str]] = {}
    try:
        tasks = read_client(server_url, timeout_s=2.0).task_search(state="acquired")
    except (ServerUnreachable, ProtocolError, OSError, ValueError):
        return out  # a server without task.search, or down: no preference, not a failure
    for t in tasks:
        name = by_id.get(str(t.get("pid")))
        if name is not None:
            out.setdefault(name, []).append(str(t.get("id")))
    return out


def heal_everything(topology: ChaosTopology, links: LinkControl | None = None) -> list[str]:
    """Heal every link, resume every paused node and respawn every node that is down.

    Returns what was done. Errors are collected into the returned list (as
    ``"error: ..."``) rather than raised: healing goes on for the other nodes.
    """
    done: list[str] = []
    if links is not None:
        try:
            links.heal(None)
            done.append("healed every link")
        except RpcdemoError as exc:
            done.append(f"error: links: {exc}")
    for node in topology.nodes():
        if node.state == RUNNING:
            continue
        try:
            if node.state == "paused":
                topology.resume(node.name)
                done.append(f"resumed {node.name}")
            else:
                with contextlib.suppress(RpcdemoError):  # a stopped pid may still be there
                    if node.pid is not None and pid_stopped(node.pid):
                        topology.resume(node.name)
                topology.respawn(node.name)
                done.append(f"respawned {node.name}")
        except RpcdemoError as exc:
            done.append(f"error: {node.name}: {exc}")
    return done
