"""After a restart, leases get a full TTL: an outage alone must not take a live holder's task."""

from __future__ import annotations

from pathlib import Path

from resonate_rpc_cli.server.engine import Engine
from resonate_rpc_cli.server.store import Store


def _engine_with_a_lease(path: Path) -> Engine:
    engine = Engine(store=Store.open(path))
    resp, _ = engine.apply({"kind": "promise.create", "id": "p", "timeoutAt": 10**12,
                            "tags": {"resonate:target": "poll://any@g"}}, now=0)
    assert resp["status"] == 201
    resp, _ = engine.apply({"kind": "task.acquire", "id": "p", "version": 0, "pid": "w1",
                            "ttl": 1000}, now=10)
    assert resp["status"] == 200
    return engine


def test_a_lease_that_lapsed_while_the_server_was_down_gets_a_full_ttl(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _engine_with_a_lease(path).store.close()  # type: ignore[union-attr]  # "kill -9"
    restarted = Engine.load(Store.open(path))
    assert restarted.restart_grace(now=5_000) == 1
    restarted.tick(now=5_500)
    task = restarted.state.tasks["p"]
    assert (task.state, task.pid) == ("acquired", "w1"), "the outage took the lease"
    restarted.tick(now=6_001)  # no heartbeat within the TTL after the restart: released
    assert (restarted.state.tasks["p"].state, restarted.state.tasks["p"].version) == ("pending", 1)
    restarted.close()


def test_the_grace_is_persisted(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _engine_with_a_lease(path).store.close()  # type: ignore[union-attr]
    restarted = Engine.load(Store.open(path))
    restarted.restart_grace(now=5_000)
    assert restarted.store is not None
    restarted.store.close()
    again = Engine.load(Store.open(path))
    again.tick(now=5_500)  # the persisted grace still holds the lease
    assert again.state.tasks["p"].state == "acquired"
    again.close()
