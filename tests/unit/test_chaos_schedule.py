"""The seeded fault schedule, composed faults in it (overlap, scope, network kinds; a pure
function of the seed), and the history/fault-log formats."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from pathlib import Path
from typing import cast

import pytest

from resonate_rpc_cli.chaos.history import FaultDoc, FaultRecord, History, write_jsonl
from resonate_rpc_cli.chaos.schedule import (
    FAULT_KINDS,
    PlannedFault,
    PlannedFaultDoc,
    effective_starts,
    parse_kinds,
    parse_range,
    parse_scopes,
    parse_targets,
    plan_faults,
    scope_size,
)
from resonate_rpc_cli.contracts.naming import SERVICE_GROUPS


def plan(seed: int, count: int = 12, kinds: tuple[str, ...] = FAULT_KINDS) -> list[PlannedFaultDoc]:
    faults = plan_faults(seed, count, kinds=parse_kinds(",".join(kinds)),
                         targets=("service-b", "service-h"), interval_s=(0.5, 2.0),
                         down_s=(0.1, 1.0))
    return [f.to_dict() for f in faults]


def test_same_seed_same_schedule_and_other_seed_differs() -> None:
    assert plan(42) == plan(42)
    assert plan(42) != plan(43)


def test_schedule_respects_ranges_targets_and_covers_every_kind() -> None:
    faults = plan(5)
    assert {f["kind"] for f in faults[: len(FAULT_KINDS)]} == set(FAULT_KINDS)
    times = [f["at_s"] for f in faults]
    assert times == sorted(times)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert all(0.49 <= g <= 2.01 for g in gaps), gaps
    for f in faults:
        assert 0.1 <= f["down_s"] <= 1.0 and 0 <= f["pick"] < 1
        want = {"gateway": {"gateway"}, "server": {"server"}}.get(
            f["kind"], {"service-b", "service-h"})
        assert f["group"] in want, f


def test_only_requested_kinds_appear() -> None:
    assert {f["kind"] for f in plan(9, 20, ("kill", "pause"))} == {"kill", "pause"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("kill,nuke", "unknown fault kind 'nuke'"), ("", "no fault kinds")],
)
def test_parse_kinds_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_kinds(text)


def test_parse_targets_and_ranges() -> None:
    assert parse_targets(None) == tuple(SERVICE_GROUPS)
    assert parse_targets("service-b, service-b,service-c") == ("service-b", "service-c")
    with pytest.raises(ValueError, match="unknown target group 'service-z'"):
        parse_targets("service-z")
    assert parse_range("1:5", "interval") == (1.0, 5.0)
    assert parse_range("2", "interval") == (2.0, 2.0)
    for bad in ("5:1", "a:b", "-1:2"):
        with pytest.raises(ValueError, match="interval must be"):
            parse_range(bad, "interval")


def test_plan_rejects_node_faults_without_targets() -> None:
    with pytest.raises(ValueError, match="need at least one target"):
        plan_faults(1, 3, kinds=("kill",), targets=(), interval_s=(1, 2), down_s=(1, 2))
    assert plan_faults(1, 2, kinds=("gateway",), targets=(), interval_s=(1, 2),
                       down_s=(1, 2))[1].group == "gateway"


def test_history_is_thread_safe_and_round_trips(tmp_path: Path) -> None:
    history = History()

    def worker(n: int) -> None:
        for i in range(200):
            history.record("invoke", n, "fan-out", f"p{n}-{i}", i)
            history.record("ok", n, "fan-out", f"p{n}-{i}", i, value=4 * i + 1)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ops = history.ops()
    assert [o.index for o in ops] == list(range(1600))
    path = tmp_path / "history.jsonl"
    write_jsonl(path, (o.to_json() for o in ops))
    assert [json.loads(line) for line in path.read_text().splitlines()] == [asdict(o) for o in ops]


def test_fault_record_round_trips() -> None:
    rec = FaultRecord(index=3, kind="pause", target="service-b-1", group="service-b",
                      planned_at_s=1.5, down_s=0.7, at_ms=10, os_pid=99, landed=True,
                      held=["x:1"], heal="resume", healed_ms=20)
    assert FaultRecord.from_dict(rec.to_dict()) == rec
    with pytest.raises(ValueError, match="malformed fault record"):
        FaultRecord.from_dict(cast("FaultDoc", {"kind": "kill"}))


# -- Composed faults in the schedule: overlap, scope, network kinds; a pure function of the seed.

GROUPS = ("service-a", "service-b", "service-c")


def composed(seed: int, count: int = 40, **kw: object) -> list[PlannedFault]:
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
    assert composed(9, scopes=scopes) == composed(9, scopes=scopes)
    assert composed(9, scopes=scopes) != composed(10, scopes=scopes)
    assert effective_starts(composed(9), 2) == effective_starts(composed(9), 2)


def test_extra_draws_leave_the_classic_schedule_alone() -> None:
    classic = ("kill", "term", "pause", "gateway", "server")
    a = composed(4, kinds=classic)
    b = composed(4, kinds=classic, scopes=("one", "all"))
    assert [(f.at_s, f.kind, f.group, f.down_s, f.pick) for f in a] == \
        [(f.at_s, f.kind, f.group, f.down_s, f.pick) for f in b]


@pytest.mark.parametrize("overlap", [1, 2, 3])
def test_overlap_bounds_the_faults_in_force(overlap: int) -> None:
    faults = composed(3)
    starts = effective_starts(faults, overlap)
    assert in_force_at_once(faults, starts) <= overlap
    assert starts == sorted(starts)  # order kept
    assert all(s >= f.at_s for s, f in zip(starts, faults, strict=True))  # never early
    if overlap > 1:  # with short intervals and long downs, faults do overlap
        assert in_force_at_once(faults, starts) == overlap
        assert starts[-1] < effective_starts(faults, 1)[-1]


def test_scope_is_drawn_for_node_faults_only() -> None:
    faults = composed(5, scopes=("one", "minority", "all"))
    node = [f for f in faults if f.kind not in ("gateway", "server")]
    assert {f.scope for f in node} == {"one", "minority", "all"}
    assert {f.scope for f in faults if f.kind in ("gateway", "server")} <= {"one"}
    assert {f.scope for f in composed(5)} == {"one"}


def test_delay_faults_carry_a_latency_and_others_none() -> None:
    faults = composed(6)
    delays = [f for f in faults if f.kind == "delay"]
    assert delays and all(100 <= f.delay_ms <= 600 and 0 <= f.jitter_ms <= 100 for f in delays)
    assert all(f.delay_ms == 0 == f.jitter_ms for f in faults if f.kind != "delay")
    assert {f.kind for f in faults[:len(FAULT_KINDS)]} == set(FAULT_KINDS)  # every kind early


def test_planned_faults_round_trip() -> None:
    for f in composed(7, scopes=("all",)):
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
