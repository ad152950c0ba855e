"""What the supervisor works with: a node slot, what it observes, its ports to the world.

The protocols (:class:`Clock`, :class:`Spawner`, :class:`SignalSender`,
:class:`ReadinessProbe`, :class:`LeaseReleaser`) are all the outside world the
supervisor sees; ``processes.py`` implements them for real, the unit tests with
fakes.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Protocol

from resonate_rpc_cli.contracts.naming import NodeName
from resonate_rpc_cli.supervisor.failover import ReleaseOutcome
from resonate_rpc_cli.supervisor.states import NodeState
from resonate_rpc_cli.supervisor.topology_config import LaunchSpec

SIGNALS: dict[str, int] = {
    "KILL": signal.SIGKILL, "TERM": signal.SIGTERM, "STOP": signal.SIGSTOP,
    "CONT": signal.SIGCONT,
}


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def wall(self) -> float: ...


class ProcessHandle(Protocol):
    @property
    def pid(self) -> int: ...
    def poll(self) -> int | None:
        """The exit code once the process has exited (and was reaped), else None."""


class Spawner(Protocol):
    def spawn(self, spec: LaunchSpec) -> ProcessHandle:
        """Start ``spec`` in its own session; raise OSError if it cannot start."""


class SignalSender(Protocol):
    def send_group(self, pid: int, sig: int) -> None:
        """Signal the process group led by ``pid``; silently nothing if it is gone."""


class ReadinessProbe(Protocol):
    def ready(self, spec: LaunchSpec) -> bool | str:
        """Whether the incarnation described by ``spec`` is ready to work; a string: it is,
        and that is its Resonate id (a declared node's listener, ``readiness.py``)."""


class LinkRouter(Protocol):
    """Where each node reaches the server: its own link (see ``links/switchboard.py``)."""

    def url_for(self, node: str) -> str:
        """The node's server URL through its link, created on first use."""

    def drop(self, node: str) -> None:
        """Remove the link of a slot that no longer exists."""


class LeaseReleaser(Protocol):
    """Failover: hands a dead node's leases back to its group (see ``failover.py``)."""

    def release(self, node: str, node_id: str) -> None:
        """Ask, without blocking, to release every lease ``node_id`` holds (it is dead)."""

    def outcomes(self) -> list[ReleaseOutcome]:
        """The releases finished since the last call, oldest first."""


@dataclass(frozen=True)
class Exited:
    """Observed: the process ``pid`` of ``node`` exited with ``code`` (and was reaped)."""

    node: str
    pid: int
    code: int


@dataclass(frozen=True)
class BecameReady:
    """Observed: the starting process ``pid`` of ``node`` passed its readiness check
    (``node_id``: the Resonate id it turned out to listen as)."""

    node: str
    pid: int
    node_id: str | None = None


Observation = Exited | BecameReady


@dataclass(frozen=True)
class RestartPolicy:
    """Restart a node that exits on its own, with exponential backoff.

    An exit within ``quick_s`` of the start counts as a quick failure; after
    ``max_quick_failures`` in a row the node is ``failed`` and left down.
    """

    max_quick_failures: int = 4
    quick_s: float = 10.0
    base_backoff_s: float = 0.25
    max_backoff_s: float = 5.0

    def backoff(self, failures: int) -> float:
        return float(min(self.max_backoff_s, self.base_backoff_s * 2 ** max(0, failures - 1)))


@dataclass
class Node:
    """One slot of the topology and its current incarnation."""

    name: NodeName
    state: NodeState = NodeState.PENDING
    handle: ProcessHandle | None = None
    spec: LaunchSpec | None = None
    incarnation: int = 0
    restarts: int = 0
    started_at: float | None = None
    quick_failures: int = 0
    restart_at: float | None = None
    kill_at: float | None = None
    paused_from: NodeState | None = None
    last_exit: int | None = None
    ever_ready: bool = False
    #: this incarnation was killed for not being ready within its group's ready_timeout
    ready_expired: bool = False
    past_node_ids: list[str] = field(default_factory=list)
    #: being scaled away: once its process is gone the slot is removed
    retiring: bool = False

    @property
    def label(self) -> str:
        return str(self.name)

    @property
    def pid(self) -> int | None:
        return self.handle.pid if self.handle is not None else None

    @property
    def node_id(self) -> str:
        return self.spec.node_id if self.spec is not None else ""
