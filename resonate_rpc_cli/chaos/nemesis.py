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
:class:`~.strikes.Striker`; :attr:`Nemesis.done` is set once every planned
fault was played and healed (the workload's stop rule waits for it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence

from resonate_rpc_cli.backends import read_client
from resonate_rpc_cli.chaos.faults import FaultRecord
from resonate_rpc_cli.chaos.history import wall_ms
from resonate_rpc_cli.chaos.schedule import NODE_FAULTS, PlannedFault, scope_size
from resonate_rpc_cli.chaos.strikes import Striker, pid_gone, pid_stopped, wait_for
from resonate_rpc_cli.chaos.targets import (
    RUNNING,
    ChaosTopology,
    FaultHolder,
    LinkControl,
    NodeInfo,
)
from resonate_rpc_cli.clients.protocol import ProtocolError, ServerUnreachable
from resonate_rpc_cli.contracts.errors import RpcdemoError
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVER

__all__ = ["Nemesis", "heal_everything", "pid_gone", "pid_stopped", "task_holders", "wait_for"]

#: Faults that are over as soon as they are done (no down time to wait out).
INSTANT_FAULTS = frozenset({"reset"})
#: How often a fault waiting for a task holder asks the server again.
HOLDER_POLL_S = 0.03
#: A fault's lease outlasts its planned down time by this much (the heal's own time).
LEASE_MARGIN_S = 10.0


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
