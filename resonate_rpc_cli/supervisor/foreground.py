"""``rpcdemo node GROUP``: nodes of one group in the foreground, with no supervisor daemon.

For a host that contributes nodes to a topology whose server (and maybe
gateway) runs elsewhere. The same supervision logic as ``up`` runs here, in
this process: nodes that crash are restarted with backoff, SIGINT/SIGTERM/
SIGHUP stop them all (TERM, grace, KILL, reaped), and because every node
carries this process's pid as ``RPCDEMO_PARENT_PID`` and runs the lifeline,
they exit by themselves if this process is killed with ``kill -9``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from resonate_rpc_cli.contracts.errors import ExitStatus, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor import updown
from resonate_rpc_cli.supervisor.client import SupervisorClient
from resonate_rpc_cli.supervisor.events import AllReady, NodeReport, StoppedAll
from resonate_rpc_cli.supervisor.manager import Supervisor
from resonate_rpc_cli.supervisor.runner import drive, supervising
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

TICK_S = 0.05


def run_nodes(home: Home, config: TopologyConfig, emit: Callable[[NodeReport], None],
              *, tick_s: float = TICK_S) -> int:
    """Run ``config``'s nodes (an external server, one group) until a stop signal.

    Emits every supervisor event, ``all_ready`` once every node first is
    ready, and ``stopped_all`` at the end. Returns 0 after a clean stop, 3
    if every node has failed (given up after repeated quick failures).
    Raises :class:`UsageError` if a topology runs under ``home`` and
    :class:`~resonate_rpc_cli.contracts.errors.NotRunningError` if the server does not
    answer — both before anything starts.
    """
    if SupervisorClient(home).answering():
        raise UsageError(f"a topology runs under {home.root}; give `rpcdemo node` its own "
                         "--home (or use `rpcdemo scale` on that topology)")
    config = updown.check_server_choice(config, home)
    home.ensure()
    announced = False
    seen = 0
    code = int(ExitStatus.OK)

    def after_step(sup: Supervisor) -> None:
        nonlocal announced, seen, code
        for event in sup.feed.since(seen):
            seen = event.seq
            emit(event)
        if not announced and sup.all_ready():
            announced = True
            emit(AllReady(time.time(), config.only[0] if config.only else "?",
                          len(sup.nodes), config.server_url, str(home.root)))
        if not sup.shutting_down and sup.nodes and len(sup.failed_nodes()) == len(sup.nodes):
            code = int(ExitStatus.NOT_RUNNING)
            sup.shutdown()

    with supervising(home, config) as run:
        drive(run.sup, run.stop, lambda _sup: time.sleep(tick_s), after_step)
    emit(StoppedAll(time.time()))
    return code
