"""The supervision logic: node table, restarts with backoff, kill/respawn, shutdown.

Pure and single-threaded: the outside world (time, starting processes,
signals, readiness checks) comes in through the small protocols below, so the
whole lifecycle is unit-tested with fakes. The daemon calls :meth:`Supervisor.step`
in a loop and the control commands between steps.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable
from dataclasses import replace

from resonate_rpc_cli.contracts.app_topology import LISTENER
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVER
from resonate_rpc_cli.supervisor.events import EventFeed, EventKind
from resonate_rpc_cli.supervisor.fault_leases import FaultBook
from resonate_rpc_cli.supervisor.fork.client import LOST
from resonate_rpc_cli.supervisor.node import (
    BecameReady,
    Clock,
    Exited,
    LeaseReleaser,
    LinkRouter,
    Node,
    Observation,
    ReadinessProbe,
    RestartPolicy,
    SignalSender,
    Spawner,
)
from resonate_rpc_cli.supervisor.rows import NodeRow
from resonate_rpc_cli.supervisor.states import (
    SHUT,
    NodeState,
    check_transition,
)
from resonate_rpc_cli.supervisor.topology_config import (
    TopologyConfig,
    build_launch,
)


class Supervisor:
    """Owns every node of one topology; mutated only from one thread."""

    def __init__(
        self, config: TopologyConfig, home: Home, *, clock: Clock, spawner: Spawner,
        signals: SignalSender, probe: ReadinessProbe, parent_pid: int,
        policy: RestartPolicy | None = None,
        new_node_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        releaser: LeaseReleaser | None = None, links: LinkRouter | None = None,
    ) -> None:
        self.config = config
        #: each node's link (its RESONATE_URL); None: nodes reach the server directly
        self.links = links
        self.releaser = releaser
        #: group -> (node, node id) of dead nodes whose leases wait for a live member
        self.unreleased: dict[str, list[tuple[str, str]]] = {}
        self.home = home
        self.clock = clock
        self.spawner = spawner
        self.signals = signals
        self.probe = probe
        self.parent_pid = parent_pid
        self.policy = policy or RestartPolicy(
            max_quick_failures=config.restart_max_failures,
            base_backoff_s=config.restart_backoff_s)
        self.new_node_id = new_node_id
        self.feed = EventFeed()
        #: faults in force, held as leases (``fault_leases.py``)
        self.faults = FaultBook()
        self.nodes: dict[str, Node] = {str(n): Node(n) for n in config.node_names()}
        self.shutting_down = False
        self.started_wall = clock.wall()
        #: every node was ready once: `up` is over, later starts are the supervisor's to judge
        self.came_up = False

    # -- queries -------------------------------------------------------------------

    @property
    def server(self) -> Node | None:
        """The server's slot; None when the topology uses an external server."""
        return self.nodes.get(SERVER)

    def all_ready(self) -> bool:
        return all(n.state is NodeState.READY for n in self.nodes.values())

    def failed_nodes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.state is NodeState.FAILED]

    def done(self) -> bool:
        """True once shutdown has finished: every node stopped and reaped."""
        return self.shutting_down and all(
            n.state is NodeState.STOPPED and n.handle is None for n in self.nodes.values()
        )

    def snapshot(self) -> list[NodeRow]:
        """One row per node, for ``status``."""
        now = self.clock.monotonic()
        return [
            NodeRow(
                name=node.label, group=node.name.group, pid=node.pid, state=str(node.state),
                restarts=node.restarts,
                uptime_s=round(now - node.started_at, 3)
                if node.handle is not None and node.started_at is not None else None,
                node_id=node.node_id or None, incarnation=node.incarnation,
                log=str(node.spec.log) if node.spec else None, last_exit=node.last_exit,
                past_node_ids=tuple(node.past_node_ids), retiring=node.retiring,
            )
            for node in self.nodes.values()
        ]

    def kill_targets(self) -> list[str]:
        """Every valid kill/respawn target: groups that have nodes, then node names."""
        present = {n.name.group for n in self.nodes.values()}
        groups = [g for g in (SERVER, *self.config.group_names) if g in present]
        names = [n for n in self.nodes if n not in groups]
        return groups + names

    def resolve(self, target: str) -> list[Node]:
        """The nodes ``target`` (a group or a node name) designates, or :class:`UsageError`."""
        if target in self.nodes:
            return [self.nodes[target]]
        found = [n for n in self.nodes.values() if n.name.group == target]
        if not found:
            raise UsageError(
                f"unknown target {target!r}; valid targets: {', '.join(self.kill_targets())}"
            )
        return found

    # -- the loop --------------------------------------------------------------------

    def observe(self) -> list[Observation]:
        """What happened to the processes since the last look (reaping the exited)."""
        seen: list[Observation] = []
        for node in self.nodes.values():
            if node.handle is None:
                continue
            code = node.handle.poll()
            if code is not None:
                seen.append(Exited(node.label, node.handle.pid, code))
            elif node.state is NodeState.STARTING and node.spec is not None:
                ready = self.probe.ready(node.spec)
                if ready:
                    seen.append(BecameReady(node.label, node.handle.pid,
                                            ready if isinstance(ready, str) else None))
        return seen

    def handle(self, obs: Observation) -> None:
        """Apply one observation; one about an earlier incarnation (another pid) is ignored."""
        node = self.nodes.get(obs.node)
        if node is None or node.pid != obs.pid:
            return
        if isinstance(obs, Exited):
            dead_id = node.node_id
            self._on_exit(node, obs.code)
            self._fail_over(node, obs.pid, dead_id, obs.code)
        elif node.state is NodeState.STARTING:
            if obs.node_id and node.spec is not None:
                node.spec = replace(node.spec, node_id=obs.node_id)
            node.ever_ready = True
            self.move(node, NodeState.READY, EventKind.READY)
            for label, dead_id in self.unreleased.pop(node.name.group, []):
                if self.releaser is not None and not self.shutting_down:
                    self.releaser.release(label, dead_id)

    def step(self) -> None:
        """One pass: apply what happened, fire timers, start what is due."""
        for outcome in self.releaser.outcomes() if self.releaser is not None else []:
            if outcome.released is not None:  # else TTL-bound recovery: nothing happened
                self.feed.emit(self.clock.wall(), EventKind.RELEASED, outcome.node,
                               node_id=outcome.node_id, detail=outcome.detail)
        for obs in self.observe():
            self.handle(obs)
        now = self.clock.monotonic()
        self.came_up = self.came_up or self.all_ready()
        for node in self.nodes.values():
            self._expire_readiness(node, now)
            if node.kill_at is not None and node.handle is not None and now >= node.kill_at:
                node.kill_at = None
                self.signals.send_group(node.handle.pid, signal.SIGKILL)
            if node.restart_at is not None and node.handle is None and now >= node.restart_at \
                    and not self.shutting_down:
                respawn = node.state is NodeState.KILLED
                node.restart_at = None
                self.start_node(node, "respawn" if respawn else "restart")
        if self.shutting_down:
            self._advance_shutdown()
            return
        pending = [n for n in self.nodes.values() if n.state is NodeState.PENDING]
        server = self.server
        if server is not None and server.state is NodeState.PENDING:
            self.start_node(server, "start")
        elif server is None or server.state is NodeState.READY:
            starting = {n.name.group for n in self.nodes.values()
                        if n.state is NodeState.STARTING}
            for node in pending:
                if node.name.group in starting and self._one_at_a_time(node.name.group):
                    continue
                self.start_node(node, "start")
                starting.add(node.name.group)

    def _one_at_a_time(self, group: str) -> bool:
        """Whether ``group``'s nodes start one after another: a declared group ready by its
        listener, so each new listener id the server lists is surely the one node's that
        waits for it (``readiness.py``), and its leases are released at once if it dies."""
        spec = self.config.app.group(group) if self.config.app is not None else None
        return spec is not None and spec.ready.kind == LISTENER

    def _ready_timeout(self, node: Node) -> float | None:
        group = self.config.app.group(node.name.group) if self.config.app is not None else None
        return group.ready_timeout_s if group is not None else None

    def _expire_readiness(self, node: Node, now: float) -> None:
        """A declared node started after `up` (a respawn, a restart, a scale) that is not
        ready within its group's ``ready_timeout`` is killed; its exit then counts as a
        quick failure (backoff, then failed), as a node that cannot start. During `up`
        ``up`` itself judges (``app_launch.declared_failure``)."""
        timeout = self._ready_timeout(node)
        if timeout is None or not self.came_up or node.state is not NodeState.STARTING or \
                node.handle is None or node.ready_expired or node.started_at is None or \
                now - node.started_at <= timeout:
            return
        node.ready_expired = True
        self.signals.send_group(node.handle.pid, signal.SIGKILL)

    def _on_exit(self, node: Node, code: int) -> None:
        pid = node.pid
        node.handle = None
        node.kill_at = None
        node.last_exit = code
        now = self.clock.monotonic()
        if node.retiring:
            self.remove(node)
            self.emit(EventKind.STOPPED, node, detail=f"exit {code}; scaled down", pid=pid)
            return
        if node.state is NodeState.STOPPING:
            self.move(node, NodeState.STOPPED, EventKind.STOPPED, f"exit {code}", pid=pid)
            return
        if node.state is NodeState.KILLED:
            self.emit(EventKind.EXITED, node, detail=f"exit {code} (killed)", pid=pid)
            return
        if self.shutting_down:
            self.move(node, NodeState.STOPPING)
            self.move(node, NodeState.STOPPED, EventKind.STOPPED, f"exit {code}", pid=pid)
            return
        uptime = now - (node.started_at or now)
        expired, node.ready_expired = node.ready_expired, False
        quick = uptime < self.policy.quick_s or expired
        node.quick_failures = node.quick_failures + 1 if quick else 1
        why = f"exit {code}" + (f"; not ready within {self._ready_timeout(node):g}s "
                                "(ready_timeout)" if expired else "")
        if node.quick_failures >= self.policy.max_quick_failures:
            self.move(node, NodeState.FAILED, EventKind.FAILED,
                      f"{why}; {node.quick_failures} quick failures, giving up", pid=pid)
            return
        delay = self.policy.backoff(node.quick_failures)
        node.restart_at = now + delay
        self.move(node, NodeState.BACKOFF, EventKind.EXITED,
                  f"{why}; restart in {delay:.2f}s", pid=pid)

    def _fail_over(self, node: Node, pid: int, dead_id: str, code: int) -> None:
        """After ``pid`` (node id ``dead_id``) was reaped: release its leases.

        At once when another node of the group is ready to take the work;
        otherwise as soon as one becomes ready (a respawn, ms later), so the
        re-sent tasks meet a live listener. Only for certain death of a node
        whose id is never reused: not the server, not the gateway (its fixed id
        lives on in the next incarnation), not during shutdown. An exit the
        fork server could not confirm (``LOST``) is not certain: the group is
        SIGKILLed and its leases are left to lapse after the TTL.
        """
        if code == LOST:
            self.signals.send_group(pid, signal.SIGKILL)
            return
        if self.releaser is None or self.shutting_down or not dead_id or \
                node.name.group in (SERVER, GATEWAY):
            return
        group = node.name.group
        if any(n.state is NodeState.READY and n.name.group == group
               for n in self.nodes.values()):
            self.releaser.release(node.label, dead_id)
        else:
            self.unreleased.setdefault(group, []).append((node.label, dead_id))

    def start_node(self, node: Node, why: str) -> None:
        node.incarnation += 1
        if node.spec is not None and node.spec.node_id:
            node.past_node_ids.append(node.spec.node_id)
        if why != "start":
            node.restarts += 1
        node_id = "gateway" if node.name.group == GATEWAY else (
            "" if node.name.group == SERVER else self.new_node_id())
        url = None if self.links is None or node.name.group == SERVER else \
            self.links.url_for(node.label)
        spec = build_launch(self.config, self.home, node.name, incarnation=node.incarnation,
                            node_id=node_id, parent_pid=self.parent_pid, server_url=url)
        node.spec = spec
        node.paused_from = None
        self.move(node, NodeState.STARTING)
        node.started_at = self.clock.monotonic()
        try:
            node.handle = self.spawner.spawn(spec)
        except OSError as exc:
            node.handle = None
            self.emit(EventKind.EXITED, node, detail=f"could not start: {exc}")
            self._on_exit(node, -1)
            return
        kind = {"start": EventKind.SPAWNED, "restart": EventKind.RESTARTING}.get(
            why, EventKind.RESPAWNED)
        self.emit(kind, node, detail=f"incarnation {node.incarnation}")

    # -- shutdown (the operator's other operations: operations.py) ------------------------

    def shutdown(self) -> None:
        """Begin stopping everything: TERM the nodes, then the server; KILL after grace."""
        if self.shutting_down:
            return
        self.shutting_down = True
        for node in self.nodes.values():
            node.restart_at = None
            if node.handle is None and node.state not in SHUT:
                self.move(node, NodeState.STOPPED)
        self._advance_shutdown()

    def _advance_shutdown(self) -> None:
        others_down = all(n.handle is None for n in self.nodes.values() if n is not self.server)
        for node in self.nodes.values():
            if node.handle is None:
                if node.state is NodeState.STOPPING:
                    self.move(node, NodeState.STOPPED)
                continue
            if node.state is NodeState.STOPPING or (node is self.server and not others_down):
                continue
            if node.state is NodeState.KILLED:
                # already signalled by the operator; make sure it goes
                node.kill_at = node.kill_at or self.clock.monotonic() + self.config.grace_s
                continue
            was_paused = node.state is NodeState.PAUSED
            self.move(node, NodeState.STOPPING)
            self.signals.send_group(node.handle.pid, signal.SIGTERM)
            if was_paused:
                self.signals.send_group(node.handle.pid, signal.SIGCONT)
            node.kill_at = self.clock.monotonic() + self.config.grace_s
        for node in self.nodes.values():
            if node.state is NodeState.KILLED and node.handle is None:
                self.move(node, NodeState.STOPPED)

    def kill_everything(self) -> None:
        """Last resort (the daemon is dying): SIGKILL every live group at once."""
        for node in self.nodes.values():
            if node.handle is not None:
                self.signals.send_group(node.handle.pid, signal.SIGKILL)

    # -- helpers ---------------------------------------------------------------------

    def remove(self, node: Node) -> None:
        """Forget a slot scaled away, and its link."""
        del self.nodes[node.label]
        if self.links is not None:
            self.links.drop(node.label)

    def move(self, node: Node, new: NodeState, kind: EventKind | None = None,
             detail: str = "", pid: int | None = None) -> None:
        """Move ``node`` to ``new`` (a :class:`ValueError` if the move is not allowed);
        with ``kind``, emit the event that says so, in the same call."""
        node.state = check_transition(node.state, new)
        if kind is not None:
            self.emit(kind, node, detail=detail, pid=pid)

    def emit(
        self, kind: EventKind, node: Node, detail: str = "", pid: int | None = None
    ) -> None:
        self.feed.emit(self.clock.wall(), kind, node.label,
                       pid=pid if pid is not None else node.pid,
                       node_id=node.node_id or None, detail=detail)
