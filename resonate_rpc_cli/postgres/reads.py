"""The read side on resonate-pg: promises and tasks with read-only SQL.

resonate-pg answers 501 to ``promise.search`` and ``task.search``, so
:class:`PgReader` reads the ``resonate`` schema's tables directly, behind the
same methods as :class:`~resonate_rpc_cli.clients.protocol.ResonateClient`
(``promise_get``, ``promise_search``, ``task_search``, ``healthy``,
``info``): ``status``, ``tree``, the live view, the chaos checker and the
nemesis do not know which server they read. Records have the protocol's shape
(``PromiseRecord``: ``param``/``value`` as ``{headers, data}``, times in ms).

Reads use the schema's indexes: a call tree is ``origin_id`` (indexed),
pending promises the partial index on pending ``timeout_at``, held tasks the
partial index on pending/acquired tasks; counting by state is one scan. The
role needs ``SELECT`` on ``resonate.promises`` and ``resonate.tasks`` (the
owner has it; ``resonate_worker`` does not): a refusal is a ProtocolError 403.
Every failure is ServerUnreachable or ProtocolError (see :mod:`.db`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from resonate_rpc_cli.clients.protocol import (
    PromiseRecord,
    ProtocolError,
    ServerInfo,
    ServerUnreachable,
    TaskRecord,
)
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.postgres.db import Db, Rows
from resonate_rpc_cli.postgres.urls import describe

ORIGIN_TAG = tag.ORIGIN
PROMISE_COLUMNS = ("id, state, param_headers, param_data, value_headers, value_data, tags, "
                   "timeout_at, created_at, settled_at")
STATES = ("pending", "resolved", "rejected", "rejected_canceled", "rejected_timedout")


def promise_record(row: tuple[Any, ...]) -> PromiseRecord:
    """One ``resonate.promises`` row (in :data:`PROMISE_COLUMNS` order) as a PromiseRecord."""
    (pid, state, p_headers, p_data, v_headers, v_data, tags, timeout_at, created_at,
     settled_at) = row
    return {
        "id": pid, "state": state,
        "param": {"headers": p_headers or {}, "data": p_data},
        "value": {"headers": v_headers or {}, "data": v_data},
        "tags": tags or {}, "timeoutAt": timeout_at, "createdAt": created_at,
        "settledAt": settled_at,
    }


def task_record(row: tuple[Any, ...]) -> TaskRecord:
    """One ``resonate.tasks`` row (id, state, version, ttl, pid) as the protocol's task;
    ``ttl``/``pid`` only while it is leased."""
    tid, state, version, ttl, pid = row
    rec: TaskRecord = {"id": tid, "state": state, "version": version}
    if pid is not None:
        rec["pid"] = pid
    if ttl is not None:
        rec["ttl"] = ttl
    return rec


def promise_query(state: str | None, tags: dict[str, str] | None, cursor: str | None,
                  limit: int) -> tuple[str, list[Any]]:
    """SQL and parameters of one page of a promise search, ordered by id.

    ``state`` is an exact match; ``tags`` is containment, with the origin tag
    read from its indexed generated column.
    """
    where: list[str] = []
    params: list[Any] = []
    rest = dict(tags or {})
    origin = rest.pop(ORIGIN_TAG, None)
    if origin is not None:
        where.append("origin_id = %s")
        params.append(origin)
    if rest:
        where.append("tags @> %s::jsonb")
        params.append(json.dumps(rest))
    if state is not None:
        where.append("state = %s")
        params.append(state)
    if cursor is not None:
        where.append("id > %s")
        params.append(cursor)
    sql = f"SELECT {PROMISE_COLUMNS} FROM resonate.promises"
    if where:
        sql += " WHERE " + " AND ".join(where)
    params.append(limit)
    return sql + " ORDER BY id LIMIT %s", params


class PgReader:
    """The read interface over a resonate-pg database; holds one lazy connection."""

    def __init__(self, url: str, timeout_s: float = 5.0, db: Rows | None = None) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.db: Rows = db if db is not None else Db(url, timeout_s, read_only=True)

    def promise_get(self, promise_id: str) -> PromiseRecord | None:
        """The promise record, or ``None`` if the database does not hold it."""
        rows = self.db.rows(f"SELECT {PROMISE_COLUMNS} FROM resonate.promises WHERE id = %s",
                            (promise_id,))
        return promise_record(rows[0]) if rows else None

    def promise_search(
        self, state: str | None = None, tags: dict[str, str] | None = None,
        page_size: int = 1000, max_items: int | None = None,
    ) -> Iterator[PromiseRecord]:
        """Every promise matching ``state`` and ``tags`` (up to ``max_items``), by id."""
        cursor: str | None = None
        seen = 0
        while True:
            limit = page_size if max_items is None else min(page_size, max_items - seen)
            sql, params = promise_query(state, tags, cursor, max(1, limit))
            rows = self.db.rows(sql, params)
            for row in rows:
                yield promise_record(row)
                seen += 1
            if len(rows) < limit or (max_items is not None and seen >= max_items):
                return
            cursor = str(rows[-1][0])

    def task_search(self, state: str | None = None, page_size: int = 1000
                    ) -> list[TaskRecord]:
        """Every task (optionally in ``state``), by id."""
        sql = "SELECT id, state, version, ttl, pid FROM resonate.tasks"
        params: list[Any] = []
        if state is not None:
            sql += " WHERE state = %s"
            params.append(state)
        return [task_record(r) for r in self.db.rows(sql + " ORDER BY id", params)]

    def counts(self) -> dict[str, int]:
        """Promises per state (every state present, 0 when none)."""
        rows = self.db.rows("SELECT state, count(*) FROM resonate.promises GROUP BY state")
        found = {str(s): int(n) for s, n in rows}
        return {state: found.get(state, 0) for state in STATES}

    def healthy(self) -> bool:
        """Whether the database answers and holds the resonate schema."""
        try:
            return bool(self.db.rows("SELECT resonate.get_schema_version()"))
        except (ServerUnreachable, ProtocolError):
            return False

    def info(self) -> ServerInfo | None:
        """What ``status`` shows about the server: kind, durability, where, counts.

        ``None`` when the database cannot be read (the views then say so).
        """
        try:
            states = self.counts()
        except (ServerUnreachable, ProtocolError):
            return None
        return {"kind": "postgres", "durable": True, "store": describe(self.url),
                "promise_states": states}
