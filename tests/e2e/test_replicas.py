"""e2e: one topology with three service-b replicas: work spreads, killing one loses nothing,
`scale` adds and removes replicas on the running topology."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from resonate_rpc_cli.contracts.flows import flow_named
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ledger import LedgerEntry, read_ledger
from resonate_rpc_cli.observe.flowrun import FlowOutcome, run_flow
from resonate_rpc_cli.observe.picture import NodeLineJson, collect_status
from tests.e2e._cli_support import Cli, running_topology
from tests.procs import wait_until

pytestmark = pytest.mark.e2e

STEP_S = 1.0


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    with running_topology("--ttl", "3", "--replicas", "service-b=3",
                          "--delay", f"service-b={STEP_S}") as c:
        yield c


def run_chains(cli: Cli, args: list[int], tag: str) -> list[FlowOutcome]:
    """Run one await chain per arg at once (fresh ids) through the gateway."""
    url = f"http://127.0.0.1:{cli.gateway_port}"
    flow = flow_named("await-chain")
    with ThreadPoolExecutor(len(args)) as pool:
        futures = [pool.submit(run_flow, url, flow, f"{tag}-{arg}", arg=arg, wait=False,
                               timeout_s=45, ledger_dir=cli.home / "ledger") for arg in args]
        return [f.result() for f in futures]


def bar_entries(cli: Cli, tag: str) -> list[LedgerEntry]:
    return [e for e in read_ledger(cli.home / "ledger")
            if e.func == "bar" and e.promise_id.startswith(f"{tag}-")]


def assert_each_step_ended_once(entries: list[LedgerEntry], roots: int) -> None:
    ends: dict[str, list[str]] = defaultdict(list)
    for e in entries:
        if e.phase == "end":
            ends[e.step_id].append(e.node)
    assert len(ends) == roots, f"expected {roots} finished bar steps, ledger: {dict(ends)}"
    twice = {step: nodes for step, nodes in ends.items() if len(nodes) != 1}
    assert not twice, f"steps finished more than once: {twice}"


def service_b(cli: Cli) -> dict[str, NodeLineJson]:
    return {n["name"]: n for n in collect_status(Home(cli.home))["nodes"]
            if n["group"] == "service-b"}


def test_replicas_share_the_work_and_each_call_runs_once(cli: Cli) -> None:
    names = sorted(service_b(cli))
    assert names == ["service-b-1", "service-b-2", "service-b-3"]
    outcomes = run_chains(cli, list(range(6)), "spread")
    assert [(o.state, o.result) for o in outcomes] == [("resolved", a + 2) for a in range(6)]
    entries = bar_entries(cli, "spread")
    assert_each_step_ended_once(entries, 6)
    by_node = Counter(e.node for e in entries if e.phase == "end")
    assert len(by_node) >= 2, f"all bar steps ran on one replica: {by_node}"


def test_killing_one_replica_loses_nothing_and_the_group_keeps_serving(cli: Cli) -> None:
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(run_chains, cli, list(range(10, 16)), "kill")
        holder = wait_until(lambda: service_b(cli)["service-b-1"]["task"], 15,
                            "service-b-1 to hold a bar task")
        killed = cli.json("kill", "service-b", "--count", "1")
        assert [k["name"] for k in killed["killed"]] == ["service-b-1"], killed
        started = time.monotonic()
        fresh = run_chains(cli, [20], "after")[0]
        after_kill_s = time.monotonic() - started
        outcomes = pending.result(timeout=60)
    assert (fresh.state, fresh.result) == ("resolved", 22)
    assert after_kill_s < STEP_S + 1.5, f"a new flow waited {after_kill_s:.2f}s after the kill"
    assert [(o.state, o.result) for o in outcomes] == [("resolved", a + 2) for a in range(10, 16)]
    entries = bar_entries(cli, "kill")
    assert_each_step_ended_once(entries, 6)
    cut = [e for e in entries if e.node == "service-b-1" and e.phase == "start"
           and e.promise_id == str(holder)]
    assert cut, f"service-b-1 never started {holder}: {entries}"
    states = {name: n["state"] for name, n in service_b(cli).items()}
    assert states == {"service-b-1": "killed", "service-b-2": "ready", "service-b-3": "ready"}


def test_scale_up_and_down_on_the_running_topology(cli: Cli) -> None:
    up = cli.json("scale", "service-b", "4")
    assert [n["name"] for n in up["nodes"]] == [f"service-b-{i}" for i in range(1, 5)]
    assert all(n["state"] == "ready" for n in up["nodes"]), up
    pids = {n["name"]: int(n["pid"]) for n in up["nodes"]}
    assert len(set(pids.values())) == 4 and all(psutil.pid_exists(p) for p in pids.values())
    outcomes = run_chains(cli, list(range(30, 38)), "scaled")
    assert all(o.state == "resolved" for o in outcomes), outcomes
    down = cli.json("scale", "service-b", "2")
    assert down["removed"] == ["service-b-4", "service-b-3"]
    assert [n["name"] for n in down["nodes"]] == ["service-b-1", "service-b-2"]
    gone = [pids["service-b-3"], pids["service-b-4"]]
    wait_until(lambda: not any(_alive(p) for p in gone), 5, f"pids {gone} to be gone")
    assert sorted(service_b(cli)) == ["service-b-1", "service-b-2"]
    assert run_chains(cli, [40], "down")[0].result == 42


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False

