"""The whole topology on resonate-pg: a cluster under HOME, flows, kills, views, chaos, cleanup.

One cluster and one topology serve the module (initdb and the schema cost seconds).
Runs only when ``RPCDEMO_RESONATE_SQL`` names resonate-pg's schema file
(resonate.sql from github.com/resonatehq/resonate-pg); rpcdemo never ships it.
The missing-schema error needs no database and always runs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from resonate_rpc_cli.chaos.options import ChaosOptions
from resonate_rpc_cli.chaos.session import run_chaos
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ledger import read_ledger
from resonate_rpc_cli.postgres.cluster import Cluster
from resonate_rpc_cli.supervisor.client import SupervisorClient
from tests.e2e._cli_support import Cli, assert_nothing_left, end_leftovers, new_cli
from tests.procs import PYTHON, processes_of_home, wait_until

pytestmark = pytest.mark.e2e

SQL = os.environ.get("RPCDEMO_RESONATE_SQL", "").strip()
needs_pg = pytest.mark.skipif(
    not SQL, reason="set RPCDEMO_RESONATE_SQL=/path/to/resonate.sql (from "
    "github.com/resonatehq/resonate-pg) to run the Postgres e2e tests")
TTL_S = 10.0
DELAY_S = 3.0


def test_missing_schema_is_a_usage_error_and_starts_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "RPCDEMO_RESONATE_SQL"}
    proc = subprocess.run(
        [PYTHON, "-m", "resonate_rpc_cli", "--home", str(home), "up", "--detach",
         "--server", "postgres"], capture_output=True, text=True, env=env, timeout=60,
        stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "resonate-pg" in lines[0] and "--resonate-sql" in lines[0]
    assert not home.exists()


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    """A temp dir the cluster's user may search (0711): as root Postgres runs as `postgres`."""
    path = Path(tempfile.mkdtemp(prefix="rpcpg-"))
    os.chmod(path, 0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _up(cli: Cli, *extra: str) -> None:
    proc = cli.run(*cli.up_args("--detach", "--server", "postgres", "--resonate-sql", SQL,
                                "--ttl", str(TTL_S), "--timeout", "180", *extra), timeout=240)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])


@pytest.fixture(scope="module")
def topo(root: Path) -> Iterator[Cli]:
    cli = new_cli(root / "home")
    try:
        _up(cli, "--delay", f"service-b={DELAY_S}")
        yield cli
    finally:
        cli.run("down", timeout=60)
        left = end_leftovers(cli.home)
        assert not left, left


def _cluster(cli: Cli) -> Cluster:
    return Cluster(cli.home, "127.0.0.1", cli.server_port)


def _run_async(cli: Cli, flow: str) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def go() -> None:
        box.update(cli.json("run", flow, "--fresh", timeout=120))
        box["done_at"] = time.time()

    thread = threading.Thread(target=go)
    thread.start()
    return thread, box


def _killed_at(cli: Cli, node: str) -> float:
    """Wall time of the supervisor's last ``killed`` event of ``node``."""
    return max(float(e["ts"]) for e in cli.json("status")["events"]
               if e["kind"] == "killed" and e["node"] == node)


def _in_step(cli: Cli, func: str) -> str | None:
    """The node doing ``func``'s own work now (a ``start`` in the ledgers, no ``end`` for that
    step in any of them): its task is surely acquired, not suspended awaiting a child."""
    starts: dict[str, tuple[float, str]] = {}
    ended: set[str] = set()
    for entry in read_ledger(cli.home / "ledger"):  # file by file: compare across all files
        if entry.func == func and entry.phase == "start":
            starts[entry.step_id] = max(starts.get(entry.step_id, (0.0, "")),
                                        (entry.ts, entry.node))
        elif entry.func == func:
            ended.add(entry.step_id)
    open_steps = sorted(v for k, v in starts.items() if k not in ended)
    return open_steps[-1][1] if open_steps else None


@needs_pg
def test_every_flow_and_the_views_read_postgres(topo: Cli) -> None:
    assert topo.json("run", "await-chain", "--fresh", timeout=120)["result"] == 3
    assert topo.json("run", "fan-out", "--arg", "5", "--fresh", timeout=120)["result"] == 21
    detached = topo.json("run", "detached-chain", "--fresh", "--wait", timeout=120)
    assert detached["state"] == "resolved" and detached["result"] == 3
    chain = topo.json("run", "await-chain", "--fresh", timeout=120)
    status = topo.json("status")
    server = status["server"]
    assert (server["kind"], server["durable"], server["healthy"]) == ("postgres", True, True)
    assert server["managed"] is True and server["url"].startswith("postgresql://")
    assert status["promises"]["counts"]["resolved"] >= 10
    tree = topo.run("tree", chain["promise_id"], "--json")
    assert tree.returncode == 0, tree.stderr
    funcs = {row["func"] for row in json.loads(tree.stdout)["promises"]}
    assert {"foo", "bar", "baz"} <= funcs


@needs_pg
def test_kill_mid_step_with_respawn_recovers_before_the_lease(topo: Cli) -> None:
    thread, box = _run_async(topo, "await-chain")
    holder = wait_until(lambda: _in_step(topo, "bar"), 60, "service-b in bar's step")
    assert holder is not None
    SupervisorClient(Home(topo.home)).kill(holder, respawn=True, wait=False)  # ms, not a CLI start
    thread.join(120)
    assert box.get("result") == 3, box
    assert _in_step(topo, "bar") is None  # the killed step was done again by the new node
    killed_at = _killed_at(topo, holder)
    # a lapsed lease alone would take TTL + the step; the release hands it on at once
    assert box["done_at"] - killed_at < TTL_S + DELAY_S - 2, box
    released = [e["detail"] for e in topo.json("status")["events"] if e["kind"] == "released"]
    assert any("1 lease(s)" in (d or "") for d in released), released


@needs_pg
def test_kill_with_a_surviving_replica(topo: Cli) -> None:
    assert topo.run("scale", "service-b", "2").returncode == 0
    wait_until(lambda: sum(n["state"] == "ready" for n in topo.json("status")["nodes"]
                           if n["group"] == "service-b") == 2, 60, "two service-b nodes")
    try:
        thread, box = _run_async(topo, "await-chain")
        holder = wait_until(lambda: _in_step(topo, "bar"), 60, "service-b in bar's step")
        assert holder is not None
        SupervisorClient(Home(topo.home)).kill(holder)
        thread.join(120)
        assert box.get("result") == 3, box
        killed_at = _killed_at(topo, holder)
        assert box["done_at"] - killed_at < TTL_S + DELAY_S - 2, box
    finally:
        assert topo.run("scale", "service-b", "1").returncode == 0


@needs_pg
def test_server_url_against_a_database_the_test_prepared(topo: Cli, root: Path) -> None:
    cluster = _cluster(topo)
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ext")
        conn.execute("CREATE DATABASE ext")
    ext_url = cluster.url.replace("/postgres?", "/ext?")
    with psycopg.connect(ext_url) as conn:
        conn.execute(Path(SQL).read_bytes())
    other = new_cli(root / "ext-home")
    try:
        proc = other.run(*other.up_args("--detach", "--server-url", ext_url, "--only",
                                        "gateway,service-a,service-b,service-c"), timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert other.json("run", "await-chain", "--fresh", timeout=120)["result"] == 3
        server = other.json("status")["server"]
        assert server["kind"] == "postgres" and server["managed"] is False
        assert not (root / "ext-home" / "postgres").exists()  # no cluster of its own
        with psycopg.connect(ext_url) as conn:
            row = conn.execute("SELECT count(*) FROM resonate.promises").fetchone()
        assert row is not None and row[0] >= 4
        assert other.run("down").returncode == 0
        assert_nothing_left(other.home)
    finally:
        end_leftovers(other.home)


@needs_pg
def test_chaos_with_kills_pauses_gateway_and_server_faults(topo: Cli) -> None:
    options = ChaosOptions(
        flows=12, concurrency=3, faults=("kill", "pause", "gateway", "server"),
        interval_s=(0.8, 1.5), down_s=(0.3, 0.8), seed=11, deadline_s=60, fault_count=6,
        settle_min_s=60,
    )
    report = run_chaos(options, Home(topo.home)).report
    summary = json.dumps({k: report.get(k) for k in (
        "verdict", "reasons", "flows", "steps", "faults", "pending_after_heal", "orphans",
        "problems")}, indent=1)
    assert report["verdict"] == "pass", summary
    flows = report["flows"]
    assert flows["lost"] == 0 and flows["wrong"] == 0 and flows["failed"] == 0, summary
    assert report["steps"]["reexecuted_after_settle"] == 0, summary
    assert report["pending_after_heal"] == 0 and report["orphans"] == 0, summary
    assert report["faults"]["by_kind"].get("server", 0) >= 1, summary


@needs_pg
def test_down_and_kill_9_of_the_supervisor_leave_no_process_postgres_included(
        topo: Cli) -> None:
    assert any(p.name() == "postgres" for p in processes_of_home(topo.home))
    assert topo.run("down", timeout=60).returncode == 0
    assert_nothing_left(topo.home, timeout=10.0)
    _up(topo)  # the cluster exists: no initdb, the schema is not applied again
    sup_pid = topo.json("status")["supervisor"]["pid"]
    assert sum(p.name() == "postgres" for p in processes_of_home(topo.home)) >= 3
    os.kill(sup_pid, signal.SIGKILL)
    assert_nothing_left(topo.home, timeout=15.0)
