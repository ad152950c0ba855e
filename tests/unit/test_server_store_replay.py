"""The durable engine: replaying the command log rebuilds exactly the state it acknowledged."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from resonate_rpc_cli.server.engine import Engine, Snapshot
from resonate_rpc_cli.server.schedules import as_records
from resonate_rpc_cli.server.store import CommandLog, StoreError


def encoded(engine: Engine) -> bytes:
    s = engine.state
    return msgspec.msgpack.encode(Snapshot(
        promises=s.promises, tasks=s.tasks, schedules=as_records(s.schedules),
        p_timeouts=s.p_timeouts, t_timeouts=s.t_timeouts))


def random_request(rng: random.Random, ids: list[str], now: int) -> dict[str, Any]:
    pid = rng.choice(ids) if ids else "p0"
    other = rng.choice(ids) if ids else "p0"
    worker = rng.choice(["w1", "w2"])
    choices: list[dict[str, Any]] = [
        {"kind": "promise.create", "id": f"p{len(ids)}", "timeoutAt": now + rng.randint(50, 5000),
         "param": {"n": rng.randint(0, 9)},
         "tags": {"resonate:target": "poll://any@g", "resonate:origin": f"p{len(ids)}"}},
        {"kind": "promise.create", "id": f"p{len(ids)}", "timeoutAt": now + 10**6},
        {"kind": "promise.settle", "id": pid, "state": rng.choice(["resolved", "rejected"]),
         "value": {"v": 1}},
        {"kind": "promise.register_listener", "awaited": pid, "address": "poll://uni@c/x"},
        {"kind": "task.acquire", "id": pid, "version": 0, "pid": worker, "ttl": 300},
        {"kind": "task.release", "id": pid, "version": 0},
        {"kind": "task.fulfill", "id": pid, "version": 0,
         "action": {"kind": "promise.settle", "data": {"id": pid, "state": "resolved"}}},
        {"kind": "task.suspend", "id": pid, "version": 0,
         "actions": [{"kind": "promise.register_callback", "data": {"awaited": other,
                                                                   "awaiter": pid}}]},
        {"kind": "task.heartbeat", "pid": worker, "tasks": [{"id": pid, "version": 0}]},
        {"kind": "task.create", "pid": worker, "ttl": 200,
         "action": {"kind": "promise.create", "data": {
             "id": f"p{len(ids)}", "timeoutAt": now + 3000,
             "tags": {"resonate:target": "poll://any@g"}}}},
        {"kind": "task.fence", "id": pid, "version": 0,
         "action": {"kind": "promise.create", "data": {"id": f"p{len(ids)}c",
                                                       "timeoutAt": now + 100}}},
        {"kind": "promise.get", "id": pid},
        {"kind": "task.heartbeat", "pid": worker, "tasks": [{"id": 3}]},  # fails half-way
        {"kind": "promise.create", "id": 7},  # malformed
    ]
    return rng.choice(choices)


@pytest.mark.parametrize("snapshot_every", [1_000_000, 37])
def test_replay_after_a_crash_rebuilds_the_same_state(tmp_path: Path, snapshot_every: int) -> None:
    rng = random.Random(snapshot_every)
    path = tmp_path / "store.sqlite"
    live = Engine(store=CommandLog.open(path), snapshot_every=snapshot_every)
    now = 1_000_000
    for step in range(1500):
        now += rng.randint(0, 40)
        live.apply(random_request(rng, list(live.state.promises), now), now)
        if step % 10 == 0:
            live.tick(now)
        if step % 97 == 0:
            live.release(rng.choice(["w1", "w2"]), now)
    states = {p.state for p in live.state.promises.values()}
    assert len(live.state.promises) > 100 and {"pending", "resolved"} <= states, states
    assert {t.state for t in live.state.tasks.values()} >= {"pending", "fulfilled"}

    assert live.store is not None
    live.store.close()  # like kill -9: what is committed stays, no final snapshot
    reloaded = Engine.load(CommandLog.open(path))
    assert encoded(reloaded) == encoded(live)
    assert reloaded.store is not None and reloaded.store.last_seq == live.store.last_seq
    reloaded.close()
    again = Engine.load(CommandLog.open(path))  # from the final snapshot alone
    assert encoded(again) == encoded(live)
    assert again.store is not None and again.store.load().entries == []
    again.close()


def test_reads_are_not_logged_and_quiet_ticks_are_not_logged(tmp_path: Path) -> None:
    engine = Engine(store=CommandLog.open(tmp_path / "s.sqlite"))
    engine.apply({"kind": "promise.create", "id": "a", "timeoutAt": 10**12}, 1)
    assert engine.store is not None
    seq = engine.store.last_seq
    engine.apply({"kind": "promise.get", "id": "a"}, 2)
    engine.apply({"kind": "promise.search"}, 2)
    engine.apply({"kind": "task.search"}, 2)
    engine.tick(3)
    assert engine.store.last_seq == seq
    engine.close()


def test_unstorable_values_are_rejected_before_they_change_anything(tmp_path: Path) -> None:
    engine = Engine(store=CommandLog.open(tmp_path / "s.sqlite"))
    resp, _ = engine.apply({"kind": "promise.create", "id": "a", "param": 2**70}, 1)
    assert resp["status"] == 400 and "a" not in engine.state.promises
    engine.close()


def test_a_store_is_used_by_one_server_only(tmp_path: Path) -> None:
    first = CommandLog.open(tmp_path / "s.sqlite")
    with pytest.raises(StoreError, match="in use by another server"):
        CommandLog.open(tmp_path / "s.sqlite")
    first.close()
    CommandLog.open(tmp_path / "s.sqlite").close()


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "s.sqlite"
    bogus.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(StoreError, match="not a valid store"):
        CommandLog.open(bogus)


def test_a_retried_acquire_by_the_same_pid_gets_the_lease_again(tmp_path: Path) -> None:
    engine = Engine(store=CommandLog.open(tmp_path / "s.sqlite"))
    engine.apply({"kind": "promise.create", "id": "t", "timeoutAt": 10**12,
                  "tags": {"resonate:target": "poll://any@g"}}, 1)
    acquire = {"kind": "task.acquire", "id": "t", "version": 0, "pid": "w", "ttl": 100}
    assert engine.apply(acquire, 2)[0]["status"] == 200
    again, _ = engine.apply(acquire, 50)  # the first response was lost
    assert again["status"] == 200 and again["task"]["pid"] == "w"
    other, _ = engine.apply({**acquire, "pid": "x"}, 60)
    assert other["status"] == 409
    assert engine.tick(120) == []  # the retry refreshed the lease: 50 + 100
    assert engine.store is not None
    engine.store.close()
    reloaded = Engine.load(CommandLog.open(tmp_path / "s.sqlite"))
    assert encoded(reloaded) == encoded(engine)
    reloaded.close()
