"""``python -m resonate_rpc_cli.postgres.serve``: the server slot of ``up --server postgres``.

The supervisor runs this like any node; it owns the cluster under HOME:

1. initdb the cluster if it is new (as the ``postgres`` user when we are root);
2. wait for processes a crashed incarnation left in the data directory (a
   ``kill -9`` of the postmaster leaves its children for a few ms);
3. start the postmaster as its child, in its own process group (so the
   supervisor's ``killpg`` reaches both), and wait until SQL answers;
4. apply ``--schema`` (resonate.sql) once, in one transaction, when the
   database does not hold the resonate schema yet;
5. supervise the postmaster like the binary guard: TERM/INT/HUP ask for a fast
   shutdown (SIGINT), SIGKILL after ``GRACE_S``; the lifeline does the same when
   the supervisor dies, even by ``kill -9``. The postmaster's children exit on
   their own once it is gone.

Readiness is the supervisor's SQL round trip (:func:`~.db.schema_answers`), true
only once the schema is there. Exits with the postmaster's code,
3 when the cluster cannot be prepared or started (one line on stderr).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import psutil
import psycopg

from resonate_rpc_cli.contracts.errors import RpcdemoError
from resonate_rpc_cli.contracts.lifeline import start_lifeline
from resonate_rpc_cli.postgres.cluster import (
    Cluster,
    RunAs,
    cluster_processes,
    require_bindir,
    run_as,
)
from resonate_rpc_cli.postgres.db import SCHEMA_PRESENT_SQL

GRACE_S = 2.0
START_TIMEOUT_S = 60.0


def say(line: str) -> None:
    print(f"rpcdemo postgres: {line}", flush=True)


def wait_for_stale(cluster: Cluster, timeout_s: float = 5.0) -> None:
    """Wait for leftover processes of the data directory to exit; SIGKILL them after that."""
    stale = cluster_processes(cluster.data_dir)
    if not stale:
        return
    say(f"waiting for {len(stale)} leftover postgres process(es) of an earlier incarnation")
    _gone, alive = psutil.wait_procs(stale, timeout=timeout_s)
    for proc in alive:
        proc.kill()
    psutil.wait_procs(alive, timeout=timeout_s)


def start_postmaster(cluster: Cluster, bindir: Path, user: RunAs | None
                     ) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cluster.postmaster_argv(bindir), stdin=subprocess.DEVNULL, cwd=cluster.data_dir,
        user=user.uid if user else None, group=user.gid if user else None,
        extra_groups=[] if user else None)


def answers(url: str) -> bool:
    """Whether the database accepts a connection and a query now."""
    try:
        with psycopg.connect(url, connect_timeout=1, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def ensure_schema(url: str, schema: Path) -> bool:
    """Apply ``schema`` in one transaction unless the resonate schema is there; whether it ran."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(SCHEMA_PRESENT_SQL).fetchone()
        if row is not None and row[0]:
            return False
        conn.add_notice_handler(lambda diag: say(f"schema: {diag.message_primary}"))
        conn.execute(schema.read_bytes())
    return True


def supervise(child: subprocess.Popen[bytes], stop: threading.Event) -> int:
    """Wait for the postmaster; after ``stop``, SIGKILL it ``GRACE_S`` later. Its exit code."""
    deadline: float | None = None
    while child.poll() is None:
        if stop.is_set() and deadline is None:
            deadline = time.monotonic() + GRACE_S
        if deadline is not None and time.monotonic() >= deadline:
            child.kill()
        time.sleep(0.05)
    code = child.returncode
    return 128 - code if code < 0 else code


def run(cluster: Cluster, schema: Path) -> int:
    """Prepare, start and supervise the cluster; the exit code."""
    stop = threading.Event()
    holder: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if holder and holder[0].poll() is None:
            holder[0].send_signal(signal.SIGINT)  # fast shutdown: no waiting for clients

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    start_lifeline(grace_s=GRACE_S + 0.5)
    try:
        bindir = require_bindir()
        user = run_as()
        if cluster.prepare(bindir, user):
            say(f"initialized {cluster.data_dir}")
        wait_for_stale(cluster)
    except (RpcdemoError, OSError, subprocess.SubprocessError) as exc:
        print(f"rpcdemo postgres: error: {exc}", file=sys.stderr, flush=True)
        return 3
    if stop.is_set():
        return 0
    holder.append(start_postmaster(cluster, bindir, user))
    child = holder[0]
    deadline = time.monotonic() + START_TIMEOUT_S
    while not answers(cluster.url):
        if child.poll() is not None or stop.is_set():
            return supervise(child, stop)
        if time.monotonic() >= deadline:
            print("rpcdemo postgres: error: the postmaster did not accept connections in "
                  f"{START_TIMEOUT_S:g}s", file=sys.stderr, flush=True)
            stop.set()
            child.send_signal(signal.SIGINT)
            supervise(child, stop)
            return 3
        time.sleep(0.02)
    try:
        if ensure_schema(cluster.url, schema):
            say(f"applied {schema}")
    except (OSError, psycopg.Error) as exc:
        print(f"rpcdemo postgres: error: cannot apply {schema}: {exc}", file=sys.stderr,
              flush=True)
        stop.set()
        child.send_signal(signal.SIGINT)
        supervise(child, stop)
        return 3
    say(f"serving {cluster.host}:{cluster.port} from {cluster.data_dir}")
    return supervise(child, stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m resonate_rpc_cli.postgres.serve")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--schema", required=True, type=Path)
    args = parser.parse_args(argv)
    sys.exit(run(Cluster(args.home.absolute(), args.host, args.port), args.schema))


if __name__ == "__main__":
    main()
