"""Processes of one topology, found by the ``RPCDEMO_HOME`` in their environment."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil

from resonate_rpc_cli.contracts.naming import ENV_HOME


def processes_of_home(home: Path) -> list[psutil.Process]:
    """Live processes (not this one, nor its ancestors) whose ``RPCDEMO_HOME`` is ``home``.

    Zombies do not count: they have exited and only wait to be reaped.
    Processes we may not inspect are skipped.
    """
    mine = {os.getpid()}
    with contextlib.suppress(psutil.Error):
        mine.update(p.pid for p in psutil.Process().parents())
    want = str(home.absolute())
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid in mine:
            continue
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(ENV_HOME) == want and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found
