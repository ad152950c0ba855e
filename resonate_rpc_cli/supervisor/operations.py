"""The operator's operations on a running :class:`~.manager.Supervisor`, each next to the
effect its answer waits for: kill, respawn, scale.

Each runs on the supervisor's loop thread between steps (the control socket
queues them) and changes the node table: :func:`kill`, :func:`respawn` and
:func:`scale` return what they did; :data:`OPERATIONS` maps a control op to
the same change wrapped in an :class:`Outcome`: the typed result (its
``to_dict()`` is the JSON answer), and the effect a waiting answer holds
out for (``kill`` with ``respawn``: the new incarnations run,
``"respawned": [{"name", "pid", "node_id"}]``; ``respawn``: likewise,
``"running"``; ``scale``: the group has exactly ``count`` ready nodes and
none retiring, ``"nodes"``: their rows). Every refusal is a
:class:`~resonate_rpc_cli.contracts.errors.UsageError`. A request's
arguments are parsed once, by the op's entry in :data:`OPERATIONS`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TypedDict

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVER, NodeName
from resonate_rpc_cli.supervisor.control import RequestArgs
from resonate_rpc_cli.supervisor.events import EventKind
from resonate_rpc_cli.supervisor.manager import Supervisor
from resonate_rpc_cli.supervisor.node import SIGNALS, Node
from resonate_rpc_cli.supervisor.rows import NodeRow, Signalled, SignalledJson, Started
from resonate_rpc_cli.supervisor.states import (
    RESPAWNABLE,
    SIGNALLABLE,
    STAYS_DOWN,
    NodeState,
)
from resonate_rpc_cli.supervisor.topology_config import check_replicas


class Answer(Protocol):
    """An operation's typed result; ``to_dict()`` is its JSON on the control socket."""

    def to_dict(self) -> Mapping[str, object]: ...


#: Checks the supervisor for an operation's effect: the answer once it is there, else None.
Effect = Callable[[Supervisor], Answer | None]


@dataclass(frozen=True)
class Joined:
    """An operation's result with what its effect brought under ``key`` (the new
    incarnations, the group's ready rows)."""

    base: Answer
    key: str
    items: Sequence[Answer]

    def to_dict(self) -> dict[str, object]:
        """The base's JSON with the effect's rows under ``key`` (a key known at run time)."""
        return {**self.base.to_dict(), self.key: [i.to_dict() for i in self.items]}


def _never_late(sup: Supervisor, wait_s: float) -> str:
    return f"no effect to wait for within {wait_s:g}s"


@dataclass(frozen=True)
class Outcome:
    """An operation's result, the effect to wait for (None: nothing), and the message
    when it does not come within ``wait_s`` seconds."""

    result: Answer
    effect: Effect | None = None
    late: Callable[[Supervisor, float], str] = _never_late


class KillResultJson(TypedDict):
    killed: list[SignalledJson]
    respawn_pending: list[str]


class RespawnedJson(TypedDict):
    respawned: list[str]


class ScaledJson(TypedDict):
    group: str
    replicas: int
    added: list[str]
    retiring: list[str]
    respawned: list[str]


@dataclass
class KillResult:
    """What :func:`kill` did: the nodes it signalled, and who will respawn."""

    killed: list[Signalled] = field(default_factory=list)
    respawn_pending: list[str] = field(default_factory=list)

    def to_dict(self) -> KillResultJson:
        return {"killed": [k.to_dict() for k in self.killed],
                "respawn_pending": self.respawn_pending}


@dataclass(frozen=True)
class Respawned:
    """What :func:`respawn` started."""

    names: list[str]

    def to_dict(self) -> RespawnedJson:
        return {"respawned": self.names}


@dataclass(frozen=True)
class _Incarnations:
    """Waits for new incarnations of ``names`` (newer than ``before``) to run."""

    names: list[str]
    before: dict[str, int]

    def fresh(self, sup: Supervisor) -> list[Started]:
        nodes = [sup.nodes.get(name) for name in self.names]
        return [Started(n.label, n.pid, n.node_id or None) for n in nodes
                if n is not None and n.incarnation > self.before.get(n.label, 0) and n.pid]

    def outcome(self, result: Answer, key: str) -> Outcome:
        """``result``, answered once every one of ``names`` runs anew (the list under ``key``)."""
        def check(sup: Supervisor) -> Answer | None:
            fresh = self.fresh(sup)
            return Joined(result, key, fresh) if len(fresh) == len(self.names) else None

        return Outcome(result, check if self.names else None, self.late)

    def late(self, sup: Supervisor, wait_s: float) -> str:
        done = {started.name for started in self.fresh(sup)}
        late = sorted(set(self.names) - done)
        return f"not respawned within {wait_s:g}s: {', '.join(late)}"


def _incarnations(sup: Supervisor) -> dict[str, int]:
    return {n.label: n.incarnation for n in sup.nodes.values()}


def _check_running(sup: Supervisor) -> None:
    if sup.shutting_down:
        raise UsageError("the topology is shutting down")


def _signal_name(signal_name: str, respawn: bool) -> str:
    sig_name = signal_name.upper().removeprefix("SIG")
    if sig_name not in SIGNALS:
        raise UsageError(f"unknown signal {signal_name!r}; valid: {', '.join(SIGNALS)}")
    if respawn and sig_name in ("STOP", "CONT"):
        raise UsageError(f"--respawn does not go with --signal {sig_name}")
    return sig_name


def _takers(sup: Supervisor, target: str, sig_name: str, count: int | None) -> list[Node]:
    """The nodes of ``target`` that can take ``sig_name`` (at most ``count``)."""
    nodes = sup.resolve(target)
    if sig_name == "CONT":
        live = [n for n in nodes if n.state is NodeState.PAUSED]
    else:
        live = [n for n in nodes if n.handle is not None and n.state in SIGNALLABLE]
        if sig_name == "STOP":
            live = [n for n in live if n.state is not NodeState.PAUSED]
    live = live[:count] if count is not None else live
    if not live:
        states = ", ".join(f"{n.label} {n.state}" for n in nodes)
        raise UsageError(f"no node of {target!r} can take {sig_name} ({states})")
    return live


def _take_down(sup: Supervisor, node: Node, pid: int, sig_name: str,
               respawn_after_s: float | None) -> None:
    """KILL/TERM ``node``: ``killed`` until respawned (at once or after the delay)."""
    now = sup.clock.monotonic()
    sup.move(node, NodeState.KILLED, EventKind.KILLED, f"SIG{sig_name}", pid=pid)
    sup.signals.send_group(pid, SIGNALS[sig_name])
    if node.paused_from is not None:
        sup.signals.send_group(pid, signal.SIGCONT)  # a stopped TERM target
        node.paused_from = None
    if sig_name == "TERM":
        node.kill_at = now + sup.config.grace_s
    if respawn_after_s is not None:
        node.restart_at = now + max(0.0, respawn_after_s)


def kill(
    sup: Supervisor, target: str, signal_name: str = "KILL", *, count: int | None = None,
    respawn: bool = False, respawn_after_s: float = 0.0,
) -> KillResult:
    """Signal the live nodes of ``target``; with ``respawn``, start new incarnations.

    KILL/TERM leave the node ``killed`` (down until respawned); STOP pauses
    it, CONT resumes it. Raises :class:`UsageError` for an unknown target or
    signal, or when no live node matches.
    """
    sig_name = _signal_name(signal_name, respawn)
    _check_running(sup)
    result = KillResult()
    for node in _takers(sup, target, sig_name, count):
        assert node.handle is not None
        pid = node.handle.pid
        if sig_name == "CONT":
            # resume the group before the state says so
            sup.signals.send_group(pid, SIGNALS[sig_name])
            sup.move(node, node.paused_from or NodeState.READY, EventKind.SIGNALLED,
                     f"SIG{sig_name}", pid=pid)
            node.paused_from = None
        elif sig_name == "STOP":
            sup.signals.send_group(pid, SIGNALS[sig_name])
            node.paused_from = node.state
            sup.move(node, NodeState.PAUSED, EventKind.SIGNALLED, f"SIG{sig_name}", pid=pid)
        else:
            _take_down(sup, node, pid, sig_name, respawn_after_s if respawn else None)
            if respawn:
                result.respawn_pending.append(node.label)
        result.killed.append(Signalled(node.label, pid, sig_name))
    return result


def _kill(sup: Supervisor, args: RequestArgs) -> Outcome:
    """``kill``; with ``respawn``, waits for the new incarnations (``"respawned"``)."""
    count = args.get("count")
    before = _incarnations(sup)
    result = kill(
        sup, str(args["target"]), str(args.get("signal", "KILL")),
        count=int(count) if count is not None else None,
        respawn=bool(args.get("respawn", False)),
        respawn_after_s=float(args.get("respawn_after", 0.0)),
    )
    return _Incarnations(result.respawn_pending, before).outcome(result, "respawned")


def respawn(sup: Supervisor, target: str) -> list[str]:
    """Start a new incarnation of every node of ``target`` that is down.

    Returns the names started; raises :class:`UsageError` when none is down.
    """
    _check_running(sup)
    nodes = sup.resolve(target)
    down = [n for n in nodes if n.handle is None and n.state in RESPAWNABLE]
    if not down:
        states = ", ".join(f"{n.label} {n.state}" for n in nodes)
        raise UsageError(f"nothing to respawn in {target!r} ({states})")
    for node in down:
        node.restart_at = None
        node.quick_failures = 0
        sup.start_node(node, "respawn")
    return [n.label for n in down]


def _respawn(sup: Supervisor, args: RequestArgs) -> Outcome:
    """``respawn``; waits for the new incarnations (``"running"``)."""
    before = _incarnations(sup)
    names = respawn(sup, str(args["target"]))
    return _Incarnations(names, before).outcome(Respawned(names), "running")


def _add_slots(sup: Supervisor, group: str, n: int) -> list[str]:
    """``n`` new slots of ``group`` at the lowest free numbers (started like at ``up``)."""
    added: list[str] = []
    for _ in range(n):
        index = 1
        while str(NodeName(group, index)) in sup.nodes:
            index += 1
        node = Node(NodeName(group, index))
        sup.nodes[node.label] = node
        added.append(node.label)
    return added


def _retire(sup: Supervisor, node: Node) -> None:
    """Scale ``node`` away: TERM now, KILL after the grace; the slot goes with its process."""
    node.retiring = True
    node.restart_at = None
    if node.handle is None:
        sup.remove(node)
        sup.emit(EventKind.STOPPED, node, detail="scaled down")
        return
    pid = node.handle.pid
    sup.signals.send_group(pid, signal.SIGTERM)
    if node.paused_from is not None or node.state is NodeState.PAUSED:
        sup.signals.send_group(pid, signal.SIGCONT)
        node.paused_from = None
    node.kill_at = node.kill_at or sup.clock.monotonic() + sup.config.grace_s
    if node.state is not NodeState.KILLED:
        sup.move(node, NodeState.KILLED, EventKind.KILLED, "SIGTERM (scaled down)", pid=pid)
    else:
        sup.emit(EventKind.KILLED, node, detail="SIGTERM (scaled down)", pid=pid)


@dataclass(frozen=True)
class Scaled:
    """What :func:`scale` did: slots added, slots retiring (highest first), kept slots
    respawned."""

    group: str
    replicas: int
    added: list[str]
    retiring: list[str]
    respawned: list[str]

    def to_dict(self) -> ScaledJson:
        return {"group": self.group, "replicas": self.replicas, "added": self.added,
                "retiring": self.retiring, "respawned": self.respawned}


def scale(sup: Supervisor, group: str, count: int) -> Scaled:
    """Run ``count`` nodes of service ``group`` from now on.

    Scaling up adds slots ``<group>-<n>`` at the lowest free numbers; they
    start like at ``up`` (once the server is ready). Scaling down retires
    the highest-numbered slots: TERM, KILL after the grace period, and the
    slot disappears once its process is gone (at once if it has none).
    0 is allowed: the group's work then waits, durably, until it is scaled
    up again. Kept slots that are down (killed or failed) are respawned, so
    the group ends with ``count`` running nodes. Raises :class:`UsageError`
    for an unknown group, a count outside 0..MAX_REPLICAS, or during shutdown.
    """
    _check_running(sup)
    check_replicas(group, count, tuple(g for g in sup.config.group_names if g != GATEWAY))
    slots = sorted((n for n in sup.nodes.values() if n.name.group == group and not n.retiring),
                   key=lambda n: n.name.index)
    added = _add_slots(sup, group, count - len(slots))
    respawned: list[str] = []
    for node in slots[:count]:
        if node.handle is None and node.state in STAYS_DOWN:
            node.restart_at = None
            node.quick_failures = 0
            sup.start_node(node, "respawn")
            respawned.append(node.label)
    retiring = [node.label for node in reversed(slots[count:])]
    for node in reversed(slots[count:]):
        _retire(sup, node)
    order = {g: i for i, g in enumerate([SERVER, *sup.config.group_names])}
    sup.nodes = dict(sorted(sup.nodes.items(),
                            key=lambda kv: (order[kv[1].name.group], kv[1].name.index)))
    only = sup.config.only
    if only and group not in only:
        only = [*only, group]
    sup.config = replace(sup.config, replicas={**sup.config.replicas, group: count}, only=only)
    return Scaled(group, count, added, retiring, respawned)


def _scale(sup: Supervisor, args: RequestArgs) -> Outcome:
    """``scale``; waits until the group has exactly ``count`` ready nodes (``"nodes"``)."""
    group, count = str(args["group"]), int(args["count"])
    scaled = scale(sup, group, count)

    def rows(s: Supervisor) -> list[NodeRow]:
        return [r for r in s.snapshot() if r.group == group]

    def effect(s: Supervisor) -> Answer | None:
        nodes = rows(s)
        if len(nodes) != count or any(r.state != NodeState.READY for r in nodes):
            return None
        return Joined(scaled, "nodes", nodes)

    def late(s: Supervisor, wait_s: float) -> str:
        seen = ", ".join(f"{r.name} {r.state}" for r in rows(s)) or "no nodes"
        return f"{group} did not reach {count} ready node(s) within {wait_s:g}s ({seen})"

    return Outcome(scaled, effect, late)


#: The control ops that change the node table, each parsing its request's arguments.
OPERATIONS: dict[str, Callable[[Supervisor, RequestArgs], Outcome]] = {
    "kill": _kill, "respawn": _respawn, "scale": _scale,
}
