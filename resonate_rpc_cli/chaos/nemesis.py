"""The nemesis: injects the planned faults one at a time, confirms each, and heals it.

Faults never overlap: a fault is injected at its planned offset (or as soon as
the previous one healed, if that was later), the target stays down for the
fault's ``down_s``, then it is healed (respawned, resumed or restarted) before
the next fault. That keeps every fault attributable, which the recovery
figures need.

For node faults (``kill``, ``term``, ``pause``) the victim is preferably a
node of the target groups that holds a task right now (``task.search`` pids →
node ids), chosen with the fault's seeded ``pick``; otherwise a live node of
the planned group; otherwise any live node of the targets. A fault is
*landed* only once confirmed with psutil: the pid is gone (or a zombie) after
``kill``/``term``/``gateway``/``server``, or is stopped after ``pause``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence

import psutil

from resonate_rpc_cli.chaos.faults import FaultRecord
from resonate_rpc_cli.chaos.history import wall_ms
from resonate_rpc_cli.chaos.schedule import PlannedFault
from resonate_rpc_cli.chaos.targets import RUNNING, ChaosTopology, NodeInfo
from resonate_rpc_cli.clients.protocol import ProtocolError, ResonateClient, ServerUnreachable
from resonate_rpc_cli.contracts.errors import RpcdemoError
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVER

#: How long a signalled process may take to die (TERM runs a clean shutdown).
CONFIRM_DEATH_S = 15.0
CONFIRM_STOP_S = 5.0


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
        tasks = ResonateClient(server_url, timeout_s=2.0).task_search(state="acquired")
    except (ServerUnreachable, ProtocolError, OSError, ValueError):
        return out  # a server without task.search, or down: no preference, not a failure
    for t in tasks:
        name = by_id.get(str(t.get("pid")))
        if name is not None:
            out.setdefault(name, []).append(str(t.get("id")))
    return out


class Nemesis:
    """Runs a fault schedule against a topology in a thread; see the module docstring.

    ``log`` receives one :class:`FaultRecord` per planned fault that was
    attempted (landed or not). :meth:`stop` ends injection; the thread heals
    the fault in progress (if any) before it exits.
    """

    def __init__(
        self,
        topology: ChaosTopology,
        plan: Sequence[PlannedFault],
        targets: Sequence[str],
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.topology = topology
        self.plan = list(plan)
        self.targets = tuple(targets)
        self.log: list[FaultRecord] = []
        self.on_event = on_event or (lambda _msg: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = 0.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="chaos-nemesis", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 120.0) -> None:
        """Stop injecting, wait for the current fault to be healed."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        for planned in self.plan:
            when = self.started_at + planned.at_s
            if self._stop.wait(max(0.0, when - time.monotonic())):
                return
            record = self.inject(planned)
            self.log.append(record)
            if record.landed:
                self._stop.wait(planned.down_s)  # stays down even if stopping: then heal
                self.heal(record)

    # -- one fault -----------------------------------------------------------

    def choose_victim(self, planned: PlannedFault, nodes: Sequence[NodeInfo]) -> NodeInfo | None:
        """The node this fault hits now (see the module docstring), or ``None``."""
        live = [n for n in nodes if n.state == RUNNING and n.pid is not None]
        if planned.kind in ("gateway", "server"):
            name = GATEWAY if planned.kind == "gateway" else SERVER
            return next((n for n in live if n.name == name), None)
        candidates = sorted((n for n in live if n.group in self.targets), key=lambda n: n.name)
        if not candidates:
            return None
        holders = task_holders(self.topology.server_url, nodes)
        busy = [n for n in candidates if holders.get(n.name)]
        pool = busy or [n for n in candidates if n.group == planned.group] or candidates
        return pool[min(len(pool) - 1, int(planned.pick * len(pool)))]

    def inject(self, planned: PlannedFault) -> FaultRecord:
        """Inject one fault and confirm it; the record says whether it landed."""
        record = FaultRecord(
            index=planned.index, kind=planned.kind, target="", group=planned.group,
            planned_at_s=planned.at_s, down_s=planned.down_s,
        )
        try:
            nodes = self.topology.nodes()
            victim = self.choose_victim(planned, nodes)
            if victim is None or victim.pid is None:
                record.error = f"no live node to {planned.kind}"
                return record
            record.target, record.group = victim.name, victim.group
            record.node_id = victim.node_id
            if planned.kind in ("kill", "term", "pause"):
                record.held = task_holders(self.topology.server_url, nodes).get(victim.name, [])
            record.at_ms = wall_ms()
            if planned.kind == "pause":
                pid = self.topology.pause(victim.name)
                ok = wait_for(lambda: pid_stopped(pid), CONFIRM_STOP_S)
            else:
                act = self.topology.term if planned.kind == "term" else self.topology.kill
                pid = act(victim.name)
                ok = wait_for(lambda: pid_gone(pid), CONFIRM_DEATH_S)
            record.os_pid = pid
            if ok:
                record.landed = True
                record.confirmed_ms = wall_ms()
                self.on_event(f"{planned.kind} {victim.name} (pid {pid})"
                              + (f" holding {len(record.held)} task(s)" if record.held else ""))
            else:
                record.error = f"pid {pid} did not {'stop' if planned.kind == 'pause' else 'die'}"
        except RpcdemoError as exc:
            record.error = str(exc)
        return record

    def heal(self, record: FaultRecord) -> None:
        """Undo a landed fault: resume a paused node, respawn anything else."""
        try:
            if record.kind == "pause":
                record.heal = "resume"
                record.new_pid = self.topology.resume(record.target)
            else:
                record.heal = "respawn"
                record.new_pid = self.topology.respawn(record.target).pid
            record.healed_ms = wall_ms()
            self.on_event(f"healed {record.target} ({record.heal})")
        except RpcdemoError as exc:
            record.error = f"heal failed: {exc}"


def heal_everything(topology: ChaosTopology) -> list[str]:
    """Resume every paused node and respawn every node that is down; return what was done.

    Errors are collected into the returned list (as ``"error: ..."``) rather
    than raised: healing goes on for the other nodes.
    """
    done: list[str] = []
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
