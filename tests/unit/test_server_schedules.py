"""Cron parsing and schedules that fire from the engine's timer, across a restart of the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from resonate_rpc_cli.server.cron import CronError, next_run, parse
from resonate_rpc_cli.server.engine import Engine
from resonate_rpc_cli.server.store import Store

MINUTE = 60_000


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(("expr", "after", "want"), [
    ("*/15 * * * *", ms(2026, 1, 1, 10, 7), ms(2026, 1, 1, 10, 15)),
    ("0 9-17/4 * * *", ms(2026, 1, 1, 13, 0), ms(2026, 1, 1, 17, 0)),
    ("30 8 * * 1-5", ms(2026, 1, 3, 12, 0), ms(2026, 1, 5, 8, 30)),  # Saturday -> Monday
    ("0 0 1,15 * *", ms(2026, 1, 2), ms(2026, 1, 15)),
    ("0 0 29 2 *", ms(2026, 3, 1), ms(2028, 2, 29)),
    ("0 12 13 * 5", ms(2026, 2, 1), ms(2026, 2, 6, 12)),  # day OR weekday, as cron does
    ("5 * * * 7", ms(2026, 1, 3, 23, 59), ms(2026, 1, 4, 0, 5)),  # 7 is Sunday
])
def test_next_run(expr: str, after: int, want: int) -> None:
    assert next_run(parse(expr), after) == want


@pytest.mark.parametrize("expr", [
    "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
    "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *", "MON * * * *", "", "1,,2 * * * *",
])
def test_invalid_cron_is_refused(expr: str) -> None:
    with pytest.raises(CronError):
        parse(expr)


def test_a_cron_that_never_fires_is_refused() -> None:
    with pytest.raises(CronError):
        next_run(parse("0 0 31 2 *"), 0)


SCHEDULE = {"kind": "schedule.create", "id": "every5", "cron": "*/5 * * * *",
            "promiseId": "{{.id}}:{{.timestamp}}", "promiseTimeout": 10 * MINUTE,
            "promiseParam": {"data": "e30="}, "promiseTags": {"resonate:target": "poll://any@g"}}


def fired(engine: Engine) -> list[str]:
    return sorted(p for p in engine.state.promises if p.startswith("every5:"))


def test_a_schedule_fires_at_each_tick_and_survives_a_restart(tmp_path: Path) -> None:
    t0 = ms(2026, 1, 1, 10, 1)
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    resp, _ = engine.apply(SCHEDULE, t0)
    assert resp["status"] == 200 and resp["schedule"]["nextRunAt"] == ms(2026, 1, 1, 10, 5)
    assert engine.tick(ms(2026, 1, 1, 10, 4)) == [] and fired(engine) == []

    out = engine.tick(ms(2026, 1, 1, 10, 5))
    first = f"every5:{ms(2026, 1, 1, 10, 5)}"
    assert fired(engine) == [first]
    assert [m.message["kind"] for m in out] == ["execute"]
    p = engine.state.promises[first]
    assert p.tags["resonate:schedule"] == "every5" and p.tags["resonate:origin"] == first
    assert p.timeout_at == ms(2026, 1, 1, 10, 15) and engine.state.tasks[first].state == "pending"
    got, _ = engine.apply({"kind": "schedule.get", "id": "every5"}, ms(2026, 1, 1, 10, 6))
    assert got["schedule"]["lastRunAt"] == ms(2026, 1, 1, 10, 5)
    assert got["schedule"]["nextRunAt"] == ms(2026, 1, 1, 10, 10)

    assert engine.store is not None
    engine.store.close()  # down from 10:06 (like kill -9) until 10:21: three ticks missed
    engine = Engine.load(Store.open(tmp_path / "s.sqlite"))
    assert fired(engine) == [first]
    engine.tick(ms(2026, 1, 1, 10, 21))
    want = [f"every5:{ms(2026, 1, 1, 10, m)}" for m in (5, 10, 15, 20)]
    assert fired(engine) == sorted(want)  # each missed tick fired once
    engine.tick(ms(2026, 1, 1, 10, 22))
    assert fired(engine) == sorted(want)
    engine.close()
    again = Engine.load(Store.open(tmp_path / "s.sqlite"))
    assert fired(again) == sorted(want)
    assert again.state.schedules["every5"].to_record()["nextRunAt"] == ms(2026, 1, 1, 10, 25)
    again.close()


def test_a_deleted_schedule_stops_firing() -> None:
    engine = Engine()
    engine.apply(SCHEDULE, ms(2026, 1, 1, 10, 1))
    resp, _ = engine.apply({"kind": "schedule.delete", "id": "every5"}, ms(2026, 1, 1, 10, 2))
    assert resp["status"] == 200
    engine.tick(ms(2026, 1, 1, 11, 0))
    assert fired(engine) == []
    resp, _ = engine.apply({"kind": "schedule.get", "id": "every5"}, ms(2026, 1, 1, 11, 0))
    assert resp["status"] == 404
