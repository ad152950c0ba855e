"""The processes a server benchmark starts: each in its own session, killed as a group.

Shared by ``bench_server.py``: :class:`Procs` starts children (with their stderr in a
log each) and ``close`` ends them all; :func:`stop` ends one; :func:`wait_for` polls
a probe with a deadline; :func:`get_json` reads a JSON endpoint (``None`` while it
does not answer); :func:`cpu_s` reads a process's CPU time from ``/proc``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Procs:
    """Children in their own sessions; ``close`` TERMs, waits, KILLs and reaps them all."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        #: Another checkout's bytecode (``PYTHONPYCACHEPREFIX``), kept out of its tree.
        self.pycache = logdir / "pycache-other"
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str, token: str | None = None,
              checkout: Path | None = None) -> subprocess.Popen[bytes]:
        """``python *args`` in this checkout, or with ``checkout`` first on PYTHONPATH and as
        its working directory (another checkout's server; its bytecode in ``pycache``)."""
        other = {"PYTHONPATH": str(checkout), "PYTHONPYCACHEPREFIX": str(self.pycache)}
        env = {**os.environ, **({"RESONATE_TOKEN": token} if token else {}),
               **(other if checkout is not None else {})}
        with (self.logdir / f"{name}.log").open("ab") as log:
            p = subprocess.Popen([PY, *args], stdout=subprocess.PIPE, stderr=log,
                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                 cwd=checkout or HERE.parent, env=env)
        self.children.append(p)
        return p

    def close(self) -> None:
        for p in self.children:
            _signal_group(p, signal.SIGTERM)
        for p in self.children:
            _reap(p, 3)


def stop(p: subprocess.Popen[bytes]) -> None:
    _signal_group(p, signal.SIGTERM)
    _reap(p, 5)


def _signal_group(p: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, sig)


def _reap(p: subprocess.Popen[bytes], grace_s: float) -> None:
    """Wait ``grace_s`` for a TERMed ``p``, then KILL its group and wait for it."""
    try:
        p.wait(grace_s)
    except subprocess.TimeoutExpired:
        _signal_group(p, signal.SIGKILL)
        p.wait(5)


def get_json(url: str, token: str | None = None) -> Any:
    """The JSON ``url`` answers, or ``None`` if it does not answer (yet)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=1) as resp:
            return json.loads(resp.read())
    except OSError:
        return None


def wait_for(probe: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``probe`` until it is truthy; exit the benchmark after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_server: timed out waiting for {what}")
        time.sleep(0.05)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (whole process: HTTP, loop, pushes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
