""":class:`~.targets.ChaosTopology` over the supervisor's control socket.

:class:`SupervisedTopology` drives a topology that ``rpcdemo up`` started
under a HOME. :func:`own_topology` starts one itself (through the same
supervisor) under a fresh temporary HOME on free ports, yields it, and tears
it down after, counting the processes of that HOME still alive (orphans).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from resonate_rpc_cli.chaos.targets import DOWN, PAUSED, RUNNING, LinkControl, NodeInfo
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.supervisor import updown
from resonate_rpc_cli.supervisor.client import SupervisorClient, TopologyStatus
from resonate_rpc_cli.supervisor.scan import processes_of_home
from resonate_rpc_cli.supervisor.states import NO_PROCESS
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

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
        """Register a fault as a lease this process holds (see ``targets.FaultHolder``)."""
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

    ``None`` when the links do not answer (``up`` without ``--links``, an external
    topology): network faults are then left out, or refused when asked for.
    """
    client = LinkClient(home)
    try:
        client.status()
    except RpcdemoError:
        return None
    return client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OwnTopology:
    """A topology chaos started itself.

    ``orphans`` is filled in after teardown: processes of its HOME that the
    supervisor's shutdown left behind (``down`` then ends them) plus any
    still alive ten seconds later.
    """

    topology: SupervisedTopology
    home: Home
    orphans: int = 0
    torn_down: bool = False


@contextlib.contextmanager
def own_topology(
    *,
    ttl_s: float = 2.0,
    step_delay_s: float = 0.2,
    delay_mode: str = "work",
    memory: bool = False,
    keep_home: bool = False,
    up_timeout_s: float = 90.0,
    app: AppTopology | None = None,
) -> Iterator[OwnTopology]:
    """Start a whole topology under a temporary HOME; tear it down and count orphans after.

    Its supervisor is owned by this process (the lifeline): if this process is
    killed, the topology stops by itself.

    Raises :class:`NotRunningError` (exit 3) when it cannot start; whatever
    was started is stopped first. The HOME is removed afterwards unless
    ``keep_home`` (its logs help to debug a failed run). ``app``: a declared topology's
    groups instead of the seed's services.
    """
    root = Path(tempfile.mkdtemp(prefix="rpcdemo-chaos-"))
    home = Home(root)
    config = TopologyConfig(
        server_port=_free_port(), gateway_port=_free_port(), ttl_s=ttl_s,
        step_delay_s=step_delay_s, delay_mode=delay_mode, memory=memory,
        links=True,  # chaos's own topology can always break links (network faults)
        app=app,
    )
    own: OwnTopology | None = None
    daemon: subprocess.Popen[bytes] | None = None
    try:
        try:
            # owned (lifeline): the topology dies with this process, even after kill -9
            daemon = updown.up(home, config, detach=False, timeout_s=up_timeout_s).daemon
        except RpcdemoError as exc:
            raise NotRunningError(f"chaos could not start its own topology: {exc}") from exc
        own = OwnTopology(SupervisedTopology(home), home)
        yield own
    finally:
        cleaned = 0
        with contextlib.suppress(RpcdemoError):
            # processes the supervisor's own shutdown left behind, which down() then ended
            cleaned = updown.down(home).leftovers
        if daemon is not None:
            _reap(daemon)
        left = _wait_no_processes(root, 10.0)
        if own is not None:
            own.orphans = cleaned + left
            own.torn_down = True
        if not keep_home:
            shutil.rmtree(root, ignore_errors=True)


def _wait_no_processes(root: Path, timeout_s: float) -> int:
    """How many processes of ``root`` are still alive after up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = processes_of_home(root)
        if not left or time.monotonic() >= deadline:
            return len(left)
        time.sleep(0.1)


def _reap(daemon: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """Wait for the supervisor daemon we started; KILL its group if it lingers."""
    try:
        daemon.wait(timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(5)
