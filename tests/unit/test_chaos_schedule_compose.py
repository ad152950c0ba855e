"""Composed faults in the schedule: overlap, scope, network kinds; a pure function of the seed."""

from __future__ import annotations

from typing import cast

import pytest

from resonate_rpc_cli.chaos.schedule import (
    FAULT_KINDS,
    PlannedFault,
    PlannedFaultDoc,
    effective_starts,
    parse_scopes,
    plan_faults,
    scope_size,
)

GROUPS = ("service-a", "service-b", "service-c")


def plan(seed: int, count: int = 40, **kw: object) -> list[PlannedFault]:
    args: dict[str, object] = {"kinds": FAULT_KINDS, "targets": GROUPS,
                               "interval_s": (0.2, 1.0), "down_s": (0.5, 3.0)}
    args.update(kw)
    return plan_faults(seed, count, **args)  # type: ignore[arg-type]


def in_force_at_once(faults: list[PlannedFault], starts: list[float]) -> int:
    """The most faults whose [start, start + down) windows share an instant."""
    edges = sorted([(s, 1) for s in starts] +
                   [(s + f.down_s, -1) for s, f in zip(starts, faults, strict=True)],
                   key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_same_seed_same_composed_schedule() -> None:
    scopes = ("one", "minority", "all")
    assert plan(9, scopes=scopes) == plan(9, scopes=scopes)
    assert plan(9, scopes=scopes) != plan(10, scopes=scopes)
    assert effective_starts(plan(9), 2) == effective_starts(plan(9), 2)


def test_extra_draws_leave_the_classic_schedule_alone() -> None:
    classic = ("kill", "term", "pause", "gateway", "server")
    a = plan(4, kinds=classic)
    b = plan(4, kinds=classic, scopes=("one", "all"))
    assert [(f.at_s, f.kind, f.group, f.down_s, f.pick) for f in a] == \
        [(f.at_s, f.kind, f.group, f.down_s, f.pick) for f in b]


@pytest.mark.parametrize("overlap", [1, 2, 3])
def test_overlap_bounds_the_faults_in_force(overlap: int) -> None:
    faults = plan(3)
    starts = effective_starts(faults, overlap)
    assert in_force_at_once(faults, starts) <= overlap
    assert starts == sorted(starts)  # order kept
    assert all(s >= f.at_s for s, f in zip(starts, faults, strict=True))  # never early
    if overlap > 1:  # with short intervals and long downs, faults do overlap
        assert in_force_at_once(faults, starts) == overlap
        assert starts[-1] < effective_starts(faults, 1)[-1]


def test_scope_is_drawn_for_node_faults_only() -> None:
    faults = plan(5, scopes=("one", "minority", "all"))
    node = [f for f in faults if f.kind not in ("gateway", "server")]
    assert {f.scope for f in node} == {"one", "minority", "all"}
    assert {f.scope for f in faults if f.kind in ("gateway", "server")} <= {"one"}
    assert {f.scope for f in plan(5)} == {"one"}


def test_delay_faults_carry_a_latency_and_others_none() -> None:
    faults = plan(6)
    delays = [f for f in faults if f.kind == "delay"]
    assert delays and all(100 <= f.delay_ms <= 600 and 0 <= f.jitter_ms <= 100 for f in delays)
    assert all(f.delay_ms == 0 == f.jitter_ms for f in faults if f.kind != "delay")
    assert {f.kind for f in faults[:len(FAULT_KINDS)]} == set(FAULT_KINDS)  # every kind early


def test_planned_faults_round_trip() -> None:
    for f in plan(7, scopes=("all",)):
        assert PlannedFault.from_dict(f.to_dict()) == f
    with pytest.raises(ValueError, match="malformed"):
        PlannedFault.from_dict(cast("PlannedFaultDoc", {"index": 1}))


@pytest.mark.parametrize(("scope", "size", "hit"), [
    ("one", 5, 1), ("minority", 5, 2), ("minority", 2, 1), ("minority", 1, 1),
    ("all", 5, 5), ("all", 1, 1),
])
def test_scope_size(scope: str, size: int, hit: int) -> None:
    assert scope_size(scope, size) == hit


def test_parse_scopes() -> None:
    assert parse_scopes("one, all,one") == ("one", "all")
    with pytest.raises(ValueError, match="valid: one, minority, all"):
        parse_scopes("most")
    with pytest.raises(ValueError, match="no scope"):
        parse_scopes(" , ")
