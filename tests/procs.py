"""Test support for real processes: free ports, spawning, polling, orphan checks.

Shared by every e2e test. Processes are started without a shell in their own
session and are always killed as a group; :func:`wait_until` polls with a
deadline and reports the last state seen instead of sleeping and hoping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.postgres.cluster import cluster_processes, cluster_root
from resonate_rpc_cli.supervisor import scan

PYTHON = sys.executable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until[T](
    probe: Callable[[], T], timeout: float, what: str, interval: float = 0.02
) -> T:
    """Call ``probe`` until it returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = probe()
        except Exception as exc:  # the probe's failure is a state worth reporting
            last = f"{type(exc).__name__}: {exc}"
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; last seen: {last!r}"
            )
        time.sleep(interval)


@dataclass
class Proc:
    """A child started by :func:`spawn`; ``stop`` kills its whole group and reaps it."""

    popen: subprocess.Popen[bytes]
    log: Path
    name: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, grace: float = 3.0) -> int | None:
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        # the group may still hold grandchildren
        self.signal(signal.SIGKILL)
        return self.popen.returncode

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def spawn(
    args: list[str], log: Path, env: Mapping[str, str] | None = None, name: str = ""
) -> Proc:
    """Start ``args`` (no shell) in a new session, stdout+stderr into ``log``."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=full_env, start_new_session=True,
        )
    return Proc(popen, log, name or args[-1])


@dataclass
class ProcGroup:
    """Every process a test started; ``close`` stops them all (use as a fixture)."""

    procs: list[Proc] = field(default_factory=list)

    def add(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def start_server(
    group: ProcGroup, tmp: Path, *extra: str, port: int | None = None, timeout: float = 15.0
) -> tuple[str, Proc]:
    """Start the embedded server on a free port; return its URL once /health answers."""
    port = port or free_port()
    proc = group.add(
        spawn(
            [PYTHON, "-m", "resonate_rpc_cli.server", "--port", str(port), *extra],
            tmp / f"server-{port}.log",
            name="server",
        )
    )
    url = f"http://127.0.0.1:{port}"
    client = ResonateClient(url, timeout_s=1.0)
    wait_until(
        lambda: client.healthy() or (not proc.alive() and f"exited: {proc.output()[-500:]}"),
        timeout,
        f"server on {url}",
    )
    assert proc.alive(), proc.output()[-2000:]
    return url, proc


def processes_of_home(home: Path) -> list[psutil.Process]:
    """Live processes whose environment says they belong to ``home`` (RPCDEMO_HOME), and
    the postgres processes of its cluster (known by their working directory)."""
    want = home.resolve()
    found = scan.processes_of_home(want)
    seen = {p.pid for p in found}
    found += [p for p in cluster_processes(cluster_root(want) / "data")
              if p.pid not in seen]
    return found


@contextlib.contextmanager
def proc_group() -> Iterator[ProcGroup]:
    group = ProcGroup()
    try:
        yield group
    finally:
        group.close()


@contextlib.contextmanager
def short_home() -> Iterator[Path]:
    """A fresh HOME under /tmp, short enough for a Unix socket path; removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="rpcd-"))
    try:
        yield root / "home"
    finally:
        shutil.rmtree(root, ignore_errors=True)
