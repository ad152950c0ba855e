"""Replica bookkeeping in the supervisor: replicas at up, scale up/down, external servers."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.supervisor import operations
from resonate_rpc_cli.supervisor.node import RestartPolicy
from tests.unit._supervisor_fakes import Rig, make_rig


def group_states(rig: Rig, group: str) -> dict[str, str]:
    return {name: str(n.state) for name, n in rig.sup.nodes.items() if n.name.group == group}


def test_replicas_get_readable_names_and_all_start(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, replicas={"service-b": 3})
    rig.steps(4)
    assert group_states(rig, "service-b") == {
        "service-b-1": "ready", "service-b-2": "ready", "service-b-3": "ready"}
    assert rig.sup.all_ready() and len(rig.sup.nodes) == 13
    ids = {rig.sup.nodes[f"service-b-{i}"].node_id for i in (1, 2, 3)}
    assert len(ids) == 3, "each replica has its own Resonate node id"
    spec = rig.sup.nodes["service-b-2"].spec
    assert spec is not None and spec.env["RPCDEMO_NODE_NAME"] == "service-b-2"


def test_kill_count_one_leaves_the_rest_of_the_group_running(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, replicas={"service-b": 3})
    rig.steps(4)
    result = operations.kill(rig.sup, "service-b", count=1)
    rig.steps(2)
    assert [k.name for k in result.killed] == ["service-b-1"]
    assert group_states(rig, "service-b") == {
        "service-b-1": "killed", "service-b-2": "ready", "service-b-3": "ready"}


def test_scale_up_adds_slots_that_start_like_at_up(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.steps(4)
    out = operations.scale(rig.sup, "service-b", 3)
    assert out.added == ["service-b-2", "service-b-3"] and out.retiring == []
    rig.steps(2)
    assert group_states(rig, "service-b") == {
        "service-b-1": "ready", "service-b-2": "ready", "service-b-3": "ready"}
    names = list(rig.sup.nodes)
    assert names.index("service-b-3") < names.index("service-c-1"), "status keeps group order"
    assert rig.sup.config.replicas == {"service-b": 3}


def test_scale_down_terms_the_highest_numbered_and_drops_their_slots(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, replicas={"service-b": 3})
    rig.steps(4)
    pids = {i: rig.pid(f"service-b-{i}") for i in (1, 2, 3)}
    out = operations.scale(rig.sup, "service-b", 1)
    assert out.retiring == ["service-b-3", "service-b-2"]
    assert (pids[3], signal.SIGTERM) in rig.signals.sent
    assert (pids[2], signal.SIGTERM) in rig.signals.sent
    assert all(pid != pids[1] for pid, _ in rig.signals.sent)
    rig.steps(2)
    assert group_states(rig, "service-b") == {"service-b-1": "ready"}
    kinds = [(e.node, e.kind, e.detail) for e in rig.sup.feed.since(0)]
    assert ("service-b-3", "stopped", "exit 0; scaled down") in kinds


def test_a_retiring_node_that_ignores_term_is_killed_after_grace(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, replicas={"service-b": 2})
    rig.steps(4)
    rig.signals.obey_term = False
    pid = rig.pid("service-b-2")
    operations.scale(rig.sup, "service-b", 1)
    rig.steps(2)
    assert "service-b-2" in rig.sup.nodes, "still there while its process lives"
    rig.clock.advance(rig.sup.config.grace_s)
    rig.steps(2)
    assert (pid, signal.SIGKILL) in rig.signals.sent
    assert "service-b-2" not in rig.sup.nodes


def test_scale_to_zero_and_back_reuses_the_lowest_numbers(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, replicas={"service-b": 2})
    rig.steps(4)
    operations.scale(rig.sup, "service-b", 0)
    rig.steps(2)
    assert group_states(rig, "service-b") == {}
    assert "service-b" not in rig.sup.kill_targets()
    with pytest.raises(UsageError, match="unknown target 'service-b'"):
        operations.kill(rig.sup, "service-b")
    assert operations.scale(rig.sup, "service-b", 2).added == ["service-b-1", "service-b-2"]
    rig.steps(2)
    assert group_states(rig, "service-b") == {"service-b-1": "ready", "service-b-2": "ready"}


def test_scale_respawns_kept_slots_that_are_down(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, replicas={"service-b": 2})
    rig.steps(4)
    old = rig.pid("service-b-1")
    operations.kill(rig.sup, "service-b-1")
    rig.steps(2)
    out = operations.scale(rig.sup, "service-b", 2)
    assert out.to_dict() == {"group": "service-b", "replicas": 2, "added": [], "retiring": [],
                             "respawned": ["service-b-1"]}
    rig.steps(2)
    assert group_states(rig, "service-b") == {"service-b-1": "ready", "service-b-2": "ready"}
    assert rig.pid("service-b-1") != old


@pytest.mark.parametrize(("group", "count", "why"), [
    ("service-z", 1, "unknown group 'service-z'; valid groups: service-a"),
    ("gateway", 2, "unknown group 'gateway'"),
    ("service-b", 17, "from 0 to 16, got 17"),
    ("service-b", -1, "from 0 to 16, got -1"),
])
def test_scale_rejects_bad_requests(tmp_path: Path, group: str, count: int, why: str) -> None:
    rig = make_rig(tmp_path)
    rig.steps(4)
    with pytest.raises(UsageError, match=why):
        operations.scale(rig.sup, group, count)


def test_scale_during_shutdown_is_refused(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.steps(4)
    rig.sup.shutdown()
    with pytest.raises(UsageError, match="shutting down"):
        operations.scale(rig.sup, "service-b", 2)


def test_external_server_starts_no_server_and_nodes_at_once(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, server_kind="external", server_url="http://10.0.0.5:8001/",
                   only=["service-d", "service-e"], replicas={"service-d": 2})
    assert rig.sup.server is None
    rig.steps(2)
    assert rig.states() == {"service-d-1": "ready", "service-d-2": "ready",
                            "service-e-1": "ready"}
    assert all("resonate_rpc_cli.server" not in p.spec.argv for p in rig.spawner.procs)
    spec = rig.sup.nodes["service-e-1"].spec
    assert spec is not None and spec.env["RESONATE_URL"] == "http://10.0.0.5:8001"
    rig.sup.shutdown()
    rig.steps(3)
    assert rig.sup.done()


def test_scale_adds_a_group_that_only_left_out(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, only=["gateway", "service-a"])
    rig.steps(4)
    assert set(rig.states()) == {"server", "gateway", "service-a-1"}
    operations.scale(rig.sup, "service-b", 1)
    rig.steps(2)
    assert rig.states()["service-b-1"] == "ready"
    assert rig.sup.config.only == ["gateway", "service-a", "service-b"]


def test_restart_policy_comes_from_the_config(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, restart_max_failures=2, restart_backoff_s=1.5)
    assert rig.sup.policy == RestartPolicy(max_quick_failures=2, base_backoff_s=1.5)
    rig.steps(4)
    rig.exit("service-c-1", 1)
    rig.steps(1)
    node = rig.sup.nodes["service-c-1"]
    assert str(node.state) == "backoff" and node.restart_at is not None
    assert node.restart_at - rig.clock.now == pytest.approx(1.5, abs=0.06)
