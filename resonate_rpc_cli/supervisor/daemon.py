"""The supervisor daemon: the loop that owns the topology's processes.

Started by ``rpcdemo up`` as ``python -m resonate_rpc_cli.supervisor --home H
--config JSON`` in its own session. It writes ``run/supervisor.pid``, serves
``run/control.sock``, steps the :class:`~.manager.Supervisor` every 50 ms (every
4 ms while a node starts, dies or is due to restart) and answers control
requests between steps. SIGTERM/SIGINT/SIGHUP (and the death of a foreground
``up`` that owns it, through the lifeline) start a clean shutdown; any
unexpected error SIGKILLs every child before the daemon exits.

Nodes are forked by a fork server (``fork/``; ``RPCDEMO_SPAWN=plain``
turns it off), stopped with the daemon. A reaped node's leases are released on
our embedded server (``failover.py``; ``RPCDEMO_NO_FAILOVER=1`` turns it off).
With links on, every node's server URL is its own link proxy, served on a
thread of this daemon (``links/switchboard.py``); the control socket carries their
``links.*`` operations too.
"""

from __future__ import annotations

import contextlib
import os
import queue
import time

from resonate_rpc_cli.contracts.home import Endpoints, Home
from resonate_rpc_cli.contracts.lifeline import ENV_PARENT_PID, start_lifeline
from resonate_rpc_cli.contracts.naming import GATEWAY
from resonate_rpc_cli.links.switchboard import start_switchboard
from resonate_rpc_cli.supervisor.control import ControlServer, Request
from resonate_rpc_cli.supervisor.fault_heal import heal_due
from resonate_rpc_cli.supervisor.manager import Supervisor
from resonate_rpc_cli.supervisor.requests import Waiting, reply
from resonate_rpc_cli.supervisor.runner import drive, supervising
from resonate_rpc_cli.supervisor.states import NodeState
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

TICK_S = 0.05
#: While a node is starting, dying or due to restart: readiness and exits are
#: seen within a few ms (the respawn-to-ready target is 50 ms).
FAST_TICK_S = 0.004


def tick_interval(sup: Supervisor) -> float:
    """How long to wait for a control request before the next step."""
    busy = any(n.state is NodeState.STARTING or n.restart_at is not None
               or (n.state is NodeState.KILLED and n.handle is not None)
               for n in sup.nodes.values())
    return FAST_TICK_S if busy else TICK_S


class RequestPump:
    """Between steps: answer control requests (waiting up to a tick for one), then
    settle the answers that wait for an effect."""

    def __init__(self, requests: queue.Queue[Request]) -> None:
        self.requests = requests
        self.waiting: list[Waiting] = []

    def wait(self, sup: Supervisor) -> None:
        try:
            request: Request | None = self.requests.get(timeout=tick_interval(sup))
        except queue.Empty:
            request = None
        while request is not None:
            pending = reply(sup, request)
            if pending is not None:
                self.waiting.append(pending)
            try:
                request = self.requests.get_nowait()
            except queue.Empty:
                request = None

    def settle(self, sup: Supervisor) -> None:
        if not sup.shutting_down:
            heal_due(sup, sup.faults)  # faults past their deadline or whose holder is gone
        now = time.monotonic()
        self.waiting = [w for w in self.waiting if not w.settle(sup, now)]


def serve(sup: Supervisor, requests: queue.Queue[Request], stop: list[int] | list[bool]) -> None:
    """Run ``sup`` until it is done, answering control requests between steps."""
    pump = RequestPump(requests)
    drive(sup, stop, pump.wait, pump.settle)


def run_daemon(home: Home, config: TopologyConfig) -> int:
    """Supervise the topology until shut down; return the exit code."""
    home.ensure()
    if os.environ.get(ENV_PARENT_PID):
        start_lifeline()  # a foreground `up` owns us: die with it
    links = start_switchboard(config.server_url, config.links,
                              config.backend.handoff_socket(home))
    try:
        with supervising(home, config, links=links) as run:
            control = ControlServer(home, links)
            tmp = home.pid_file.with_suffix(".tmp")
            tmp.write_text(f"{os.getpid()}\n")
            tmp.replace(home.pid_file)
            control.start()
            Endpoints(config.server_url,
                      config.gateway_url if config.includes(GATEWAY) else None,
                      os.getpid(), config.app.name if config.app is not None else None
                      ).write(home)
            print(f"rpcdemo supervisor {os.getpid()} for {home.root}", flush=True)
            try:
                serve(run.sup, control.requests, run.stop)
            finally:
                Endpoints.remove(home)
                control.close()
                with contextlib.suppress(OSError):
                    home.control_socket.unlink()
                with contextlib.suppress(OSError, ValueError):
                    if int(home.pid_file.read_text().strip()) == os.getpid():
                        home.pid_file.unlink()
    finally:
        if links is not None:
            links.close()  # after the supervisor: every node is gone by now
    print("rpcdemo supervisor: everything stopped", flush=True)
    return 0
