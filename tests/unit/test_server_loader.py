"""A restarted engine serves before it has read its store, and answers as if it had."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from resonate_rpc_cli.server.engine import Engine
from resonate_rpc_cli.server.store import Store
from tests.unit.test_server_store_replay import crash_copy, encoded, random_request, run_workload


def search_all(engine: Engine, kind: str) -> list[object]:
    """Every page of a search (``promise.search`` or ``task.search``), in order."""
    out: list[object] = []
    cursor = None
    while True:
        req = {"kind": kind, "limit": 7, **({"cursor": cursor} if cursor else {})}
        resp, _ = engine.apply(req, 1)
        out.extend(resp["promises" if kind == "promise.search" else "tasks"])
        cursor = resp.get("cursor")
        if cursor is None:
            return out


def messages(out: list[object]) -> list[object]:
    return [(m.address, m.message) for m in out]  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", [2, 41])
def test_requests_while_loading_answer_as_after_a_full_load(tmp_path: Path, seed: int) -> None:
    """The same requests, after a crash, to an engine that read everything first and to one
    that reads a few rows between requests (the rest by id when a request needs them):
    same answers, same messages, same state, same store, same searches and counts.
    (No ticks while loading: a timeout fires once its record is read, see the last test.)"""
    live = Engine(store=Store.open(tmp_path / "s.sqlite"))
    now = run_workload(live, seed, steps=1200)
    live.close()
    full = Engine.load(Store.open(crash_copy(tmp_path / "s.sqlite", tmp_path / "a")))
    full.restart_grace(now)
    lazy = Engine.open(Store.open(crash_copy(tmp_path / "s.sqlite", tmp_path / "b")),
                       page=2, clock=lambda: now)
    assert len(lazy.state.promises) == 0 and lazy.loading
    rng = random.Random(seed + 1)
    for step in range(600):
        now += rng.randint(0, 40)
        req = random_request(rng, sorted(full.state.promises), now)
        if rng.random() < 0.2:  # a record the loader has not reached yet, by id
            req = {"kind": rng.choice(["promise.get", "task.get"]),
                   "id": rng.choice(sorted(full.state.promises))}
        assert lazy.apply(req, now) == full.apply(req, now), (step, req)
        if step % 4 == 0:
            lazy.load_step()
    assert lazy.loading, "the workload should end before the loader does"
    assert lazy.counts() == full.counts()  # finishes loading first
    assert not lazy.loading
    assert messages(lazy.tick(now + 10_000)) == messages(full.tick(now + 10_000))
    assert lazy.release("w1", now) == full.release("w1", now)
    assert encoded(lazy) == encoded(full)
    assert search_all(lazy, "promise.search") == search_all(full, "promise.search")
    assert search_all(lazy, "task.search") == search_all(full, "task.search")
    assert lazy.state.census.live_tasks == full.state.census.live_tasks
    assert lazy.state.referenced() == full.state.referenced()
    lazy.close()
    full.close()
    again = [Engine.load(Store.open(tmp_path / d / "s.sqlite")) for d in ("a", "b")]
    assert encoded(again[0]) == encoded(again[1])
    for engine in again:
        engine.close()


def test_a_search_waits_for_every_record(tmp_path: Path) -> None:
    live = Engine(store=Store.open(tmp_path / "s.sqlite"))
    for i in range(50):
        pid = f"p.{i:02}" if i else "p"
        assert live.apply({"kind": "promise.create", "id": pid, "timeoutAt": 10**12,
                           "tags": {"resonate:origin": "p"}}, 1)[0]["status"] == 201
        assert live.apply({"kind": "promise.settle", "id": pid, "state": "resolved"},
                          2)[0]["status"] == 200
    live.close()
    lazy = Engine.open(Store.open(tmp_path / "s.sqlite"), page=4)
    got, _ = lazy.apply({"kind": "promise.get", "id": "p.37"}, 3)
    promise = got.get("promise")
    assert got["status"] == 200 and promise is not None and promise["state"] == "resolved"
    again, _ = lazy.apply({"kind": "promise.create", "id": "p.41", "timeoutAt": 10**12,
                           "tags": {"resonate:origin": "p"}}, 3)
    promise = again.get("promise")
    assert again["status"] == 200 and promise is not None \
        and promise["state"] == "resolved"  # not a new one
    assert lazy.loading and len(lazy.state.promises) == 2
    resp, _ = lazy.apply({"kind": "promise.search", "tags": {"resonate:origin": "p"},
                          "limit": 100}, 3)
    assert [p["id"] for p in resp["promises"]] == ["p"] + [f"p.{i:02}" for i in range(1, 50)]
    assert not lazy.loading and lazy.counts() == {"resolved": 50}
    lazy.close()


def test_an_acquired_task_gets_its_grace_when_it_is_read(tmp_path: Path) -> None:
    live = Engine(store=Store.open(tmp_path / "s.sqlite"))
    live.apply({"kind": "promise.create", "id": "t", "timeoutAt": 10**12,
                "tags": {"resonate:target": "poll://any@g"}}, 1)
    live.apply({"kind": "task.acquire", "id": "t", "version": 0, "pid": "w", "ttl": 100}, 2)
    live.close()
    lazy = Engine.open(Store.open(tmp_path / "s.sqlite"), clock=lambda: 5_000)
    assert lazy.tick(4_000) == []  # not read yet: nothing fires
    lazy.finish_loading()
    assert lazy.state.t_timeout("t") == (1, 5_100)  # 2 + 100 lapsed while down: a full TTL
    assert lazy.tick(5_050) == []
    lazy.close()
    reloaded = Engine.load(Store.open(tmp_path / "s.sqlite"))
    assert reloaded.state.t_timeout("t") == (1, 5_100)
    reloaded.close()
