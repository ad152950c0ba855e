"""The three flow shapes of the seed through the embedded server, across worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.flows import FLOWS, STEPS
from tests.e2e._server_support import (
    assert_no_leftovers,
    client_result,
    executions,
    info,
    start_client,
    start_server,
    start_worker,
    wait_listeners,
)
from tests.procs import ProcGroup, wait_until

pytestmark = pytest.mark.e2e

# Three processes, each serving three groups, so every flow crosses all three.
LAYOUT = {
    "p1": ["service-a", "service-d", "service-g"],
    "p2": ["service-b", "service-e", "service-h"],
    "p3": ["service-c", "service-f", "service-i"],
}


def test_three_flow_shapes_across_processes(procs: ProcGroup, tmp_path: Path) -> None:
    url, _ = start_server(procs, tmp_path)
    for prefix, groups in LAYOUT.items():
        start_worker(procs, tmp_path, url, groups, prefix)
    wait_listeners(url, {g: [f"{p}-{g}"] for p, gs in LAYOUT.items() for g in gs})

    clients = {
        name: start_client(procs, tmp_path, url, flow.root, flow.root_group,
                           {flow.promise_id: 5}, wait=flow.awaited, name=name)
        for name, flow in FLOWS.items()
    }
    for name, flow in FLOWS.items():
        result = client_result(clients[name], 30)
        if flow.awaited:
            assert result == {"values": {flow.promise_id: flow.expected(5)}}, name
        else:
            assert result == {"started": [flow.promise_id]}, name

    # The detached tail completes on its own; every function ran where its group lives.
    detached = FLOWS["detached-chain"]
    wait_until(lambda: {e["func"] for e in executions(tmp_path)} >= set(detached.funcs), 20,
               "the detached chain to reach cog")
    owner = {g: p for p, gs in LAYOUT.items() for g in gs}
    for e in executions(tmp_path):
        group = STEPS[e["func"]].group
        assert e["pid"] == f"{owner[group]}-{group}", e
        flow = next(f for f in FLOWS.values() if e["func"] in f.funcs)
        assert e["arg"] == flow.step_args(5)[e["func"]], e
    # Serving time is counted both ways: the thread's CPU is spent within the wall time.
    served = info(url)
    assert 0 < served["busy_cpu_ms"] <= served["busy_ms"] + 1, served
    assert_no_leftovers(procs, tmp_path)
