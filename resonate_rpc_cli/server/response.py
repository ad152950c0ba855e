"""The flat responses the engine answers, and the records inside them.

A flat response is what the SDK's ``ServerState`` answers (and what the kinds
added here answer in the same form): ``{kind, corrId, status}`` plus either
``error`` or the kind's data. :mod:`.wire` turns it into the Rust server's
envelope; nothing else reshapes it. The records are those of the SDK's
``to_record()`` (``DurablePromise``, ``Task``) and of
:class:`~.schedules.ScheduleRecord`, typed as they are, not converted.

:func:`promise_row` and :func:`.transitions.apply_request` type the SDK's
untyped answers where they enter (a ``cast``: no copy); the SDK's own methods
that this server overrides keep the SDK's signatures (:mod:`.leases`,
:mod:`.state`).
"""

from __future__ import annotations

from typing import NotRequired, TypedDict, cast

from resonate.connections.local import DurablePromise


class PromiseRow(TypedDict):
    """``DurablePromise.to_record()``: param/value as the SDK stores them."""

    id: str
    state: str
    param: object
    value: object
    tags: dict[str, str]
    timeoutAt: int
    createdAt: int
    settledAt: NotRequired[int]


class TaskExtras(TypedDict):
    """rpcdemo's extras on a task.search/task.get record (:mod:`.progress`)."""

    expiresAt: int | None
    acquires: int
    changedAt: int | None
    changedBy: str | None


class TaskRow(TypedDict):
    """A task: ``Task.to_record()`` (with ``promiseId``) or :func:`.search.task_record`
    (with ``resumes``, a count, and rpcdemo's extras when turned on)."""

    id: str
    state: str
    version: int
    promiseId: NotRequired[str]
    resumes: NotRequired[int]
    pid: NotRequired[str]
    ttl: NotRequired[int]
    rpcdemo: NotRequired[TaskExtras]


class ScheduleRow(TypedDict):
    """:meth:`.schedules.ScheduleRecord.to_record`."""

    id: str
    cron: str
    promiseId: str
    promiseTimeout: int
    promiseParam: object
    promiseTags: object
    createdAt: int
    nextRunAt: int
    lastRunAt: NotRequired[int | None]


class FenceResult(TypedDict):
    """A task.fence's ``action``: the fenced promise operation's own answer."""

    data: dict[str, PromiseRow | None]


class FlatResponse(TypedDict):
    """One answer: ``error`` for a status >= 400, else the fields of the kind."""

    kind: str | None
    corrId: object
    status: int
    error: NotRequired[str]
    promise: NotRequired[PromiseRow | None]
    task: NotRequired[TaskRow]
    preload: NotRequired[list[PromiseRow]]
    promises: NotRequired[list[PromiseRow]]
    tasks: NotRequired[list[TaskRow]]
    schedule: NotRequired[ScheduleRow]
    schedules: NotRequired[list[ScheduleRow]]
    cursor: NotRequired[str | None]
    action: NotRequired[FenceResult]
    redirect: NotRequired[bool]


def promise_row(p: DurablePromise) -> PromiseRow:
    """``p.to_record()``, typed (no copy)."""
    return cast(PromiseRow, p.to_record())


def error_response(kind: object, corr_id: object, status: int, message: str) -> FlatResponse:
    """A flat error response; ``kind``/``corrId`` echoed only when they are strings/scalars."""
    return {
        "kind": kind if isinstance(kind, str) else None,
        "corrId": corr_id if isinstance(corr_id, str | int) else None,
        "status": status,
        "error": message,
    }
