"""Failover and timers on resonate-pg with a fake session: what is released, when to stop."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from resonate_rpc_cli.backends.postgres import PgRelease
from resonate_rpc_cli.clients.protocol import ProtocolError, ServerUnreachable
from resonate_rpc_cli.postgres.release import release_held
from resonate_rpc_cli.postgres.timers import TimerDriver, cron_schedules_timers


class FakeDb:
    """Held tasks by pid; task.release answers 200, or 409 for ids in ``stale``."""

    def __init__(self, held: dict[str, list[tuple[str, int]]], stale: set[str] | None = None,
                 fail: Exception | None = None) -> None:
        self.held = held
        self.stale = stale or set()
        self.fail = fail
        self.sent: list[dict[str, Any]] = []

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.fail is not None:
            raise self.fail
        if "FROM resonate.tasks" in sql:
            assert "state = 'acquired'" in sql
            return list(self.held.get(str(params[0]), []))
        req = json.loads(params[0])
        self.sent.append(req)
        status = 409 if req["data"]["id"] in self.stale else 200
        return [({"kind": req["kind"], "head": {"status": status}, "data": {}},)]


def test_releases_each_held_task_with_the_version_it_read() -> None:
    db = FakeDb({"dead": [("a", 3), ("b", 7)], "alive": [("c", 1)]}, stale={"b"})
    assert release_held(db, "dead") == ["a"]  # b was taken meanwhile: 409, skipped
    assert [(r["kind"], r["data"]) for r in db.sent] == [
        ("task.release", {"id": "a", "version": 3}), ("task.release", {"id": "b", "version": 7})]
    assert all(r["head"]["corrId"] for r in db.sent)
    assert release_held(db, "nobody") == []


def test_the_releaser_reports_outcomes_and_failures() -> None:
    ok = PgRelease("postgresql://h/d", db=FakeDb({"dead": [("a", 1)]}))
    outcome = ok("service-b-1", "dead")
    assert outcome.released == ("a",) and "1 lease(s)" in outcome.detail
    down = PgRelease("postgresql://h/d", db=FakeDb({}, fail=ServerUnreachable("x")))
    outcome = down("service-b-1", "dead")
    assert outcome.released is None and "lapse after the TTL" in outcome.detail


class TimerDb:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.calls.append(sql)
        for key, answer in self.answers.items():
            if key in sql:
                if isinstance(answer, Exception):
                    raise answer
                return [(answer,)]
        raise AssertionError(sql)


def test_timers_fire_retry_when_down_and_stop_when_refused() -> None:
    said: list[str] = []
    driver = TimerDriver("postgresql://h/d", db=TimerDb({"process_timeouts": 0}), say=said.append)
    assert driver.tick() is True and driver.fired == 1
    down = TimerDriver("postgresql://h/d", db=TimerDb(
        {"process_timeouts": ServerUnreachable("down")}), say=said.append)
    assert down.tick() is True and down.fired == 0
    refused = TimerDriver("postgresql://h/d", db=TimerDb(
        {"process_timeouts": ProtocolError(403, "permission denied")}), say=said.append)
    assert refused.tick() is False and "pg_cron" in said[-1]


def test_pg_cron_scheduling_is_detected() -> None:
    assert cron_schedules_timers(TimerDb({"pg_extension": 0})) is False
    assert cron_schedules_timers(TimerDb({"pg_extension": 1, "cron.job": 1})) is True
    assert cron_schedules_timers(TimerDb({"pg_extension": 1, "cron.job": 0})) is False
    assert cron_schedules_timers(
        TimerDb({"pg_extension": 1, "cron.job": ProtocolError(403, "no")})) is False
