"""``promise.search``, ``task.search`` and ``task.get`` with the real server's shapes.

:class:`ServerState` has none of them. Searches stay cheap with thousands of
promises because :class:`SearchIndex` keeps promise ids sorted (results are
ordered by id, and a cursor is the last id of a page) and keeps one sorted id
list per ``resonate:origin`` tag value (one call tree). The state keeps it up
to date as promises are created and (by retention) dropped.

Every function raises :class:`resonate.error.ServerError` (400) for a request
whose fields have the wrong type or value; the caller turns that into an
error envelope.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from typing import cast

from resonate.connections.local import DurablePromise, ServerState, Task
from resonate.error import ServerError

from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.server.request import PromiseSearch, TaskGet, TaskSearch
from resonate_rpc_cli.server.response import FlatResponse, PromiseRow, TaskRow
from resonate_rpc_cli.server.sortedids import SortedIds

ORIGIN_TAG = tag.ORIGIN
PROMISE_STATES = frozenset(
    {"pending", "resolved", "rejected", "rejected_canceled", "rejected_timedout"}
)
TASK_STATES = frozenset({"pending", "acquired", "suspended", "halted", "fulfilled"})
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class SearchIndex:
    """Sorted promise ids, overall and per ``resonate:origin`` (one call tree).

    The state calls :meth:`add` for every promise it creates and :meth:`remove`
    for every promise retention drops; a promise's tags never change.
    """

    def __init__(self) -> None:
        self.ids = SortedIds()
        self.by_origin: dict[str, list[str]] = {}

    def add(self, pid: str, origin: str | None) -> None:
        self.ids.add(pid)
        if origin is not None:
            members = self.by_origin.setdefault(origin, [])
            if not members or members[-1] < pid:
                members.append(pid)
            else:
                bisect.insort(members, pid)

    def remove(self, pid: str, origin: str | None) -> None:
        self.ids.remove(pid)
        members = self.by_origin.get(origin) if origin is not None else None
        if members is not None:
            i = bisect.bisect_left(members, pid)
            if i < len(members) and members[i] == pid:
                del members[i]
            if not members:
                del self.by_origin[origin]  # type: ignore[arg-type]

    def origin_ids(self, origin: str) -> list[str]:
        """The ids of one call tree, sorted (empty if none)."""
        return self.by_origin.get(origin, [])


def promise_search(
    state: ServerState, index: SearchIndex, corr_id: object, req: PromiseSearch
) -> FlatResponse:
    """``{state?, tags?, limit?, cursor?}`` → ``{promises: [...], cursor?}``, ordered by id."""
    want_state = _opt_choice(req, "state", PROMISE_STATES)
    tags = _opt_tags(req)
    limit = _limit(req)
    cursor = _opt_str(req, "cursor")
    ids: Iterator[str] = (
        _after(index.origin_ids(tags[ORIGIN_TAG]), cursor) if ORIGIN_TAG in tags
        else index.ids.after(cursor)
    )

    def matches(p: DurablePromise) -> bool:
        if want_state is not None and p.state != want_state:
            return False
        return all(p.tags.get(k) == v for k, v in tags.items())

    page, more = _page(ids, limit, state.promises, matches)
    resp: FlatResponse = {
        "kind": "promise.search",
        "corrId": corr_id,
        "status": 200,
        "promises": cast(list[PromiseRow], [p.to_record() for p in page]),
    }
    if more:
        resp["cursor"] = page[-1].id
    return resp


def task_search(
    state: ServerState, index: SearchIndex, corr_id: object, req: TaskSearch
) -> FlatResponse:
    """``{state?, limit?, cursor?}`` → ``{tasks: [...], cursor?}``, ordered by id.

    A task has the id of its promise, so the sorted promise ids order tasks too.
    """
    want_state = _opt_choice(req, "state", TASK_STATES)
    limit = _limit(req)
    cursor = _opt_str(req, "cursor")
    def matches(t: Task) -> bool:
        return want_state is None or t.state == want_state

    page, more = _page(index.ids.after(cursor), limit, state.tasks, matches)
    resp: FlatResponse = {
        "kind": "task.search",
        "corrId": corr_id,
        "status": 200,
        "tasks": [task_record(t) for t in page],
    }
    if more:
        resp["cursor"] = page[-1].id
    return resp


def task_get(state: ServerState, corr_id: object, req: TaskGet) -> FlatResponse:
    """``{id}`` → ``{task}`` or 404."""
    task_id = req.get("id")
    if not isinstance(task_id, str) or not task_id:
        raise ServerError(400, "missing or empty required field: id")
    t = state.tasks.get(task_id)
    if t is None:
        return {
            "kind": "task.get",
            "corrId": corr_id,
            "status": 404,
            "error": f"task {task_id} not found",
        }
    return {"kind": "task.get", "corrId": corr_id, "status": 200, "task": task_record(t)}


def task_record(t: Task) -> TaskRow:
    """A task as ``task.search``/``task.get`` answer it (``src/types.rs`` ``TaskRecord``):
    ``{id, state, version, resumes, ttl?, pid?}``; ``resumes`` is a count."""
    rec: TaskRow = {
        "id": t.id,
        "state": t.state,
        "version": t.version,
        "resumes": len(t.resumes),
    }
    if t.state == "acquired":
        if t.ttl is not None:
            rec["ttl"] = t.ttl
        if t.pid is not None:
            rec["pid"] = t.pid
    return rec


def _page[T](
    ids: Iterable[str],
    limit: int,
    records: dict[str, T],
    matches: Callable[[T], bool],
) -> tuple[list[T], bool]:
    """Up to ``limit`` matching items of ``ids``, and whether more follow.

    Reads with ``dict.get`` so that a search never counts as touching a record.
    """
    page: list[T] = []
    for pid in ids:
        item = dict.get(records, pid)
        if item is None or not matches(item):
            continue
        if len(page) == limit:
            return page, True
        page.append(item)
    return page, False


def _after(ids: list[str], cursor: str | None) -> Iterator[str]:
    start = bisect.bisect_right(ids, cursor) if cursor is not None else 0
    return iter(ids[start:])


def _opt_str(req: PromiseSearch | TaskSearch, key: str) -> str | None:
    value = req.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ServerError(400, f"field {key} must be a string")
    return value


def _opt_choice(req: PromiseSearch | TaskSearch, key: str, choices: frozenset[str]) -> str | None:
    value = _opt_str(req, key)
    if value is not None and value not in choices:
        raise ServerError(400, f"field {key} must be one of {', '.join(sorted(choices))}")
    return value


def _opt_tags(req: PromiseSearch) -> dict[str, str]:
    tags = req.get("tags")
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise ServerError(400, "field tags must be an object of strings")
    return tags


def _limit(req: PromiseSearch | TaskSearch) -> int:
    value = req.get("limit")
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ServerError(400, f"field limit must be an integer in 1..{MAX_LIMIT}")
    return value
