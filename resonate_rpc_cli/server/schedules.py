"""Schedules that fire: ``schedule.create/get/search/delete`` and the timer that runs them.

The real server (src/server.rs:2267-2550, src/processing/processing_timeouts.rs:60-105,
src/persistence/persistence_sqlite.rs:1217-1406) keeps, per schedule, the
next run time computed from the cron expression; its timer creates the
schedule's promise at each tick and computes the next run *from the tick
that fired*, so ticks missed while the server was down are each fired once,
in order, when it is back (resonate-pg does the same in one loop). Here:

* :class:`ScheduleRecord` is ServerState's ``ScheduleStub`` plus
  ``next_run_at``/``last_run_at``, so snapshots keep them;
* :func:`fire_due` runs from ``IndexedServerState.tick``, so the command log
  replays it like every other timeout (deterministic given ``(state, now)``);
* a schedule's promise id expands ``{{.id}}`` and ``{{.timestamp}}`` (the
  tick, epoch ms); its tags are ``promiseTags`` plus ``resonate:schedule``
  and ``resonate:origin``/``branch``/``parent``/``prefix`` = the promise id,
  its timeout ``tick + promiseTimeout``. Creating it is ``promise.create``:
  a ``resonate:target`` gives it a task and an ``execute`` message.
"""

from __future__ import annotations

import bisect
from typing import Any, cast

from resonate.connections.local import ScheduleStub, ServerState

from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.server.cron import CronError, next_run, parse
from resonate_rpc_cli.server.request import (
    Request,
    ScheduleCreate,
    ScheduleDelete,
    ScheduleGet,
    ScheduleSearch,
)
from resonate_rpc_cli.server.response import FlatResponse, ScheduleRow

#: At most this many missed ticks of one schedule are fired per timer tick
#: (the rest on the following ones), so a long outage cannot stall the server.
MAX_CATCH_UP = 1_000
DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000


class ScheduleRecord(ScheduleStub, kw_only=True):
    """A schedule with its timer: the next tick to fire and the last one fired."""

    next_run_at: int = 0
    last_run_at: int | None = None

    def to_record(self) -> dict[str, Any]:  # the SDK's ScheduleStub.to_record
        rec = super().to_record()
        rec["nextRunAt"] = self.next_run_at
        if self.last_run_at is None:
            rec.pop("lastRunAt", None)
        else:
            rec["lastRunAt"] = self.last_run_at
        return rec


def apply_schedule(state: ServerState, now: int, req: Request) -> FlatResponse | None:
    """The response if ``req`` is a schedule kind (now applied), else ``None``."""
    if req["kind"] == "schedule.create":
        return schedule_create(state, now, req)
    if req["kind"] == "schedule.get":
        return schedule_get(state, now, req)
    if req["kind"] == "schedule.delete":
        return schedule_delete(state, now, req)
    if req["kind"] == "schedule.search":
        return schedule_search(state, now, req)
    return None


def schedule_row(s: ScheduleStub) -> ScheduleRow:
    """``s.to_record()`` (the SDK's method, :meth:`ScheduleRecord.to_record`), typed (no copy)."""
    return cast(ScheduleRow, s.to_record())


def schedule_create(state: ServerState, now: int, req: ScheduleCreate) -> FlatResponse:
    """Create (or return the existing) schedule; its first tick is the next cron time after now."""
    existing = state.schedules.get(req["id"])
    if existing is None:
        tags = req.get("promiseTags")
        existing = ScheduleRecord(
            id=req["id"], cron=req["cron"], promise_id=req["promiseId"],
            promise_timeout=req["promiseTimeout"], promise_param=req.get("promiseParam"),
            promise_tags=dict(tags) if isinstance(tags, dict) else {}, created_at=now,
            next_run_at=next_run(parse(req["cron"]), now),
        )
        state.schedules[existing.id] = existing
    resp = _ok(req)
    resp["schedule"] = schedule_row(existing)
    return resp


def schedule_get(state: ServerState, now: int, req: ScheduleGet) -> FlatResponse:
    s = state.schedules.get(req["id"])
    if s is None:
        return _error(req, 404, f"schedule {req['id']} not found")
    resp = _ok(req)
    resp["schedule"] = schedule_row(s)
    return resp


def schedule_delete(state: ServerState, now: int, req: ScheduleDelete) -> FlatResponse:
    if state.schedules.pop(req["id"], None) is None:
        return _error(req, 404, f"schedule {req['id']} not found")
    return _ok(req)


def schedule_search(state: ServerState, now: int, req: ScheduleSearch) -> FlatResponse:
    """``{tags?, limit?, cursor?}`` → ``{schedules, cursor?}`` by id; ``tags`` is containment."""
    tags = req.get("tags") or {}
    limit = min(req.get("limit") or DEFAULT_LIMIT, MAX_LIMIT)
    ids = sorted(state.schedules)
    cursor = req.get("cursor")
    start = bisect.bisect_right(ids, cursor) if cursor is not None else 0
    page: list[ScheduleStub] = []
    more = False
    for sid in ids[start:]:
        s = state.schedules[sid]
        if not all(_tags(s).get(k) == v for k, v in tags.items()):
            continue
        if len(page) == limit:
            more = True
            break
        page.append(s)
    resp = _ok(req)
    resp["schedules"] = [schedule_row(s) for s in page]
    if more:
        resp["cursor"] = page[-1].id
    return resp


def as_records(schedules: dict[str, ScheduleStub]) -> dict[str, ScheduleRecord]:
    """The schedules as :class:`ScheduleRecord` (a plain stub gets no next run: it never fires)."""
    return {
        sid: s if isinstance(s, ScheduleRecord) else ScheduleRecord(
            id=s.id, cron=s.cron, promise_id=s.promise_id, promise_timeout=s.promise_timeout,
            promise_param=s.promise_param, promise_tags=s.promise_tags, created_at=s.created_at)
        for sid, s in schedules.items()
    }


def schedules_due(state: ServerState, now: int) -> bool:
    """Whether :func:`fire_due` would fire anything at ``now``."""
    return any(_due(s, now) for s in state.schedules.values())


def fire_due(state: ServerState, now: int) -> int:
    """Fire every tick due at ``now`` (each missed tick once, oldest first); return how many."""
    fired = 0
    for s in list(state.schedules.values()):
        if not isinstance(s, ScheduleRecord):
            continue
        for _ in range(MAX_CATCH_UP):
            if not _due(s, now):
                break
            _fire(state, now, s)
            fired += 1
    return fired


def _fire(state: ServerState, now: int, s: ScheduleRecord) -> None:
    tick = s.next_run_at
    promise_id = s.promise_id.replace("{{.id}}", s.id).replace("{{.timestamp}}", str(tick))
    tags = {**_tags(s), tag.SCHEDULE: s.id}
    for name in (tag.ORIGIN, tag.BRANCH, tag.PARENT, tag.PREFIX):
        tags[name] = promise_id
    state.promise_create(now, None, {"id": promise_id, "timeoutAt": tick + s.promise_timeout,
                                     "param": s.promise_param, "tags": tags})
    s.last_run_at = tick
    try:
        s.next_run_at = next_run(parse(s.cron), tick)
    except CronError:  # validated on create; never expected
        s.next_run_at = tick + 60_000


def schedule_due(s: ScheduleStub, now: int) -> bool:
    """Whether ``s`` has a tick due at ``now`` (the state touches it before firing)."""
    return _due(s, now)


def _due(s: ScheduleStub, now: int) -> bool:
    return isinstance(s, ScheduleRecord) and 0 < s.next_run_at <= now


def _tags(s: ScheduleStub) -> dict[str, str]:
    return s.promise_tags if isinstance(s.promise_tags, dict) else {}


def _ok(req: Request) -> FlatResponse:
    return {"kind": req["kind"], "corrId": req.get("corrId"), "status": 200}


def _error(req: Request, status: int, message: str) -> FlatResponse:
    return {"kind": req["kind"], "corrId": req.get("corrId"), "status": status, "error": message}
