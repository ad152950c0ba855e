"""One way to run a :class:`~.manager.Supervisor` for real, for the daemon and ``rpcdemo node``.

:func:`supervising` wires a supervisor to the real world (the fork-server
spawner, killpg, ready files, and what the server's backend brings: its
readiness, lease release, timers and preload; see ``backends/``) and
tears it down: SIGINT/SIGTERM/SIGHUP only ask for a stop (``Run.stop``);
any unexpected error SIGKILLs every child before it propagates; the spawner
is closed and the previous signal handlers restored in every case.
:func:`drive` is the loop both use: stop when asked, wait (for control
requests, or a plain tick), step, look at the result, until every node is
stopped and reaped.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor.failover import make_releaser
from resonate_rpc_cli.supervisor.fork.spawner import ForkSpawner, make_spawner
from resonate_rpc_cli.supervisor.manager import Supervisor
from resonate_rpc_cli.supervisor.node import LinkRouter
from resonate_rpc_cli.supervisor.processes import (
    HttpReadinessProbe,
    KillpgSender,
    SystemClock,
)
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Run:
    """A supervisor being run; ``stop`` holds the stop signals received so far."""

    sup: Supervisor
    stop: list[int] = field(default_factory=list)


@contextlib.contextmanager
def supervising(home: Home, config: TopologyConfig,
                links: LinkRouter | None = None) -> Iterator[Run]:
    """A real supervisor of ``config`` under ``home`` for the ``with`` block (see the module);
    ``links`` routes each node to the server through its link (the daemon's link switchboard)."""
    run: Run | None = None
    pending: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        (run.stop if run is not None else pending).append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    backend = config.backend
    spawner = make_spawner(home, backend.preload())
    timers = backend.start_timers(config.server_url)
    try:
        sup = Supervisor(config, home, clock=SystemClock(), spawner=spawner,
                         signals=KillpgSender(), probe=HttpReadinessProbe(config, backend),
                         parent_pid=os.getpid(),
                         releaser=make_releaser(backend, config.server_url), links=links)
        run = Run(sup, pending)
        try:
            yield run
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


def drive(sup: Supervisor, stop: list[int] | list[bool], wait: Callable[[Supervisor], None],
          after_step: Callable[[Supervisor], None] = lambda _sup: None) -> None:
    """Step ``sup`` until it is done; a non-empty ``stop`` begins the shutdown.

    ``wait`` runs before each step (it paces the loop), ``after_step`` after it.
    """
    while not sup.done():
        if stop and not sup.shutting_down:
            sup.shutdown()
        wait(sup)
        sup.step()
        after_step(sup)
