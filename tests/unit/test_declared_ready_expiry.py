"""A declared node started after `up` (here: a respawn) whose readiness never comes is
reported: killed after its group's ready_timeout, backoff, then failed, as a node that
cannot start; during `up` the node is left to `up`'s own judgement (fakes, manual clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from resonate_rpc_cli.cli.topology_file import parse_config
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.supervisor.operations import kill
from tests.unit._supervisor_fakes import make_rig

APP = """\
[groups.orders]
command = ["python", "-m", "orders"]
ready_timeout = "20s"
[groups.payments]
command = ["python", "-m", "payments"]
"""


@pytest.fixture
def app(tmp_path: Path) -> AppTopology:
    found = parse_config(APP, str(tmp_path / "rpcdemo.toml")).app
    assert isinstance(found, AppTopology)
    return found


def test_a_respawn_that_never_gets_ready_goes_to_backoff_then_failed(
        tmp_path: Path, app: AppTopology) -> None:
    rig = make_rig(tmp_path, app=app)
    rig.steps(4)
    assert set(rig.states().values()) == {"ready"}
    rig.probe.slow = {"orders-1"}
    kill(rig.sup, "orders-1", "KILL", respawn=True)
    rig.steps(4)
    assert rig.states()["orders-1"] == "starting"
    first = rig.pid("orders-1")
    rig.clock.advance(19.5)
    rig.steps(2)
    assert rig.states()["orders-1"] == "starting", "not before its ready_timeout"
    seen = []
    for _ in range(8):  # each incarnation: 20 s unready, killed, backoff, restarted
        rig.clock.advance(20.5)
        rig.steps(2)
        seen.append(rig.states()["orders-1"])
        if seen[-1] == "failed":
            break
        rig.steps(40, dt=0.25)  # the backoff runs out: the next incarnation starts
    assert seen[0] == "backoff" and seen[-1] == "failed", seen
    assert rig.signals.sent.count((first, 9)) == 1
    details = [e.detail for e in rig.sup.feed.since(0) if e.node == "orders-1"]
    assert any("not ready within 20s (ready_timeout); restart in" in d for d in details), details
    assert any("not ready within 20s (ready_timeout); 4 quick failures, giving up" in d
               for d in details), details
    assert rig.states()["payments-1"] == "ready", "the other groups are left alone"


def test_during_up_a_slow_node_is_left_to_up(tmp_path: Path, app: AppTopology) -> None:
    rig = make_rig(tmp_path, app=app)
    rig.probe.slow = {"orders-1"}
    rig.steps(4)
    rig.clock.advance(60)
    rig.steps(4)
    assert rig.states()["orders-1"] == "starting", \
        "up reports it (declared_failure) and stops everything; the supervisor kills nothing"
    assert not rig.signals.sent
