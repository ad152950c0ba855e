"""promise.search / task.search / task.get over an IndexedServerState (pure)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from resonate.connections.local import ServerState
from resonate.error import ServerError

from resonate_rpc_cli.server.request import PromiseSearch
from resonate_rpc_cli.server.search import SearchIndex, promise_search, task_get, task_search
from resonate_rpc_cli.server.state import IndexedServerState


def make_state(n: int) -> IndexedServerState:
    state = IndexedServerState()
    for i in range(n):
        root = f"root-{i % 3}"
        tags = {"resonate:origin": root, "resonate:target": "poll://any@g", "n": str(i % 2)}
        state.apply(1_000, {"kind": "promise.create", "corrId": "c", "id": f"p{i:03d}",
                            "timeoutAt": 10**12, "tags": tags})
    for i in range(0, n, 4):
        state.apply(1_001, {"kind": "promise.settle", "id": f"p{i:03d}", "state": "resolved"})
    return state


def search(**fields: Any) -> PromiseSearch:
    return cast(PromiseSearch, {"kind": "promise.search", **fields})


def search_all(server: ServerState, index: SearchIndex, **req: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = promise_search(server, index, "c", search(**req, **(
            {"cursor": cursor} if cursor else {})))
        ids += [p["id"] for p in page.get("promises", [])]
        cursor = page.get("cursor")
        if cursor is None:
            return ids


def test_promise_search_pages_in_id_order_with_filters() -> None:
    state = make_state(50)
    index = state.index
    assert search_all(state, index, limit=7) == sorted(state.promises)
    want = sorted(p.id for p in state.promises.values()
                  if p.tags["resonate:origin"] == "root-1" and p.state == "pending")
    assert search_all(state, index, limit=3, state="pending",
                      tags={"resonate:origin": "root-1"}) == want
    assert search_all(state, index, tags={"n": "1", "resonate:origin": "root-2"}) == sorted(
        p.id for p in state.promises.values()
        if p.tags["n"] == "1" and p.tags["resonate:origin"] == "root-2")
    assert search_all(state, index, tags={"resonate:origin": "nobody"}) == []


def test_index_follows_new_promises() -> None:
    state = make_state(5)
    index = state.index
    assert len(search_all(state, index)) == 5
    state.apply(2_000, {"kind": "promise.create", "id": "a-first", "timeoutAt": 10**12,
                        "tags": {"resonate:origin": "root-0"}})
    assert search_all(state, index, tags={"resonate:origin": "root-0"})[0] == "a-first"


def test_last_page_has_no_cursor() -> None:
    state = make_state(4)
    page = promise_search(state, state.index, "c", {"kind": "promise.search", "limit": 4})
    assert len(page.get("promises", [])) == 4 and "cursor" not in page


def test_task_search_and_get_have_the_real_servers_shape() -> None:
    state = make_state(6)
    state.apply(1_002, {"kind": "task.acquire", "id": "p001", "version": 0,
                        "pid": "w", "ttl": 5000})
    acquired = task_search(state, state.index, "c", {"kind": "task.search", "state": "acquired"})
    tasks = acquired.get("tasks", [])
    assert tasks == [{"id": "p001", "state": "acquired", "version": 1, "resumes": 0,
                      "ttl": 5000, "pid": "w"}]
    pending = task_search(state, state.index, "c",
                          {"kind": "task.search", "state": "pending", "limit": 2})
    assert [t["id"] for t in pending.get("tasks", [])] == ["p002", "p003"]
    assert pending.get("cursor") == "p003"
    got = task_get(state, "c", {"kind": "task.get", "id": "p002"}).get("task")
    assert got is not None and got["state"] == "pending"
    assert task_get(state, "c", {"kind": "task.get", "id": "zzz"})["status"] == 404


@pytest.mark.parametrize("req", [
    {"limit": 0}, {"limit": 1001}, {"limit": "5"}, {"limit": True}, {"state": "done"},
    {"state": 3}, {"tags": []}, {"tags": {"a": 1}}, {"cursor": 5},
])
def test_bad_search_requests_are_400(req: dict[str, Any]) -> None:
    with pytest.raises(ServerError) as exc:
        state = make_state(1)
        promise_search(state, state.index, "c", search(**req))
    assert exc.value.code == 400


def test_the_index_forgets_dropped_promises() -> None:
    state = make_state(9)
    for pid in ("p000", "p003", "p006"):
        state.forget(pid)
    state.end_op()
    assert search_all(state, state.index, limit=2) == sorted(state.promises)
    assert "p000" not in search_all(state, state.index, tags={"resonate:origin": "root-0"})
    assert search_all(state, state.index, tags={"resonate:origin": "root-0"}) == []
