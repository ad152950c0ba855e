"""Timers and SortedIds: the two structures that keep the server's cost flat (pure)."""

from __future__ import annotations

import random

from resonate_rpc_cli.server.sortedids import SortedIds
from resonate_rpc_cli.server.timers import Timers


def test_timers_hand_out_exactly_the_due_ids_once() -> None:
    rng = random.Random(5)
    timers = Timers()
    want: dict[str, int] = {}
    for _ in range(3000):
        key = f"k{rng.randint(0, 800)}"
        if rng.random() < 0.2:
            timers.remove(key)
            want.pop(key, None)
        else:
            at = rng.randint(0, 20_000)
            timers.set(key, at)
            want[key] = at
    for now in range(0, 21_000, 250):
        expect = sorted(k for k, at in want.items() if at <= now)
        assert timers.any_due(now) == bool(expect)
        got = sorted(timers.due(now, limit=10**9))
        assert got == expect, now
        for k in got:
            del want[k]
    assert len(timers) == 0


def test_timers_respect_the_limit_and_keep_the_rest() -> None:
    timers = Timers()
    for i in range(50):
        timers.set(f"k{i}", 1000 + i)
    first = timers.due(5000, limit=20)
    assert len(first) == 20 and len(timers) == 30
    assert len(timers.due(5000, limit=100)) == 30


def test_sorted_ids_match_a_sorted_set() -> None:
    rng = random.Random(9)
    ids = SortedIds(f"x{i}" for i in range(0, 5000, 3))
    model = {f"x{i}" for i in range(0, 5000, 3)}
    for _ in range(6000):
        key = f"x{rng.randint(0, 6000)}"
        if rng.random() < 0.4:
            ids.remove(key)
            model.discard(key)
        else:
            ids.add(key)
            model.add(key)
    assert list(ids) == sorted(model) and len(ids) == len(model)
    cursor = sorted(model)[len(model) // 2]
    assert list(ids.after(cursor)) == [k for k in sorted(model) if k > cursor]
    assert list(ids.after("zzz")) == []
