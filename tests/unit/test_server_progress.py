"""The embedded server's task extras: lease expiry, acquire count, last change (pure Engine)."""

from __future__ import annotations

from typing import Any, cast

from resonate_rpc_cli.server.engine import Engine

TARGET = {"resonate:target": "poll://any@g", "resonate:origin": "p"}


def task(engine: Engine, now: int) -> dict[str, Any]:
    resp, _ = engine.apply({"kind": "task.search", "corrId": "s", "state": "acquired"}, now=now)
    tasks = cast(list[dict[str, Any]], resp.get("tasks", []))
    return tasks[0] if tasks else {}


def acquire(engine: Engine, now: int, version: int, pid: str) -> dict[str, Any]:
    resp, _ = engine.apply({"kind": "task.acquire", "corrId": "a", "id": "p", "version": version,
                            "pid": pid, "ttl": 5000}, now=now)
    return cast(dict[str, Any], resp)


def test_expiry_acquires_and_changes_follow_the_task() -> None:
    engine = Engine()
    engine.apply({"kind": "promise.create", "corrId": "c", "id": "p", "timeoutAt": 10**12,
                  "tags": TARGET}, now=1000)
    assert acquire(engine, 2000, 0, "n1")["status"] == 200
    rec = task(engine, 2100)
    assert rec["pid"] == "n1"
    assert rec["rpcdemo"] == {"expiresAt": 7000, "acquires": 1, "changedAt": 2000,
                              "changedBy": "task.acquire"}
    engine.apply({"kind": "task.heartbeat", "corrId": "h", "pid": "n1", "tasks": [
        {"id": "p", "version": 0}]}, now=4000)
    assert task(engine, 4100)["rpcdemo"]["expiresAt"] in (7000, 9000)  # renewed or not: exact
    engine.tick(now=20_000)  # the lease lapses: back to pending, version bumped
    resp, _ = engine.apply({"kind": "task.get", "corrId": "g", "id": "p"}, now=20_001)
    assert resp["task"]["state"] == "pending"
    assert resp["task"]["rpcdemo"] == {"expiresAt": None, "acquires": 1, "changedAt": 20_000,
                                       "changedBy": "lapse"}
    assert acquire(engine, 21_000, resp["task"]["version"], "n2")["status"] == 200
    assert task(engine, 21_001)["rpcdemo"]["acquires"] == 2


def test_a_release_by_failover_is_a_change() -> None:
    engine = Engine()
    engine.apply({"kind": "promise.create", "corrId": "c", "id": "p", "timeoutAt": 10**12,
                  "tags": TARGET}, now=1000)
    acquire(engine, 2000, 0, "n1")
    assert engine.release("n1", now=3000)[0] == ["p"]
    resp, _ = engine.apply({"kind": "task.get", "corrId": "g", "id": "p"}, now=3001)
    assert resp["task"]["rpcdemo"]["changedAt"] == 3000
    assert resp["task"]["rpcdemo"]["changedBy"] == "release"


def test_hidden_without_extras() -> None:
    engine = Engine()
    engine.progress.visible = False
    engine.apply({"kind": "promise.create", "corrId": "c", "id": "p", "timeoutAt": 10**12,
                  "tags": TARGET}, now=1000)
    acquire(engine, 2000, 0, "n1")
    assert "rpcdemo" not in task(engine, 2001)
