"""The supervisor daemon: the loop that owns the topology's processes.

Started by ``rpcdemo up`` as ``python -m resonate_rpc_cli.supervisor --home H
--config JSON`` in its own session. It writes ``run/supervisor.pid``, serves
``run/control.sock``, steps the :class:`~.core.Supervisor` every 50 ms (every
4 ms while a node starts, dies or is due to restart) and answers control
requests between steps. SIGTERM/SIGINT/SIGHUP (and the death of a foreground
``up`` that owns it, through the lifeline) start a clean shutdown; any
unexpected error SIGKILLs every child before the daemon exits.

Nodes are forked by a fork server (``forkspawn.py``; ``RPCDEMO_SPAWN=plain``
turns it off), stopped with the daemon. A reaped node's leases are released on
our embedded server (``failover.py``; ``RPCDEMO_NO_FAILOVER=1`` turns it off).
Unless the config turns links off, every node's server URL is its own link
proxy, served on a thread of this daemon (``links/hub.py``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
from types import FrameType
from typing import Any

from resonate_rpc_cli.contracts.errors import ExitStatus, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.lifeline import ENV_PARENT_PID, start_lifeline
from resonate_rpc_cli.links.hub import start_hub
from resonate_rpc_cli.supervisor.control import ControlServer, Request
from resonate_rpc_cli.supervisor.failover import make_releaser
from resonate_rpc_cli.supervisor.fork.spawner import ForkSpawner, make_spawner
from resonate_rpc_cli.supervisor.manager import Supervisor
from resonate_rpc_cli.supervisor.processes import (
    HttpReadinessProbe,
    KillpgSender,
    SystemClock,
    start_timers,
)
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


def answer(sup: Supervisor, request: Request) -> dict[str, Any]:
    """Apply one control request to the supervisor; the JSON-able response."""
    args = request.args
    op = request.op
    if op == "ping":
        return {"pid": os.getpid(), "home": str(sup.home.root)}
    if op == "status":
        return {
            "supervisor_pid": os.getpid(),
            "config": sup.config.to_json(),
            "nodes": sup.snapshot(),
            "all_ready": sup.all_ready(),
            "shutting_down": sup.shutting_down,
            "events": [e.to_dict() for e in sup.feed.since(int(args.get("since", 0)))],
            "targets": sup.targets(),
        }
    if op == "kill":
        count = args.get("count")
        result = sup.kill(
            str(args["target"]), str(args.get("signal", "KILL")),
            count=int(count) if count is not None else None,
            respawn=bool(args.get("respawn", False)),
            respawn_after_s=float(args.get("respawn_after", 0.0)),
        )
        return {"killed": result.killed, "respawn_pending": result.respawn_pending}
    if op == "respawn":
        return {"respawned": sup.respawn(str(args["target"]))}
    if op == "scale":
        return sup.scale(str(args["group"]), int(args["count"]))
    if op == "down":
        sup.shutdown()
        return {"stopping": True, "pid": os.getpid()}
    raise UsageError(f"unknown control op {op!r}")


def _serve(sup: Supervisor, requests: queue.Queue[Request], stop: list[bool]) -> None:
    while not sup.done():
        if stop and not sup.shutting_down:
            sup.shutdown()
        try:
            request: Request | None = requests.get(timeout=tick_interval(sup))
        except queue.Empty:
            request = None
        while request is not None:
            try:
                request.reply.set_result({"ok": True, "result": answer(sup, request)})
            except RpcdemoError as exc:
                request.reply.set_result({"ok": False, "error": str(exc),
                                          "status": int(exc.status)})
            except (KeyError, TypeError, ValueError) as exc:
                request.reply.set_result({"ok": False, "error": f"bad request: {exc}",
                                          "status": int(ExitStatus.USAGE)})
            try:
                request = requests.get_nowait()
            except queue.Empty:
                request = None
        sup.step()


def run_daemon(home: Home, config: TopologyConfig) -> int:
    """Supervise the topology until shut down; return the exit code."""
    home.ensure()
    stop: list[bool] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(True)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if os.environ.get(ENV_PARENT_PID):
        start_lifeline()  # a foreground `up` owns us: die with it
    spawner = make_spawner(home, config.server_url)
    releaser = make_releaser(config.server_url)
    links = start_hub(home.links_socket, config.server_url, config.links)
    timers = start_timers(config.server_url)
    sup = Supervisor(config, home, clock=SystemClock(), spawner=spawner,
                     signals=KillpgSender(), probe=HttpReadinessProbe(config),
                     parent_pid=os.getpid(), releaser=releaser, links=links)
    control = ControlServer(home)
    tmp = home.pid_file.with_suffix(".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    tmp.replace(home.pid_file)
    control.start()
    print(f"rpcdemo supervisor {os.getpid()} for {home.root}", flush=True)
    try:
        _serve(sup, control.requests, stop)
    except BaseException:
        sup.kill_everything()
        raise
    finally:
        control.close()
        if links is not None:
            links.close()  # after _serve: every node is gone by now
        if isinstance(spawner, ForkSpawner):
            spawner.close()
        if timers is not None:
            timers.stop()
        with contextlib.suppress(OSError):
            home.control_socket.unlink()
        with contextlib.suppress(OSError, ValueError):
            if int(home.pid_file.read_text().strip()) == os.getpid():
                home.pid_file.unlink()
    print("rpcdemo supervisor: everything stopped", flush=True)
    return 0
