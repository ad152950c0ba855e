"""e2e: docs/two-hosts.md, run on one machine: HOME A and HOME B on 127.0.0.1 stand in for
host A and host B, a third HOME for the foreground `node` host; flows cross all of them.
Host A's server checks tokens (`up --auth`); hosts B and C get theirs from `rpcdemo token`
(``RESONATE_TOKEN``), and whoever has none is refused.

Every command is a template; the test checks that its documented form (host
10.0.0.5, default ports) is written in the doc, then runs it with free ports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.flows import expected_value, flow_named
from resonate_rpc_cli.contracts.ledger import read_ledger
from resonate_rpc_cli.contracts.naming import DEFAULT_SERVER_PORT
from tests.e2e._cli_support import Cli, assert_nothing_left, end_leftovers, short_home
from tests.e2e._topology_support import patched_environ
from tests.procs import PYTHON, free_port, wait_until

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "two-hosts.md"
DOC_HOST = "10.0.0.5"
HOST_A_UP = "up --detach --host {host} --auth --only gateway,service-a,service-b,service-c"
TOKEN = "token --ttl 30d"
HOST_B_UP = ("up --detach --server-url {url} --only "
             "service-d,service-e,service-f,service-g,service-h,service-i")
NODE_H = "node service-h --server-url {url} --count 2"


def documented(template: str) -> str:
    """The template as the doc writes it; fail if the doc does not."""
    text = template.format(host=DOC_HOST, url=f"http://{DOC_HOST}:{DEFAULT_SERVER_PORT}")
    assert text in DOC.read_text(), f"docs/two-hosts.md no longer shows: rpcdemo {text}"
    return text


def concrete(template: str, url: str) -> list[str]:
    return template.format(host="127.0.0.1", url=url).split()


@dataclass
class Hosts:
    a: Cli
    b: Cli
    url: str


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    for template in (HOST_A_UP, TOKEN, HOST_B_UP, NODE_H):
        documented(template)
    with short_home() as home_a:
        a = Cli(home_a, free_port(), free_port())
        b = Cli(home_a.parent / "b", free_port(), free_port())
        url = f"http://127.0.0.1:{a.server_port}"
        try:
            up_a = a.run(*concrete(HOST_A_UP, url), "--server-port", str(a.server_port),
                         "--gateway-port", str(a.gateway_port), "--ttl", "3")
            assert up_a.returncode == 0, (up_a.stdout, up_a.stderr)
            without = b.run(*concrete(HOST_B_UP, url), "--ttl", "3", "--timeout", "8")
            assert without.returncode != 0, "host B's nodes joined without a token"
            b.run("down")
            minted = a.run(*concrete(TOKEN, url))
            assert minted.returncode == 0 and minted.stdout.count(".") == 2, minted.stderr
            # host B (and C) hold the token the way the doc says: RESONATE_TOKEN
            with patched_environ({"RESONATE_TOKEN": minted.stdout.strip()}):
                up_b = b.run(*concrete(HOST_B_UP, url), "--ttl", "3")
                assert up_b.returncode == 0, (up_b.stdout, up_b.stderr)
                yield Hosts(a, b, url)
        finally:
            for cli in (b, a):
                cli.run("down")
            left = end_leftovers(b.home) + end_leftovers(a.home)
            assert not left, f"left running after down: {left}"


def test_each_host_runs_only_its_part(hosts: Hosts) -> None:
    names_a = sorted(n["name"] for n in hosts.a.json("status")["nodes"])
    names_b = sorted(n["name"] for n in hosts.b.json("status")["nodes"])
    assert names_a == ["gateway", "server", "service-a-1", "service-b-1", "service-c-1"]
    assert names_b == [f"service-{g}-1" for g in "defghi"]
    status_b = hosts.b.json("status")
    assert status_b["server"]["url"] == hosts.url and status_b["gateway"]["url"] is None
    text = hosts.b.run("status").stdout
    assert "gateway elsewhere" in " ".join(text.split()), text


@pytest.mark.parametrize(("flow", "arg"), [("await-chain", 4), ("fan-out", 2)])
def test_flows_started_on_host_a_cross_both_hosts(hosts: Hosts, flow: str, arg: int) -> None:
    doc = hosts.a.json("run", flow, "--fresh", "--arg", str(arg), "--timeout", "30")
    assert (doc["state"], doc["result"]) == ("resolved", flow_named(flow).expected(arg)), doc


def test_the_detached_chain_ends_on_host_b(hosts: Hosts) -> None:
    doc = hosts.a.json("run", "detached-chain", "--fresh", "--arg", "3")
    assert doc["state"] == "started", doc
    root = doc["promise_id"]

    def cog_value() -> object:
        for e in read_ledger(hosts.b.home / "ledger"):
            if e.func == "cog" and e.phase == "end" and root in e.promise_id:
                return e.value
        return None

    value = wait_until(cog_value, 30, f"cog of {root} in host B's ledger")
    chain = flow_named("detached-chain")
    assert value == expected_value("cog", chain.step_args(3)["cog"])
    # --wait asks the server for cog's promise: host A's ledger never sees cog
    waited = hosts.a.json("run", "detached-chain", "--fresh", "--arg", "3", "--wait",
                          "--timeout", "30")
    assert (waited["state"], waited["result"]) == ("resolved", value), waited
    assert not any(e.func == "cog" for e in read_ledger(hosts.a.home / "ledger"))
    log = hosts.b.run("logs", "service-f-1")
    assert log.returncode == 0 and "cog(" in log.stdout, log.stdout[-2000:]


def test_a_third_host_adds_service_h_nodes_in_the_foreground(hosts: Hosts) -> None:
    home_c = hosts.a.home.parent / "c"
    out = home_c.parent / "node-h.jsonl"
    argv = [PYTHON, "-m", "resonate_rpc_cli", "--home", str(home_c),
            *concrete(NODE_H, hosts.url), "--json"]
    with out.open("wb") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: '"all_ready"' in out.read_text() or proc.poll() is not None, 20,
                   "rpcdemo node service-h --count 2 to be ready")
        assert proc.poll() is None, out.read_text()
        hosts.b.json("kill", "service-h")  # only host C serves service-h now
        doc = hosts.a.json("run", "fan-out", "--fresh", "--arg", "6", "--timeout", "30")
        assert (doc["state"], doc["result"]) == ("resolved", flow_named("fan-out").expected(6))
        rax = [e for e in read_ledger(home_c / "ledger")
               if e.func == "rax" and e.phase == "end" and doc["promise_id"] in e.promise_id]
        assert len(rax) == 1 and rax[0].node in ("service-h-1", "service-h-2"), rax
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(15) == 0, out.read_text()
        last = json.loads(out.read_text().splitlines()[-1])
        assert last["kind"] == "stopped_all"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        hosts.b.run("respawn", "service-h")
    assert_nothing_left(home_c)
