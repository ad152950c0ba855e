"""e2e: `up --server-url` against a separately started embedded server with its extras off
(it looks like a real Resonate server), and `rpcdemo node` joining a group from another HOME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.ledger import read_ledger
from tests.e2e._cli_support import Cli, assert_nothing_left, end_leftovers, short_home
from tests.procs import PYTHON, ProcGroup, free_port, processes_of_home, start_server, wait_until

pytestmark = pytest.mark.e2e

PART_A = "gateway,service-a,service-b,service-c"


@dataclass
class Setup:
    url: str
    a: Cli
    root: Path


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    with short_home() as home_a:
        root = home_a.parent
        group = ProcGroup()
        a = Cli(home_a, free_port(), free_port())
        try:
            url, _ = start_server(group, root, "--memory", "--no-extras")
            up = a.run("up", "--detach", "--gateway-port", str(a.gateway_port),
                       "--server-url", url, "--only", PART_A, "--ttl", "3")
            assert up.returncode == 0, (up.stdout, up.stderr)
            yield Setup(url, a, root)
        finally:
            a.run("down")
            left = end_leftovers(home_a)
            group.close()
            assert not left, f"left running after down: {left}"


def start_node(home: Path, url: str, group: str, *extra: str) -> tuple[subprocess.Popen[bytes],
                                                                          Path]:
    """`rpcdemo --home HOME node GROUP --server-url URL --json ...` in its own session."""
    out = home.parent / f"node-{group}.jsonl"
    argv = [PYTHON, "-m", "resonate_rpc_cli", "--home", str(home), "node", group,
            "--server-url", url, "--json", *extra]
    with out.open("wb") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return proc, out


def events(path: Path) -> list[dict[str, object]]:
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            found.append({"kind": "text", "line": line})
    return found


def ready(path: Path) -> bool:
    return any(e["kind"] == "all_ready" for e in events(path))


def test_up_with_a_server_url_starts_no_server(setup: Setup) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(setup.url + "/rpcdemo/info", timeout=2)
    info.value.close()
    assert info.value.code == 404, "the server's extras are off"
    doc = setup.a.json("status")
    assert sorted(n["name"] for n in doc["nodes"]) == [
        "gateway", "service-a-1", "service-b-1", "service-c-1"]
    server = doc["server"]
    assert (server["url"], server["healthy"], server["managed"], server["extras"]) == (
        setup.url, True, False, False)
    assert doc["gateway"]["url"] == f"http://127.0.0.1:{setup.a.gateway_port}"
    commands = [" ".join(p.cmdline()) for p in processes_of_home(setup.a.home)]
    assert commands and not [c for c in commands if "resonate_rpc_cli.server" in c], commands


def test_a_flow_runs_and_status_reads_promises_over_the_plain_protocol(setup: Setup) -> None:
    doc = setup.a.json("run", "await-chain", "--arg", "5", "--timeout", "30")
    assert (doc["state"], doc["result"]) == ("resolved", 7), doc
    status = setup.a.json("status")
    assert status["promises"]["counts"].get("resolved", 0) >= 3, status["promises"]
    tree = setup.a.json("tree", "await-chain")
    assert {"foo", "bar", "baz"} <= {p["func"] for p in tree["promises"]}, tree


def test_node_joins_the_group_from_another_home_and_takes_work(setup: Setup) -> None:
    home_b = setup.root / "b"
    proc, out = start_node(home_b, setup.url, "service-b", "--ttl", "3")
    try:
        wait_until(lambda: ready(out) or (proc.poll() is not None and out.read_text()), 20,
                   "rpcdemo node to report all_ready")
        assert proc.poll() is None, out.read_text()
        setup.a.json("kill", "service-b")  # HOME A's own service-b is down now
        doc = setup.a.json("run", "await-chain", "--fresh", "--arg", "7", "--timeout", "30")
        assert (doc["state"], doc["result"]) == ("resolved", 9), doc
        bars = [e for e in read_ledger(home_b / "ledger")
                if e.func == "bar" and e.phase == "end" and e.promise_id.startswith(
                    doc["promise_id"])]
        assert [e.node for e in bars] == ["service-b-1"], bars
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
        assert proc.wait(15) == 0, out.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        setup.a.run("respawn", "service-b")
    kinds = [e["kind"] for e in events(out)]
    assert kinds[-1] == "stopped_all" and "stopped" in kinds, kinds
    assert_nothing_left(home_b)


def test_node_killed_with_sigkill_leaves_no_orphans(setup: Setup) -> None:
    home_c = setup.root / "c"
    proc, out = start_node(home_c, setup.url, "service-c", "--count", "2")
    try:
        wait_until(lambda: ready(out) or (proc.poll() is not None and out.read_text()), 20,
                   "rpcdemo node --count 2 to report all_ready")
        # the two nodes (forked: named after the node; spawned: by their module) and,
        # when forking, the fork server
        procs = processes_of_home(home_c)
        nodes = [p for p in procs
                 if p.name().startswith("service-c") or "services.service_c" in p.cmdline()]
        assert len(nodes) == 2, ([(p.name(), p.cmdline()) for p in procs], out.read_text())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        assert_nothing_left(home_c, timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        end_leftovers(home_c)


def test_doctor_on_a_bare_server_says_what_it_cannot_know(setup: Setup) -> None:
    # service-g runs nowhere: this HOME runs only PART_A, and the server is plain
    run = setup.a.run("run", "fan-out", "--fresh", "--timeout", "0.5", "--json")
    root = json.loads(run.stdout)["promise_id"]
    proc = setup.a.run("doctor", root, "--json")
    assert proc.returncode in (0, 1), (proc.stdout, proc.stderr)
    doc = json.loads(proc.stdout)
    diag = doc["diagnoses"][0]
    assert diag["cause"]["kind"] == "queued", diag
    assert "which this HOME does not run" in diag["line"], diag["line"]
    assert any("lease expiry" in n for n in doc["notices"]), doc["notices"]
