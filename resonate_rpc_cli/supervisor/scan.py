"""The processes of one HOME, found by the ``RPCDEMO_HOME`` in their environment.

The one scan behind ``up``'s stale-state cleanup, the chaos run's orphan count
and the tests' "no process left" checks.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil

from resonate_rpc_cli.contracts.lifeline import ENV_PARENT_PID
from resonate_rpc_cli.contracts.naming import ENV_HOME

#: Set in the supervisor daemon's environment; its children carry ``RPCDEMO_PARENT_PID``.
ENV_SUPERVISOR = "RPCDEMO_SUPERVISOR"


def processes_of_home(root: Path, *, started_by_us: bool = False) -> list[psutil.Process]:
    """Live processes (not this one, nor its ancestors) whose ``RPCDEMO_HOME`` is ``root``.

    With ``started_by_us`` only a supervisor (``RPCDEMO_SUPERVISOR``) or one of
    rpcdemo's children (``RPCDEMO_PARENT_PID``) counts, so a user's shell that
    merely exports ``RPCDEMO_HOME`` is never touched. Zombies do not count (they
    only wait to be reaped); processes we may not inspect are skipped.
    """
    mine = {os.getpid()}
    with contextlib.suppress(psutil.Error):
        mine.update(p.pid for p in psutil.Process().parents())
    want = str(root.absolute())
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid in mine:
            continue
        with contextlib.suppress(psutil.Error):
            env = proc.environ()
            ours = not started_by_us or ENV_SUPERVISOR in env or ENV_PARENT_PID in env
            if env.get(ENV_HOME) == want and ours and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found
