"""The nemesis: plays the fault schedule, at most ``overlap`` faults in force at once.

Each fault starts at its planned offset, or as soon as one of the
``overlap`` slots is free (see :func:`~.schedule.effective_starts`), and runs
in its own thread: choose the victims, strike, stay down ``down_s``, heal.
With ``overlap`` 1 faults never overlap and every fault stays attributable.
A node already hit by a fault in force is never chosen again until healed.

For node faults the victim is preferably a node of the target groups that
holds a task right now (``task.search`` pids → node ids), chosen with the
fault's seeded ``pick``. When none does, the nemesis waits for one, polling,
up to ``holder_wait_s``; then it takes a live node of the planned group, else
any live node of the targets. The fault's ``scope`` adds more nodes of the
victim's group (holders first). What landed is decided by
:class:`Striker`; :attr:`Nemesis.done` is set once every planned
fault was played and healed (the workload's stop rule waits for it).

:class:`Striker` strikes, confirms and undoes one fault on one node. Process
faults go through the :class:`~.topology.ChaosTopology` (signals, respawns)
and are confirmed with psutil: the pid is gone (or a zombie) after
``kill``/``term``/``gateway``/``server``, or stopped after ``pause``. Network
faults go through a :class:`~.topology.LinkControl` (the node's link proxy)
and are confirmed by the link's reported state; a ``reset`` is confirmed by
the call returning, and needs no undoing (connections simply reopen).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence

from resonate_rpc_cli.chaos.history import FaultRecord, wall_ms
from resonate_rpc_cli.chaos.schedule import NET_FAULTS, NODE_FAULTS, PlannedFault, scope_size
from resonate_rpc_cli.chaos.topology import (
    RUNNING,
    ChaosTopology,
    FaultHolder,
    LinkControl,
    NodeInfo,
    pid_gone,
    pid_stopped,
    task_holders,
    wait_for,
)
from resonate_rpc_cli.contracts.errors import RpcdemoError
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVER

#: Faults that are over as soon as they are done (no down time to wait out).
INSTANT_FAULTS = frozenset({"reset"})
#: How often a fault waiting for a task holder asks the server again.
HOLDER_POLL_S = 0.03
#: A fault's lease outlasts its planned down time by this much (the heal's own time).
LEASE_MARGIN_S = 10.0
#: How long a signalled process may take to die (TERM runs a clean shutdown).
CONFIRM_DEATH_S = 15.0
CONFIRM_STOP_S = 5.0
CONFIRM_LINK_S = 5.0
#: The link state each network fault puts a link in (``None``: nothing to check).
LINK_STATE = {"partition": "partitioned", "delay": "delayed", "reset": None}


class Striker:
    """Strikes and undoes faults on single nodes (see the module docstring).

    ``links`` may be ``None`` when the topology has no link proxies; a
    network fault then raises :class:`RpcdemoError` (it cannot land).
    """

    def __init__(self, topology: ChaosTopology, links: LinkControl | None = None) -> None:
        self.topology = topology
        self.links = links

    def _links(self) -> LinkControl:
        if self.links is None:
            raise RpcdemoError("this topology has no link proxies (started without --links?)")
        return self.links

    def strike(self, planned: PlannedFault, victim: NodeInfo) -> tuple[int | None, bool]:
        """Inject ``planned`` on ``victim``; return (the pid it hit, whether it was confirmed).

        Raises :class:`RpcdemoError` when the topology or the link refuses.
        """
        if planned.kind in NET_FAULTS:
            return victim.pid, self._strike_link(planned, victim.name)
        if planned.kind == "pause":
            pid = self.topology.pause(victim.name)
            return pid, wait_for(lambda: pid_stopped(pid), CONFIRM_STOP_S)
        act = self.topology.term if planned.kind == "term" else self.topology.kill
        pid = act(victim.name)
        return pid, wait_for(lambda: pid_gone(pid), CONFIRM_DEATH_S)

    def _strike_link(self, planned: PlannedFault, name: str) -> bool:
        links = self._links()
        if planned.kind == "partition":
            links.partition(name)
        elif planned.kind == "delay":
            links.delay(name, planned.delay_ms, planned.jitter_ms)
        else:
            links.reset(name)
        want = LINK_STATE[planned.kind]
        if want is None:
            return True
        return wait_for(lambda: self.link_state(name) == want, CONFIRM_LINK_S, 0.05)

    def link_state(self, name: str) -> str | None:
        """The state the link of ``name`` reports now (``None``: no such link)."""
        for link in self._links().status():
            if link.node == name:
                return link.state
        return None

    def undo(self, kind: str, name: str) -> tuple[str, int | None]:
        """Heal a landed fault on ``name``; return (what was done, the node's pid after).

        Raises :class:`RpcdemoError` when the heal fails.
        """
        if kind in NET_FAULTS:
            if kind == "reset":
                return "none", None
            self._links().heal(name)
            return "heal-link", None
        if kind == "pause":
            return "resume", self.topology.resume(name)
        return "respawn", self.topology.respawn(name).pid


class Nemesis:
    """Runs a fault schedule against a topology in threads; see the module docstring.

    ``log`` receives one :class:`FaultRecord` per planned fault that was
    attempted (landed or not), in schedule order once :meth:`stop` returned.
    :meth:`stop` ends injection; faults in force are healed before it returns.
    """

    def __init__(
        self,
        topology: ChaosTopology,
        plan: Sequence[PlannedFault],
        targets: Sequence[str],
        on_event: Callable[[str], None] | None = None,
        *,
        overlap: int = 1,
        holder_wait_s: float = 0.0,
        links: LinkControl | None = None,
    ) -> None:
        self.topology = topology
        self.plan = list(plan)
        self.targets = tuple(targets)
        self.overlap = max(1, overlap)
        self.holder_wait_s = holder_wait_s
        self.striker = Striker(topology, links)
        self.log: list[FaultRecord] = []
        self.on_event = on_event or (lambda _msg: None)
        self.done = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_force: set[str] = set()
        #: fault index -> the lease ids the supervisor holds for it
        self._leases: dict[int, list[int]] = {}
        self._thread: threading.Thread | None = None
        self.started_at = 0.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="chaos-nemesis", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 120.0) -> None:
        """Stop injecting, wait for the faults in force to be healed."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        with self._lock:
            self.log.sort(key=lambda r: r.index)

    def in_force(self) -> set[str]:
        """The names of the nodes a fault holds (or is about to hold) now."""
        with self._lock:
            return set(self._in_force)

    def _run(self) -> None:
        slots = threading.BoundedSemaphore(self.overlap)
        players: list[threading.Thread] = []
        try:
            for planned in self.plan:
                when = self.started_at + planned.at_s
                if self._stop.wait(max(0.0, when - time.monotonic())):
                    return
                while not slots.acquire(timeout=0.1):
                    if self._stop.is_set():
                        return
                t = threading.Thread(target=self._play, args=(planned, slots),
                                     name=f"chaos-fault-{planned.index}", daemon=True)
                t.start()
                players.append(t)
        finally:
            for t in players:
                t.join()
            self.done.set()

    def _play(self, planned: PlannedFault, slots: threading.BoundedSemaphore) -> None:
        record: FaultRecord | None = None
        try:
            record = self.inject(planned)
            with self._lock:
                self.log.append(record)
            if record.landed:
                if planned.kind not in INSTANT_FAULTS:  # a reset is over once done
                    self._stop.wait(planned.down_s)  # stays down even if stopping: then heal
                self.heal(record)
        finally:
            with self._lock:
                self._in_force.difference_update(record.targets if record else ())
            slots.release()

    # -- choosing victims ------------------------------------------------------

    def choose_victim(
        self, planned: PlannedFault, nodes: Sequence[NodeInfo],
        holders: dict[str, list[str]] | None = None,
    ) -> NodeInfo | None:
        """The first node this fault hits now (see the module docstring), or ``None``."""
        with self._lock:
            busy_now = set(self._in_force)
        live = [n for n in nodes if n.state == RUNNING and n.pid is not None
                and n.name not in busy_now]
        if planned.kind in ("gateway", "server"):
            name = GATEWAY if planned.kind == "gateway" else SERVER
            return next((n for n in live if n.name == name), None)
        candidates = sorted((n for n in live if n.group in self.targets), key=lambda n: n.name)
        if not candidates:
            return None
        if holders is None:
            holders = task_holders(self.topology.server_url, nodes)
        busy = [n for n in candidates if holders.get(n.name)]
        pool = busy or [n for n in candidates if n.group == planned.group] or candidates
        return pool[min(len(pool) - 1, int(planned.pick * len(pool)))]

    def _scope(self, planned: PlannedFault, first: NodeInfo, nodes: Sequence[NodeInfo],
               holders: dict[str, list[str]]) -> list[NodeInfo]:
        """``first`` plus as many more nodes of its group as the fault's scope asks."""
        group = [n for n in nodes if n.group == first.group]
        want = scope_size(planned.scope, len(group)) if planned.kind in NODE_FAULTS else 1
        with self._lock:
            taken = set(self._in_force)
        more = sorted((n for n in group if n.name != first.name and n.state == RUNNING
                       and n.pid is not None and n.name not in taken),
                      key=lambda n: (not holders.get(n.name), n.name))
        return [first, *more[: want - 1]]

    def choose_victims(self, planned: PlannedFault) -> tuple[list[NodeInfo], list[str]]:
        """The victims of ``planned`` and the tasks they hold, waiting (bounded) for a holder.

        The victims are reserved (in force) when this returns them.
        """
        deadline = time.monotonic() + self.holder_wait_s
        while True:
            nodes = self.topology.nodes()
            holders = task_holders(self.topology.server_url, nodes) \
                if planned.kind in NODE_FAULTS else {}
            first = self.choose_victim(planned, nodes, holders)
            waiting = time.monotonic() < deadline and not self._stop.is_set()
            if first is not None and (holders.get(first.name) or not waiting or
                                      planned.kind not in NODE_FAULTS):
                victims = self._scope(planned, first, nodes, holders)
                with self._lock:
                    self._in_force.update(v.name for v in victims)
                return victims, sorted({t for v in victims for t in holders.get(v.name, [])})
            if not waiting:
                return [], []
            time.sleep(HOLDER_POLL_S)

    # -- one fault -----------------------------------------------------------

    def inject(self, planned: PlannedFault) -> FaultRecord:
        """Inject one fault and confirm it; the record says whether it landed."""
        record = FaultRecord(
            index=planned.index, kind=planned.kind, target="", group=planned.group,
            planned_at_s=planned.at_s, down_s=planned.down_s,
        )
        try:
            victims, record.held = self.choose_victims(planned)
            if not victims:
                record.error = f"no live node to {planned.kind}"
                return record
            record.target, record.group = victims[0].name, victims[0].group
            record.node_id = victims[0].node_id
            record.targets = [v.name for v in victims]
            record.at_ms = wall_ms()
            self._strike_all(planned, victims, record)
        except RpcdemoError as exc:
            record.error = str(exc)
        return record

    def _strike_all(self, planned: PlannedFault, victims: Sequence[NodeInfo],
                    record: FaultRecord) -> None:
        failed: list[str] = []
        for victim in victims:
            self._hold(planned, victim.name)
            pid, ok = self.striker.strike(planned, victim)
            if pid is not None:
                record.os_pids.append(pid)
            if not ok:
                failed.append(f"{victim.name} (pid {pid})")
        record.os_pid = record.os_pids[0] if record.os_pids else None
        if failed:
            record.error = f"{planned.kind} not confirmed on {', '.join(failed)}"
            record.landed = len(failed) < len(victims)
        else:
            record.landed = True
        if record.landed:
            record.confirmed_ms = wall_ms()
            self.on_event(f"{planned.kind} {', '.join(record.targets)}"
                          + (f" holding {len(record.held)} task(s)" if record.held else ""))

    def _hold(self, planned: PlannedFault, node: str) -> None:
        """Register the fault with the topology before striking (when it holds leases):
        if this process dies mid-fault, the supervisor heals it. Raises
        :class:`RpcdemoError` when it refuses (then the fault is not struck)."""
        if isinstance(self.topology, FaultHolder):
            lease = self.topology.hold(planned.kind, node, planned.down_s + LEASE_MARGIN_S)
            with self._lock:
                self._leases.setdefault(planned.index, []).append(lease)

    def _release(self, index: int) -> None:
        with self._lock:
            leases = self._leases.pop(index, [])
        if isinstance(self.topology, FaultHolder):
            for lease in leases:
                with contextlib.suppress(RpcdemoError):  # healed for us meanwhile: fine
                    self.topology.release(lease)

    def heal(self, record: FaultRecord) -> None:
        """Undo a landed fault on every victim: resume, respawn or heal the link; then
        release its leases (a failed heal keeps them: the supervisor heals at the deadline)."""
        try:
            for name in record.targets or [record.target]:
                record.heal, pid = self.striker.undo(record.kind, name)
                if record.new_pid is None:
                    record.new_pid = pid
            record.healed_ms = wall_ms()
            self.on_event(f"healed {', '.join(record.targets)} ({record.heal})")
        except RpcdemoError as exc:
            record.error = f"heal failed: {exc}"
            return
        self._release(record.index)
