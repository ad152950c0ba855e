"""A typed client of one HOME's supervisor, over its control socket.

Every caller outside the supervisor talks to it through
:class:`SupervisorClient`: ``status()`` returns a :class:`TopologyStatus`
(the configuration already parsed), and ``kill``/``respawn``/``scale`` with
``wait=True`` return once the supervisor has seen the effect (new
incarnations running, the group at its size), because the supervisor holds its
answer until then. The wire format is ``control.py``'s; the raw documents stay
available (``raw``) for the ``--json`` outputs, which pass them through
unchanged; node rows are :class:`~.rows.NodeRow`.

Every method raises :class:`~resonate_rpc_cli.contracts.errors.NotRunningError`
when no supervisor answers, and the supervisor's own error (a
:class:`~resonate_rpc_cli.contracts.errors.RpcdemoError` with its exit status)
otherwise.
"""

from __future__ import annotations

from typing import Any, cast

from resonate_rpc_cli.clients import jsonline
from resonate_rpc_cli.contracts.errors import RpcdemoError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.record import Record, field
from resonate_rpc_cli.supervisor.events import Event
from resonate_rpc_cli.supervisor.rows import (
    FaultRow,
    Healed,
    NodeRow,
    Signalled,
    Started,
    StatusDoc,
)
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

#: How long to wait for an answer beyond the time the supervisor itself waits.
ANSWER_MARGIN_S = 30.0
#: How long kill/respawn wait by default for the new incarnations to run.
RESPAWN_WAIT_S = 15.0


class TopologyStatus(Record):
    """What the supervisor runs: its configuration, nodes, readiness and recent events."""

    supervisor_pid: int
    config: TopologyConfig
    nodes: list[NodeRow]
    all_ready: bool
    shutting_down: bool
    events: list[Event]
    #: every valid kill/respawn target (groups, then node names); "targets" on the wire
    kill_targets: list[str]
    raw: StatusDoc = field(repr=False, compare=False)
    #: the faults in force, each with its holder and time left (``fault_leases.py``)
    faults: list[FaultRow] = field(default_factory=list)

    @classmethod
    def from_dict(cls, doc: StatusDoc) -> TopologyStatus:
        return cls(
            supervisor_pid=int(doc["supervisor_pid"]),
            config=TopologyConfig.from_json(str(doc["config"])),
            nodes=[NodeRow.from_dict(n) for n in doc["nodes"]],
            all_ready=bool(doc["all_ready"]), shutting_down=bool(doc["shutting_down"]),
            events=[Event.from_dict(e) for e in doc.get("events", [])],
            kill_targets=list(doc.get("targets", [])), raw=doc,
            faults=[FaultRow.from_dict(f) for f in doc.get("faults", [])],
        )

    def fault_rows(self) -> list[FaultRow]:
        """The faults in force, each with its holder and time left (``fault_leases.py``)."""
        return list(self.faults)

    def in_group(self, group: str) -> list[NodeRow]:
        return [n for n in self.nodes if n.group == group]


class KillAnswer(Record):
    """The nodes signalled; ``respawned``: the new incarnations, once running."""

    killed: list[Signalled]
    respawn_pending: list[str]
    respawned: list[Started]


class RespawnResult(Record):
    """The names respawned and (waited) their running incarnations."""

    names: list[str]
    running: list[Started]


class ScaleResult(Record):
    """Slots added and retired, kept slots respawned, and (waited) the group's nodes."""

    group: str
    count: int
    added: list[str]
    removed: list[str]
    respawned: list[str]
    nodes: list[NodeRow]


class SupervisorClient:
    """Requests to the supervisor of ``home``; cheap to construct, holds no connection."""

    def __init__(self, home: Home, timeout_s: float = 30.0) -> None:
        self.home = home
        self.timeout_s = timeout_s

    def _call(self, op: str, *, wait_s: float = 0.0, timeout_s: float | None = None,
              **args: Any) -> Any:
        if wait_s > 0:
            args["wait_s"] = wait_s
        limit = (timeout_s or self.timeout_s) + (wait_s + ANSWER_MARGIN_S if wait_s else 0.0)
        return jsonline.call(self.home, op, timeout_s=limit, **args)

    def answering(self) -> bool:
        """Whether a supervisor answers on the control socket (within two seconds)."""
        try:
            self._call("ping", timeout_s=2.0)
        except RpcdemoError:
            return False
        return True

    def status(self, *, since: int = 0, timeout_s: float | None = None,
               links: bool = False) -> TopologyStatus:
        """The topology as the supervisor sees it; ``events`` after sequence ``since``; with
        ``links``, every link's status too, in the same answer (``raw["links"]``, absent
        when the supervisor predates it)."""
        args: dict[str, Any] = {"since": since} if since else {}
        if links:
            args["links"] = True
        doc = self._call("status", timeout_s=timeout_s, **args)
        if not isinstance(doc, dict):
            raise RpcdemoError(f"the supervisor under {self.home.root} sent no status")
        return TopologyStatus.from_dict(cast("StatusDoc", doc))

    def kill(self, target: str, signal: str = "KILL", *, count: int | None = None,
             respawn: bool = False, respawn_after_s: float = 0.0, wait: bool = True,
             wait_s: float | None = None) -> KillAnswer:
        """Signal ``target``'s live nodes; with ``respawn`` and ``wait``, until the new ones run.

        ``wait_s`` defaults to ``respawn_after_s`` + 15 s; a respawn not
        running by then is a :class:`NotRunningError`.
        """
        waiting = (respawn_after_s + RESPAWN_WAIT_S if wait_s is None else wait_s) \
            if wait and respawn else 0.0
        doc = self._call("kill", wait_s=waiting, target=target, signal=signal, count=count,
                         respawn=respawn, respawn_after=respawn_after_s)
        return KillAnswer([Signalled.from_dict(k) for k in doc["killed"]],
                          list(doc.get("respawn_pending", [])),
                          [Started.from_dict(r) for r in doc.get("respawned", [])])

    def respawn(self, target: str, *, wait: bool = True,
                wait_s: float = RESPAWN_WAIT_S) -> RespawnResult:
        """Start new incarnations of ``target``'s nodes that are down; with ``wait``,
        until they run (``running`` then holds their pids)."""
        doc = self._call("respawn", wait_s=wait_s if wait else 0.0, target=target)
        return RespawnResult([str(n) for n in doc["respawned"]],
                             [Started.from_dict(r) for r in doc.get("running", [])])

    def scale(self, group: str, count: int, *, wait: bool = True,
              wait_s: float = 30.0) -> ScaleResult:
        """Run ``count`` nodes of ``group``; with ``wait``, until exactly that many are ready."""
        doc = self._call("scale", wait_s=wait_s if wait else 0.0, group=group, count=count)
        return ScaleResult(group, count, list(doc["added"]), list(doc["retiring"]),
                           list(doc.get("respawned", [])),
                           [NodeRow.from_dict(n) for n in doc.get("nodes", [])])

    def hold_fault(self, kind: str, node: str, for_s: float, *, holder: str,
                   holder_pid: int | None) -> int:
        """Register a fault on ``node`` as a lease (healed by the supervisor after ``for_s``
        or once ``holder_pid`` is gone); its id, for :meth:`release_fault`."""
        doc = self._call("fault.hold", timeout_s=5.0, kind=kind, node=node, for_s=for_s,
                         holder=holder, holder_pid=holder_pid)
        return int(doc["id"])

    def release_fault(self, lease_id: int) -> bool:
        """Tell the supervisor the holder healed fault ``lease_id``; False if it already had."""
        return bool(self._call("fault.release", timeout_s=5.0, id=lease_id)["released"])

    def heal(self, target: str | None = None,
             kinds: tuple[str, ...] | None = None) -> list[Healed]:
        """Heal every fault in force on ``target`` (a node or a group; all for None) now
        (with ``kinds``: only faults of those kinds)."""
        doc = self._call("heal", target=target, kinds=None if kinds is None else list(kinds))
        return [Healed.from_dict(h) for h in doc["healed"]]

    def down(self, *, timeout_s: float = 5.0) -> int:
        """Ask the supervisor to stop everything; its pid (it exits once all is stopped)."""
        doc = self._call("down", timeout_s=timeout_s)
        return int(doc["pid"])
