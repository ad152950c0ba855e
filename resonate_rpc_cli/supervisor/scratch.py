"""A topology of one's own: started under a fresh temporary HOME, torn down after.

:func:`scratch_topology` starts a whole topology (through the same supervisor
as ``rpcdemo up``) on free ports, yields it, tears it down, and counts the
processes of that HOME still alive (orphans). ``rpcdemo chaos`` runs against
one when nothing runs under HOME.
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

from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.errors import NotRunningError, RpcdemoError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor import updown
from resonate_rpc_cli.supervisor.scan import processes_of_home
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ScratchTopology:
    """A topology started by :func:`scratch_topology` under its own HOME.

    ``orphans`` is filled in after teardown: processes of its HOME that the
    supervisor's shutdown left behind (``down`` then ends them) plus any
    still alive ten seconds later.
    """

    home: Home
    orphans: int = 0
    torn_down: bool = False


@contextlib.contextmanager
def scratch_topology(
    *,
    ttl_s: float = 2.0,
    step_delay_s: float = 0.2,
    delay_mode: str = "work",
    memory: bool = False,
    keep_home: bool = False,
    up_timeout_s: float = 90.0,
    app: AppTopology | None = None,
) -> Iterator[ScratchTopology]:
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
    own: ScratchTopology | None = None
    daemon: subprocess.Popen[bytes] | None = None
    try:
        try:
            # owned (lifeline): the topology dies with this process, even after kill -9
            daemon = updown.up(home, config, detach=False, timeout_s=up_timeout_s).daemon
        except RpcdemoError as exc:
            raise NotRunningError(f"chaos could not start its own topology: {exc}") from exc
        own = ScratchTopology(home)
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
