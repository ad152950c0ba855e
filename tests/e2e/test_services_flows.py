"""The three flows end to end through the gateway, against real processes and a real server.

One topology per module (server, gateway, the nine services and a second
service-a node); every test uses its own promise ids so they do not interfere.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.flows import FLOWS, expected_value
from tests.e2e._topology_support import (
    Topology,
    all_nine,
    assert_nothing_left,
    executions,
    http,
    start_topology,
)
from tests.procs import proc_group, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    home: Path = tmp_path_factory.mktemp("flows-home")
    with proc_group() as procs:
        specs = all_nine()
        specs["service-a-2"] = ("service-a", {})
        yield start_topology(procs, home, specs)
    assert_nothing_left(home)


def post(topo: Topology, route: str, body: object | None = None, timeout: float = 30.0
         ) -> tuple[int, object]:
    return http("POST", topo.gateway_url + route, body, timeout=timeout)


@pytest.mark.parametrize("arg", [1, 5, -3])
def test_await_chain_answers_the_oracle_value(topo: Topology, arg: int) -> None:
    flow = FLOWS["await-chain"]
    pid = f"await-{arg}"
    status, body = post(topo, flow.route, {"id": pid, "arg": arg})
    assert (status, body) == (200, {"id": pid, "message": flow.expected(arg)})
    ledger = topo.ledger()
    for func in flow.funcs:
        ends = executions(ledger, func, pid)
        assert [e.value for e in ends] == [expected_value(func, arg)], (func, ends)


def test_fan_out_answers_the_oracle_value_after_both_branches(topo: Topology) -> None:
    flow = FLOWS["fan-out"]
    status, body = post(topo, flow.route, {"id": "fan-7", "arg": 7})
    assert (status, body) == (200, {"id": "fan-7", "message": flow.expected(7)})
    ledger = topo.ledger()
    zim = executions(ledger, "zim", "fan-7", "start")
    branches = executions(ledger, "rax", "fan-7") + executions(ledger, "dop", "fan-7")
    assert len(zim) == 1 and len(branches) == 2, ledger
    assert all(b.ts <= zim[0].ts for b in branches), "zim's step ran before a branch ended"


def test_default_route_uses_the_seed_static_id_and_arg(topo: Topology) -> None:
    status, body = post(topo, "/await-chain")
    expected = FLOWS["await-chain"].expected(1)
    assert (status, body) == (200, {"id": "await-chain", "message": expected})


def test_detached_chain_answers_at_once_and_cog_ledgers_the_value(topo: Topology) -> None:
    flow = FLOWS["detached-chain"]
    status, body = post(topo, flow.route, {"id": "det-4", "arg": 4})
    assert (status, body) == (200, {"id": "det-4", "message": "detached-chain started"})
    cog_arg = flow.step_args(4)["cog"]
    ends = wait_until(lambda: executions(topo.ledger(), "cog", "det-4"), 15, "cog's end line")
    assert [(e.arg, e.value) for e in ends] == [(cog_arg, expected_value("cog", cog_arg))]
    line = f"detached chain det-4 final value {expected_value('cog', cog_arg)}"
    # cog prints after its step's promise is settled, a round trip after the ledger line
    wait_until(lambda: line in topo.nodes["service-f-1"].proc.output(), 10, "cog's print")


def test_resent_id_returns_stored_result_without_new_executions(topo: Topology) -> None:
    flow = FLOWS["await-chain"]
    first = post(topo, flow.route, {"id": "resend-1", "arg": 2})
    assert first == (200, {"id": "resend-1", "message": flow.expected(2)})
    before = [e for e in topo.ledger() if e.promise_id.startswith("resend-1")]
    # a different arg does not start anything new: the id names the promise
    again = post(topo, flow.route, {"id": "resend-1", "arg": 100})
    assert again == first
    # a full other flow completing is a barrier: anything the re-send started would show
    assert post(topo, flow.route, {"id": "resend-barrier"})[0] == 200
    after = [e for e in topo.ledger() if e.promise_id.startswith("resend-1")]
    assert after == before
    assert len(before) == 2 * len(flow.funcs)  # one start and one end per function


def test_two_service_a_nodes_execute_every_call_exactly_once(topo: Topology) -> None:
    flow = FLOWS["await-chain"]
    ids = [f"multi-{i}" for i in range(10)]
    results: dict[str, tuple[int, object]] = {}

    def call(pid: str) -> None:
        results[pid] = post(topo, flow.route, {"id": pid, "arg": 3})

    threads = [threading.Thread(target=call, args=(pid,)) for pid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {pid: (200, {"id": pid, "message": flow.expected(3)}) for pid in ids}
    ledger = topo.ledger()
    by_node: Counter[str] = Counter()
    for pid in ids:
        foo = [e for e in ledger if e.func == "foo" and e.promise_id == pid]
        starts = [e for e in foo if e.phase == "start"]
        ends = [e for e in foo if e.phase == "end"]
        assert len(starts) == 1 and len(ends) == 1, (pid, starts, ends)
        assert starts[0].node_id == ends[0].node_id
        by_node[ends[0].node] += 1
    assert set(by_node) == {"service-a-1", "service-a-2"}, by_node


def test_an_id_owned_by_another_flow_gets_409(topo: Topology) -> None:
    assert post(topo, "/await-chain", {"id": "owned-1"})[0] == 200
    for route in ("/fan-out-workflow", "/detached-chain"):
        status, body = post(topo, route, {"id": "owned-1"})
        assert status == 409 and isinstance(body, dict), body
        assert body["id"] == "owned-1" and "'foo'" in body["error"], body
    assert not [e for e in topo.ledger() if e.func in ("zim", "qux")
                and e.promise_id.startswith("owned-1")]


def test_sigterm_stops_a_service_with_exit_0(topo: Topology) -> None:
    node = topo.start_nodes({"service-i-2": ("service-i", {})})[0]
    node.proc.signal(signal.SIGTERM)
    assert node.proc.popen.wait(5) == 0, node.proc.output()[-1000:]
    assert "service-i-2 stopping" in node.proc.output()


@pytest.mark.parametrize(("var", "value"), [("RPCDEMO_DELAY_MODE", "nap"),
                                            ("RPCDEMO_STEP_DELAY", "soon")])
def test_a_service_with_a_bad_environment_exits_2_with_one_line(
    topo: Topology, var: str, value: str
) -> None:
    node = topo.spawn_node(f"service-c-bad-{value}", "service-c", {var: value})
    assert node.proc.popen.wait(20) == 2
    out = node.proc.output().strip()
    assert len(out.splitlines()) == 1 and var in out and "Traceback" not in out, out
