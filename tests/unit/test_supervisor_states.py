"""The node lifecycle: allowed moves pass, everything else raises."""

from __future__ import annotations

import pytest

from resonate_rpc_cli.supervisor.states import (
    TRANSITIONS,
    InvalidTransition,
    NodeState,
    check_transition,
)


def test_every_state_has_a_transition_entry() -> None:
    assert set(TRANSITIONS) == set(NodeState)


@pytest.mark.parametrize(("a", "b"), [
    ("pending", "starting"), ("starting", "ready"), ("ready", "paused"), ("paused", "ready"),
    ("ready", "killed"), ("killed", "starting"), ("ready", "backoff"), ("backoff", "starting"),
    ("starting", "failed"), ("failed", "starting"),
    ("ready", "stopping"), ("stopping", "stopped"),
])
def test_allowed(a: str, b: str) -> None:
    assert check_transition(NodeState(a), NodeState(b)) is NodeState(b)


@pytest.mark.parametrize(("a", "b"), [
    ("pending", "ready"), ("stopped", "starting"), ("killed", "ready"), ("failed", "ready"),
    ("stopping", "ready"), ("backoff", "ready"), ("ready", "starting"), ("ready", "ready"),
])
def test_forbidden(a: str, b: str) -> None:
    with pytest.raises(InvalidTransition, match=f"{a} -> {b}"):
        check_transition(NodeState(a), NodeState(b))


def test_stopped_is_terminal_and_alive_means_a_process() -> None:
    assert TRANSITIONS[NodeState.STOPPED] == frozenset()
    assert {s for s in NodeState if s.alive} == {
        NodeState.STARTING, NodeState.READY, NodeState.PAUSED, NodeState.STOPPING}
