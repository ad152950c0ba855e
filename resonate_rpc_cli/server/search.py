"""``promise.search``, ``task.search`` and ``task.get`` with the real server's shapes.

:class:`ServerState` has none of them. Searches stay cheap with thousands of
promises because :class:`SearchIndex` keeps promise ids sorted (results are
ordered by id, and a cursor is the last id of a page) and keeps one sorted id
list per ``resonate:origin`` tag value (one call tree). Promises are never
deleted and their tags never change, so the index only grows.

Every function raises :class:`resonate.error.ServerError` (400) for a request
whose fields have the wrong type or value; the caller turns that into an
error envelope.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from typing import Any

from resonate.connections.local import DurablePromise, ServerState, Task
from resonate.error import ServerError

from resonate_rpc_cli.contracts import tags as tag

PROMISE_STATES = frozenset(
    {"pending", "resolved", "rejected", "rejected_canceled", "rejected_timedout"}
)
TASK_STATES = frozenset({"pending", "acquired", "suspended", "halted", "fulfilled"})
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class SearchIndex:
    """Sorted promise ids, overall and per ``resonate:origin``; call :meth:`sync` after changes."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.by_origin: dict[str, list[str]] = {}
        self._seen = 0

    def sync(self, promises: dict[str, DurablePromise]) -> None:
        """Index promises added since the last call (dicts keep insertion order)."""
        added = len(promises) - self._seen
        if added <= 0:
            return
        for pid in itertools.islice(reversed(promises), added):
            bisect.insort(self.ids, pid)
            origin = promises[pid].tags.get(tag.ORIGIN)
            if origin is not None:
                bisect.insort(self.by_origin.setdefault(origin, []), pid)
        self._seen = len(promises)


def promise_search(
    state: ServerState, index: SearchIndex, corr_id: Any, req: dict[str, Any]
) -> dict[str, Any]:
    """``{state?, tags?, limit?, cursor?}`` → ``{promises: [...], cursor?}``, ordered by id."""
    want_state = _opt_choice(req, "state", PROMISE_STATES)
    tags = _opt_tags(req)
    limit = _limit(req)
    cursor = _opt_str(req, "cursor")
    index.sync(state.promises)
    ids = index.by_origin.get(tags[tag.ORIGIN], []) if tag.ORIGIN in tags else index.ids

    def matches(p: DurablePromise) -> bool:
        if want_state is not None and p.state != want_state:
            return False
        return all(p.tags.get(k) == v for k, v in tags.items())

    page, more = _page(ids, cursor, limit, state.promises.get, matches)
    resp: dict[str, Any] = {
        "kind": "promise.search",
        "corrId": corr_id,
        "status": 200,
        "promises": [p.to_record() for p in page],
    }
    if more:
        resp["cursor"] = page[-1].id
    return resp


def task_search(
    state: ServerState, index: SearchIndex, corr_id: Any, req: dict[str, Any]
) -> dict[str, Any]:
    """``{state?, limit?, cursor?}`` → ``{tasks: [...], cursor?}``, ordered by id.

    A task has the id of its promise, so the sorted promise ids order tasks too.
    """
    want_state = _opt_choice(req, "state", TASK_STATES)
    limit = _limit(req)
    cursor = _opt_str(req, "cursor")
    index.sync(state.promises)
    ids = index.ids

    def matches(t: Task) -> bool:
        return want_state is None or t.state == want_state

    page, more = _page(ids, cursor, limit, state.tasks.get, matches)
    resp: dict[str, Any] = {
        "kind": "task.search",
        "corrId": corr_id,
        "status": 200,
        "tasks": [task_record(t) for t in page],
    }
    if more:
        resp["cursor"] = page[-1].id
    return resp


def task_get(state: ServerState, corr_id: Any, req: dict[str, Any]) -> dict[str, Any]:
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


def task_record(t: Task) -> dict[str, Any]:
    """``{id, state, version, resumes, ttl?, pid?}``; ``resumes`` is a count."""
    rec: dict[str, Any] = {
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
    ids: list[str],
    cursor: str | None,
    limit: int,
    lookup: Callable[[str], T | None],
    matches: Callable[[T], bool],
) -> tuple[list[T], bool]:
    """Up to ``limit`` matching items after ``cursor``, and whether more follow."""
    start = bisect.bisect_right(ids, cursor) if cursor is not None else 0
    page: list[T] = []
    for i in range(start, len(ids)):
        item = lookup(ids[i])
        if item is None or not matches(item):
            continue
        if len(page) == limit:
            return page, True
        page.append(item)
    return page, False


def _opt_str(req: dict[str, Any], key: str) -> str | None:
    value = req.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ServerError(400, f"field {key} must be a string")
    return value


def _opt_choice(req: dict[str, Any], key: str, choices: frozenset[str]) -> str | None:
    value = _opt_str(req, key)
    if value is not None and value not in choices:
        raise ServerError(400, f"field {key} must be one of {', '.join(sorted(choices))}")
    return value


def _opt_tags(req: dict[str, Any]) -> dict[str, str]:
    tags = req.get("tags")
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise ServerError(400, "field tags must be an object of strings")
    return tags


def _limit(req: dict[str, Any]) -> int:
    value = req.get("limit")
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ServerError(400, f"field limit must be an integer in 1..{MAX_LIMIT}")
    return value
