"""One fault on one node, per kind: strike it, confirm it took hold, undo it.

Process faults go through the :class:`~.targets.ChaosTopology` (signals,
respawns) and are confirmed with psutil: the pid is gone (or a zombie) after
``kill``/``term``/``gateway``/``server``, or stopped after ``pause``. Network
faults go through a :class:`~.targets.LinkControl` (the node's link proxy)
and are confirmed by the link's reported state; a ``reset`` is confirmed by
the call returning, and needs no undoing (connections simply reopen).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil

from resonate_rpc_cli.chaos.schedule import NET_FAULTS, PlannedFault
from resonate_rpc_cli.chaos.targets import ChaosTopology, LinkControl, NodeInfo
from resonate_rpc_cli.contracts.errors import RpcdemoError

#: How long a signalled process may take to die (TERM runs a clean shutdown).
CONFIRM_DEATH_S = 15.0
CONFIRM_STOP_S = 5.0
CONFIRM_LINK_S = 5.0
#: The link state each network fault puts a link in (``None``: nothing to check).
LINK_STATE = {"partition": "partitioned", "delay": "delayed", "reset": None}


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
