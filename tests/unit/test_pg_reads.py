"""The resonate-pg read side with a fake session: queries, paging, records, failures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from resonate_rpc_cli.backends import read_client
from resonate_rpc_cli.clients.protocol import ProtocolError, ResonateClient, ServerUnreachable
from resonate_rpc_cli.contracts.connectors import HTTP, POSTGRES, connector_of
from resonate_rpc_cli.postgres.reads import PgReader, promise_query, promise_record, task_record
from resonate_rpc_cli.postgres.urls import describe, redact


def row(pid: str, state: str = "resolved", origin: str = "root") -> tuple[Any, ...]:
    tags = {"resonate:origin": origin}
    return (pid, state, {}, "eyJmdW5jIjoiZm9vIn0=", {}, None, tags, 10, 1, 2)


class FakeRows:
    """Answers queries from a list of promise rows, honouring LIMIT and the id cursor."""

    def __init__(self, promises: list[tuple[Any, ...]], fail: Exception | None = None) -> None:
        self.promises = promises
        self.fail = fail
        self.seen: list[tuple[str, list[Any]]] = []

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.seen.append((sql, list(params)))
        if self.fail is not None:
            raise self.fail
        if "GROUP BY state" in sql:
            states: dict[str, int] = {}
            for p in self.promises:
                states[p[1]] = states.get(p[1], 0) + 1
            return list(states.items())
        if "get_schema_version" in sql:
            return [("0.1.0",)]
        if "resonate.tasks" in sql:
            return [("t1", "acquired", 3, 5000, "node-1"), ("t2", "pending", 1, None, None)]
        params = list(params)
        limit = params[-1]
        cursor = params[-2] if "id > %s" in sql else None
        found = [p for p in self.promises if cursor is None or p[0] > cursor]
        return found[:limit]


def test_promise_query_uses_the_indexed_origin_column_and_the_cursor() -> None:
    sql, params = promise_query("pending", {"resonate:origin": "r", "x": "y"}, "c", 50)
    assert "origin_id = %s" in sql and "tags @> %s::jsonb" in sql and "state = %s" in sql
    assert "id > %s" in sql and sql.endswith("ORDER BY id LIMIT %s")
    assert params == ["r", '{"x": "y"}', "pending", "c", 50]
    bare, bare_params = promise_query(None, None, None, 10)
    assert "WHERE" not in bare and bare_params == [10]


def test_records_have_the_protocol_shape() -> None:
    rec = promise_record(row("a", "pending"))
    assert rec["param"] == {"headers": {}, "data": "eyJmdW5jIjoiZm9vIn0="}
    assert (rec.get("tags") or {})["resonate:origin"] == "root" and rec["state"] == "pending"
    assert (rec["timeoutAt"], rec["createdAt"], rec["settledAt"]) == (10, 1, 2)
    assert task_record(("t", "acquired", 2, 5000, "n")) == {
        "id": "t", "state": "acquired", "version": 2, "pid": "n", "ttl": 5000}
    assert task_record(("t", "pending", 2, None, None)) == {
        "id": "t", "state": "pending", "version": 2}


def test_search_pages_by_id_until_a_short_page_and_stops_at_max_items() -> None:
    fake = FakeRows([row(f"p{i:02d}") for i in range(7)])
    reader = PgReader("postgresql://u@h:1/d", db=fake)
    ids = [p["id"] for p in reader.promise_search(page_size=3)]
    assert ids == [f"p{i:02d}" for i in range(7)]
    assert len(fake.seen) == 3  # 3 + 3 + 1
    assert fake.seen[1][1][-2] == "p02"  # the second page starts after the last id
    fake.seen.clear()
    assert len(list(reader.promise_search(page_size=3, max_items=4))) == 4
    assert len(fake.seen) == 2 and fake.seen[1][1][-1] == 1  # only what is still wanted


def test_counts_info_tasks_and_get() -> None:
    fake = FakeRows([row("a"), row("b", "pending"), row("c")])
    reader = PgReader("postgresql://u:secret@h:5/db", db=fake)
    assert reader.counts() == {"pending": 1, "resolved": 2, "rejected": 0,
                               "rejected_canceled": 0, "rejected_timedout": 0}
    info = reader.info()
    assert info is not None and info["kind"] == "postgres" and info["durable"] is True
    assert info["store"] == "h:5/db" and info["promise_states"]["resolved"] == 2
    assert [t["id"] for t in reader.task_search()] == ["t1", "t2"]
    assert reader.healthy() is True


def test_failures_degrade_like_the_http_client() -> None:
    down = PgReader("postgresql://h/d", db=FakeRows([], ServerUnreachable("down")))
    assert down.healthy() is False and down.info() is None
    with pytest.raises(ServerUnreachable):
        down.promise_get("x")
    denied = PgReader("postgresql://h/d", db=FakeRows([], ProtocolError(403, "denied")))
    assert denied.healthy() is False
    with pytest.raises(ProtocolError):
        list(denied.promise_search())


def test_the_scheme_picks_the_reader_and_urls_are_shown_without_secrets() -> None:
    assert isinstance(read_client("postgresql://u@h:1/d"), PgReader)
    assert isinstance(read_client("postgres://u@h:1/d"), PgReader)
    assert isinstance(read_client("http://127.0.0.1:8001"), ResonateClient)
    assert connector_of("PostgreSQL://x") == POSTGRES and connector_of("http://x") == HTTP
    assert connector_of("ftp://x") is None
    assert redact("postgresql://u:pw@h:5/db?x=1") == "postgresql://u:***@h:5/db?x=1"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
    assert describe("postgresql://u:pw@h:5/db") == "h:5/db"
