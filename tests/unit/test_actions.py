"""The actions core: one declaration per action, the rows that offer it, refusals in one line.

Their effects on a real topology: tests/e2e/test_actions_topology.py.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.errors import ExitStatus, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe import actions
from resonate_rpc_cli.observe.actions import ACTIONS, Kind, Refused, Target
from resonate_rpc_cli.supervisor.states import NodeState

NODE_STATES = [str(s) for s in NodeState]
LINKS = [None, "ok", "partitioned", "delayed"]
PROMISE_STATES = ["pending", "resolved", "rejected", "rejected_canceled"]


def _every_target() -> list[Target]:
    nodes = [Target(Kind.NODE, "service-b-1", s, link)
             for s, link in itertools.product(NODE_STATES, LINKS)]
    groups = [Target(Kind.GROUP, g, count=n) for g in ("service-b", "gateway") for n in (0, 2)]
    flows = [Target(Kind.FLOW, root, s) for root in ("await-chain", "fan-out-workflow-ab12",
                                                      "approval-1") for s in PROMISE_STATES]
    promises = [Target(Kind.PROMISE, "await-chain:1", s) for s in PROMISE_STATES]
    return nodes + groups + flows + promises


def test_every_action_is_declared_once_with_a_key_and_a_label() -> None:
    names = [a.name for a in ACTIONS]
    assert len(names) == len(set(names))
    assert {a.kind for a in ACTIONS} == set(Kind)
    for a in ACTIONS:
        assert len(a.key) == 1 and a.key not in "jkq?" and a.label and a.help, a
    # the list: kill, kill with respawn, respawn, pause/resume, partition/heal,
    # scale, run a flow, resolve/reject/cancel a pending promise
    assert {"kill", "kill-respawn", "respawn", "pause", "resume", "partition", "heal-link",
            "scale", "run", "resolve", "reject", "cancel"} <= set(names)


def test_no_row_offers_two_actions_on_one_key() -> None:
    for target in _every_target():
        offered = actions.actions_for(target)
        keys = [a.key for a, _t in offered]
        assert len(keys) == len(set(keys)), (target, [a.name for a, _t in offered])


@pytest.mark.parametrize(("target", "names"), [
    (Target(Kind.NODE, "service-b-1", "ready", "ok"),
     ["kill", "kill-respawn", "pause", "partition"]),
    (Target(Kind.NODE, "service-b-1", "ready", None), ["kill", "kill-respawn", "pause"]),
    (Target(Kind.NODE, "service-b-1", "paused", "partitioned"),
     ["kill", "kill-respawn", "resume", "heal-link"]),
    (Target(Kind.NODE, "service-b-1", "killed", "ok"), ["respawn", "partition"]),
    (Target(Kind.NODE, "service-b-1", "stopping", None), []),
    (Target(Kind.GROUP, "service-b", count=1), ["scale-up", "scale-down", "scale"]),
    (Target(Kind.GROUP, "service-b", count=0), ["scale-up", "scale"]),
    (Target(Kind.GROUP, "gateway", count=1), []),
    (Target(Kind.FLOW, "await-chain", "resolved"), ["run"]),
    (Target(Kind.FLOW, "fan-out-workflow-3db3", "pending"), ["run", "cancel-flow"]),
    (Target(Kind.FLOW, "approval-7", "pending"), ["cancel-flow"]),
    (Target(Kind.PROMISE, "await-chain:1", "pending"), ["resolve", "reject", "cancel"]),
    (Target(Kind.PROMISE, "await-chain:1", "resolved"), []),
])
def test_a_row_offers_what_its_state_allows(target: Target, names: list[str]) -> None:
    assert [a.name for a, _t in actions.actions_for(target)] == names


def test_a_node_row_offers_its_groups_actions_too() -> None:
    node = Target(Kind.NODE, "service-b-1", "ready")
    group = Target(Kind.GROUP, "service-b", count=1)
    offered = actions.actions_for(node, group)
    assert [(a.key, t.id) for a, t in offered] == [
        ("x", "service-b-1"), ("X", "service-b-1"), ("p", "service-b-1"),
        ("+", "service-b"), ("-", "service-b"), ("s", "service-b")]


def test_the_flow_of_a_root() -> None:
    assert actions.flow_of("await-chain").name == "await-chain"  # type: ignore[union-attr]
    assert actions.flow_of("fan-out-workflow-0a1b").name == "fan-out"  # type: ignore[union-attr]
    assert actions.flow_of("approval-1") is None
    assert actions.flow_of("await-chainx") is None


def test_nothing_running_is_refused_in_one_line_with_exit_3(tmp_path: Path) -> None:
    home = Home(tmp_path)
    for name, target, value in (("kill", "service-b-1", None), ("scale", "service-b", "2"),
                                ("resolve", "p-1", "3"), ("partition", "service-b-1", None)):
        outcome = actions.perform(home, name, target, value)
        assert isinstance(outcome, Refused), outcome
        assert outcome.status == ExitStatus.NOT_RUNNING and "\n" not in outcome.message
        assert outcome.to_dict()["ok"] is False


def test_bad_values_are_refused_before_anything_is_sent(tmp_path: Path) -> None:
    home = Home(tmp_path)
    scale = actions.perform(home, "scale", "service-b", "many")
    assert isinstance(scale, Refused) and scale.status == ExitStatus.USAGE
    assert "whole number" in scale.message
    unknown = actions.perform(home, "explode", "service-b-1")
    assert isinstance(unknown, Refused) and unknown.status == ExitStatus.USAGE
    assert "unknown action 'explode'" in unknown.message
    with pytest.raises(UsageError):
        actions.action_named("explode")
    run = actions.perform(home, "run", "approval-1")
    assert isinstance(run, Refused) and "not the root of a flow" in run.message
