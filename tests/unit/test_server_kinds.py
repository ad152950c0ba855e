"""promise.register_callback, task.halt and task.continue on the engine (server/kinds.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from resonate_rpc_cli.server.engine import Engine
from resonate_rpc_cli.server.store import Store

FAR = 10**12
TARGET = "poll://any@g"


def ok(engine: Engine, req: dict[str, Any], now: int = 1) -> dict[str, Any]:
    resp, _ = engine.apply(req, now)
    assert resp["status"] < 400, (req, resp)
    return cast(dict[str, Any], resp)


def with_task(engine: Engine, pid: str, worker: str = "w1") -> int:
    ok(engine, {"kind": "promise.create", "id": pid, "timeoutAt": FAR,
                "tags": {"resonate:target": TARGET}})
    t = ok(engine, {"kind": "task.acquire", "id": pid, "version": 0, "pid": worker, "ttl": 9_000})
    return int(t["task"]["version"])


def state_of(engine: Engine, task_id: str = "r") -> str:
    return engine.state.tasks[task_id].state


def settle(pid: str) -> dict[str, Any]:
    return {"kind": "promise.settle", "id": pid, "state": "resolved", "value": {}}


def test_halt_fences_out_the_holder_and_continue_hands_the_task_out_again() -> None:
    engine = Engine()
    v = with_task(engine, "r")
    ok(engine, {"kind": "task.halt", "id": "r"})
    assert state_of(engine) == "halted" and engine.state.tasks["r"].pid is None
    ok(engine, {"kind": "task.halt", "id": "r"})  # idempotent
    fulfill = {"kind": "task.fulfill", "id": "r", "version": v,
               "action": {"kind": "promise.settle", "data": {"id": "r", "state": "resolved"}}}
    assert engine.apply(fulfill, 2)[0]["status"] == 409
    assert engine.tick(10**6) == []  # a halted task is never retried

    resp, out = engine.apply({"kind": "task.continue", "id": "r"}, 3)
    assert resp["status"] == 200 and state_of(engine) == "pending"
    assert [m.message for m in out] == [
        {"kind": "execute", "data": {"task": {"id": "r", "version": v}}}]
    assert engine.apply(fulfill, 4)[0]["status"] == 409  # the old holder stays fenced out
    assert engine.apply({"kind": "task.continue", "id": "r"}, 5)[0]["status"] == 409


def test_a_callback_on_a_pending_promise_resumes_the_suspended_awaiter_when_it_settles() -> None:
    engine = Engine()
    v = with_task(engine, "r")
    ok(engine, {"kind": "promise.create", "id": "r:1", "timeoutAt": FAR})
    ok(engine, {"kind": "promise.create", "id": "r:2", "timeoutAt": FAR})
    resp = ok(engine, {"kind": "promise.register_callback", "awaited": "r:2", "awaiter": "r"})
    assert resp["promise"]["id"] == "r:2"
    ok(engine, {"kind": "task.suspend", "id": "r", "version": v, "actions": [
        {"kind": "promise.register_callback", "data": {"awaited": "r:1", "awaiter": "r"}}]})
    assert state_of(engine) == "suspended"
    _, out = engine.apply(settle("r:2"), 5)
    assert state_of(engine) == "pending" and engine.state.tasks["r"].resumes == {"r:2"}
    assert [m.message["kind"] for m in out] == ["execute"]


def test_a_callback_on_a_settled_promise_resumes_a_suspended_awaiter_at_once() -> None:
    engine = Engine()
    v = with_task(engine, "r")
    for pid in ("r:1", "r:2"):
        ok(engine, {"kind": "promise.create", "id": pid, "timeoutAt": FAR})
    ok(engine, {"kind": "task.suspend", "id": "r", "version": v, "actions": [
        {"kind": "promise.register_callback", "data": {"awaited": "r:1", "awaiter": "r"}}]})
    ok(engine, settle("r:2"))
    resp, out = engine.apply(
        {"kind": "promise.register_callback", "awaited": "r:2", "awaiter": "r"}, 6)
    promise = resp.get("promise")
    assert resp["status"] == 200 and promise is not None and promise["state"] == "resolved"
    assert state_of(engine) == "pending" and engine.state.tasks["r"].version == v
    assert [m.message["kind"] for m in out] == ["execute"]


def test_refusals_are_not_persisted(tmp_path: Path) -> None:
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    assert engine.store is not None
    written = engine.store.bytes_written
    resp, _ = engine.apply({"kind": "promise.settle", "id": "x", "state": "pending"}, 1)
    assert resp["status"] == 400 and engine.store.bytes_written == written
    assert not engine.uncommitted
    engine.close()
