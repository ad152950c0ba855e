"""``rpcdemo node GROUP``: nodes of one group in the foreground, with no supervisor daemon.

For a host that contributes nodes to a topology whose server (and maybe
gateway) runs elsewhere. The same supervision logic as ``up`` runs here, in
this process: nodes that crash are restarted with backoff, SIGINT/SIGTERM/
SIGHUP stop them all (TERM, grace, KILL, reaped), and because every node
carries this process's pid as ``RPCDEMO_PARENT_PID`` and runs the lifeline,
they exit by themselves if this process is killed with ``kill -9``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any

from resonate_rpc_cli.contracts.errors import ExitStatus, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor import control, launch
from resonate_rpc_cli.supervisor.failover import make_releaser
from resonate_rpc_cli.supervisor.fork.spawner import ForkSpawner, make_spawner
from resonate_rpc_cli.supervisor.manager import Supervisor
from resonate_rpc_cli.supervisor.processes import (
    HttpReadinessProbe,
    KillpgSender,
    SystemClock,
    start_timers,
)
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

TICK_S = 0.05
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def describe(event: dict[str, Any]) -> str:
    """One human line for an event of :func:`run_nodes`."""
    stamp = datetime.fromtimestamp(float(event.get("ts", time.time()))).strftime("%H:%M:%S")
    if event["kind"] == "all_ready":
        return (f"{stamp} ready: {event['count']} node(s) of {event['group']} on "
                f"{event['server']} (home {event['home']}); Ctrl-C stops them")
    if event["kind"] == "stopped_all":
        return f"{stamp} all nodes stopped"
    pid = f" pid {event['pid']}" if event.get("pid") else ""
    node_id = f" id {event['node_id'][:8]}" if event.get("node_id") else ""
    detail = f": {event['detail']}" if event.get("detail") else ""
    return f"{stamp} {event['node']} {event['kind']}{pid}{node_id}{detail}"


def run_nodes(home: Home, config: TopologyConfig, emit: Callable[[dict[str, Any]], None],
              *, tick_s: float = TICK_S) -> int:
    """Run ``config``'s nodes (an external server, one group) until a stop signal.

    Emits every supervisor event, ``all_ready`` once every node first is
    ready, and ``stopped_all`` at the end. Returns 0 after a clean stop, 3
    if every node has failed (given up after repeated quick failures).
    Raises :class:`UsageError` if a topology runs under ``home`` and
    :class:`~resonate_rpc_cli.contracts.errors.NotRunningError` if the server does not
    answer — both before anything starts.
    """
    if control.answering(home):
        raise UsageError(f"a topology runs under {home.root}; give `rpcdemo node` its own "
                         "--home (or use `rpcdemo scale` on that topology)")
    config = launch.check_server_choice(config, home)
    home.ensure()
    stop: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    spawner = make_spawner(home, config.server_url)
    releaser = make_releaser(config.server_url)
    timers = start_timers(config.server_url)
    sup = Supervisor(config, home, clock=SystemClock(), spawner=spawner,
                     signals=KillpgSender(), probe=HttpReadinessProbe(config),
                     parent_pid=os.getpid(), releaser=releaser)
    seen = 0
    announced = False
    code = int(ExitStatus.OK)
    try:
        while not sup.done():
            if stop and not sup.shutting_down:
                sup.shutdown()
            sup.step()
            for event in sup.feed.since(seen):
                seen = event.seq
                emit(event.to_dict())
            if not announced and sup.all_ready():
                announced = True
                group = config.only[0] if config.only else "?"
                emit({"kind": "all_ready", "ts": time.time(), "group": group,
                      "count": len(sup.nodes), "server": config.server_url,
                      "home": str(home.root)})
            if not sup.shutting_down and sup.nodes and \
                    len(sup.failed_nodes()) == len(sup.nodes):
                code = int(ExitStatus.NOT_RUNNING)
                sup.shutdown()
            time.sleep(tick_s)
    except BaseException:
        sup.kill_everything()
        raise
    finally:
        if isinstance(spawner, ForkSpawner):
            spawner.close()
        if timers is not None:
            timers.stop()
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
    emit({"kind": "stopped_all", "ts": time.time()})
    return code
