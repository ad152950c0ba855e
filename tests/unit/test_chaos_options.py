"""The flows a run asks for (chaos/options.py): flows per index, the stop rule, pacing."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from resonate_rpc_cli.chaos.options import FlowSupply, StopRule, plan_flow, plan_flows

MIX = ("await-chain", "detached-chain", "fan-out")


def test_flow_n_is_a_pure_function_of_seed_and_n() -> None:
    a = plan_flows(5, 30, MIX, "t")
    assert a == plan_flows(5, 30, MIX, "t")
    assert a[:12] == plan_flows(5, 12, MIX, "t")  # a longer run extends, never reshuffles
    assert [plan_flow(5, n, MIX, "t") for n in (29, 3, 17)] == [a[29], a[3], a[17]]
    assert [p.flow for p in a] != [p.flow for p in plan_flows(6, 30, MIX, "t")]
    for block in range(10):  # every block of len(MIX) flows holds each kind once
        assert Counter(p.flow for p in a[3 * block: 3 * block + 3]) == Counter(MIX)
    assert all(p.promise_id == f"chaos-t-{p.flow}-{p.index}" for p in a)


@pytest.mark.parametrize(("issued", "elapsed", "done", "more"), [
    (0, 0.0, True, True),      # below the minimum: always
    (9, 100.0, True, True),
    (10, 0.0, True, True),     # minimum reached, duration not over
    (10, 5.0, False, True),    # duration over, schedule still playing
    (10, 5.0, True, False),    # all three met: stop
    (500, 4.9, True, True),
])
def test_stop_rule_needs_minimum_duration_and_schedule(
    issued: int, elapsed: float, done: bool, more: bool
) -> None:
    assert StopRule(min_flows=10, duration_s=5.0).more(issued, elapsed, done) is more


def test_stop_rule_cap() -> None:
    rule = StopRule(min_flows=3, duration_s=100.0, max_flows=3)
    assert rule.more(2, 0.0, False) and not rule.more(3, 0.0, False)


def test_supply_keeps_issuing_until_the_schedule_is_done() -> None:
    done = threading.Event()
    supply = FlowSupply(1, MIX, "t", StopRule(2), schedule_done=done.is_set)
    stop = threading.Event()
    taken = [supply.take(stop) for _ in range(7)]
    assert all(p is not None for p in taken)  # 7 > min 2: the schedule is not done
    done.set()
    assert supply.take(stop) is None
    assert [p.index for p in supply.plans()] == list(range(7))
    stop.set()
    assert FlowSupply(1, MIX, "t", StopRule(5)).take(stop) is None


def test_rate_paces_issue_times() -> None:
    supply = FlowSupply(1, MIX, "t", StopRule(6, max_flows=6), rate=20.0)
    stop = threading.Event()
    started = time.monotonic()
    while supply.take(stop) is not None:
        pass
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 2.0, elapsed  # flow 5 is due 5/20 = 0.25 s after the start
    assert len(supply.plans()) == 6


def test_a_fixed_supply_serves_its_list_in_order() -> None:
    plans = plan_flows(2, 4, MIX, "x")
    supply = FlowSupply.of(plans)
    stop = threading.Event()
    assert [supply.take(stop) for _ in range(5)] == [*plans, None]
