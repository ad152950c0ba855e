"""The durable engine: what a restart loads is exactly the state it acknowledged."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest
from resonate.connections.local import ServerState

from resonate_rpc_cli.server.engine import Engine
from resonate_rpc_cli.server.store import Store, StoreError

#: Sets (a promise's awaiters and subscribers, a task's resumes) encoded sorted: their
#: iteration order depends on the hash seed and on the order they were filled in, which a
#: reload does not repeat.
_DETERMINISTIC = msgspec.msgpack.Encoder(order="deterministic")


def canonical(s: ServerState) -> bytes:
    """The whole state, independent of dict and set order (a reload reads rows in id
    order)."""
    return _DETERMINISTIC.encode([
        sorted(s.promises.items()), sorted(s.tasks.items()), sorted(s.schedules.items()),
        sorted((pt.id, pt.timeout) for pt in s.p_timeouts),
        sorted((tt.id, tt.typ, tt.timeout) for tt in s.t_timeouts),
    ])


def encoded(engine: Engine) -> bytes:
    return canonical(engine.state)


def crash_copy(path: Path, to: Path) -> Path:
    """The store's files as a kill -9 would leave them (the database, its WAL, its redo log)."""
    to.mkdir()
    for suffix in ("", "-wal", "-log"):
        if Path(f"{path}{suffix}").exists():
            shutil.copy(f"{path}{suffix}", f"{to / path.name}{suffix}")
    return to / path.name


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
        {"kind": "task.heartbeat", "pid": worker, "tasks": [{"id": pid, "version": 1},
                                                            {"id": other}]},
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


def run_workload(engine: Engine, seed: int, steps: int = 1500) -> int:
    rng = random.Random(seed)
    now = 1_000_000
    for step in range(steps):
        now += rng.randint(0, 40)
        engine.apply(random_request(rng, list(engine.state.promises), now), now)
        if step % 10 == 0:
            engine.tick(now)
        if step % 97 == 0:
            engine.release(rng.choice(["w1", "w2"]), now)
    return now


@pytest.mark.parametrize("seed", [1, 37])
def test_a_restart_after_a_crash_loads_the_same_state(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "store.sqlite"
    live = Engine(store=Store.open(path))
    run_workload(live, seed)
    states = {p.state for p in live.state.promises.values()}
    assert len(live.state.promises) > 100 and {"pending", "resolved"} <= states, states
    assert {t.state for t in live.state.tasks.values()} >= {"pending", "fulfilled"}

    crashed = crash_copy(path, tmp_path / "crash")  # the files as kill -9 leaves them
    reloaded = Engine.load(Store.open(crashed))
    # a heartbeat's new lease expiry is not written: every restart gives each lease a
    # full TTL from then (restart_grace), later than any expiry set before it
    now = max(live.state.t_timeout(t)[1] for t in live.state.tasks  # type: ignore[index]
              if live.state.t_timeout(t) is not None)
    assert live.restart_grace(now) > 0
    reloaded.restart_grace(now)
    assert encoded(reloaded) == encoded(live)
    assert reloaded.counts() == live.counts()
    assert reloaded.counts() == {k: v for k, v in sorted(
        __import__("collections").Counter(p.state for p in live.state.promises.values()).items())}
    reloaded.close()
    live.close()
    again = Engine.load(Store.open(path))  # after a clean close
    assert encoded(again) == encoded(live)
    again.close()


def test_reads_and_quiet_ticks_write_nothing(tmp_path: Path) -> None:
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    engine.apply({"kind": "promise.create", "id": "a", "timeoutAt": 10**12}, 1)
    assert engine.store is not None
    written = engine.store.bytes_written
    engine.apply({"kind": "promise.get", "id": "a"}, 2)
    engine.apply({"kind": "promise.search"}, 2)
    engine.apply({"kind": "task.search"}, 2)
    engine.apply({"kind": "task.get", "id": "a"}, 2)
    engine.tick(3)
    assert engine.store.bytes_written == written
    assert not engine.uncommitted
    engine.close()


def test_a_request_writes_only_the_records_it_changed(tmp_path: Path) -> None:
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    for i in range(500):
        engine.apply({"kind": "promise.create", "id": f"p{i}", "timeoutAt": 10**12,
                      "tags": {"resonate:target": "poll://any@g"}}, 1)
    engine.apply({"kind": "promise.settle", "id": "p7", "state": "resolved", "value": {}}, 2,
                 defer_commit=True)
    assert engine.state.dirty == {"promises": {"p7"}, "tasks": {"p7"}, "schedules": set()}
    engine.commit()
    assert not engine.uncommitted
    engine.close()


def test_what_a_request_only_read_is_not_written_again(tmp_path: Path) -> None:
    """An acquire reads its promise, a fence checks its task: neither row is rewritten."""
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    engine.apply({"kind": "promise.create", "id": "t", "timeoutAt": 10**12,
                  "tags": {"resonate:target": "poll://any@g"}}, 1)
    engine.apply({"kind": "task.acquire", "id": "t", "version": 0, "pid": "w", "ttl": 100},
                 2, defer_commit=True)
    assert engine.state.dirty == {"promises": set(), "tasks": {"t"}, "schedules": set()}
    engine.commit()
    resp, _ = engine.apply({"kind": "task.fence", "id": "t", "version": 1, "action": {
        "kind": "promise.create", "data": {"id": "c", "timeoutAt": 10**12}}}, 3,
        defer_commit=True)
    assert resp["status"] == 200
    assert engine.state.dirty == {"promises": {"c"}, "tasks": set(), "schedules": set()}
    engine.close()


def test_a_heartbeat_writes_nothing_and_a_restart_still_honours_it(tmp_path: Path) -> None:
    """A restart gives each lease a full TTL from when it is read, so the expiry a
    heartbeat set before it need not be kept: the lease outlives the heartbeat's."""
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    engine.apply({"kind": "promise.create", "id": "t", "timeoutAt": 10**12,
                  "tags": {"resonate:target": "poll://any@g"}}, 1)
    engine.apply({"kind": "task.acquire", "id": "t", "version": 0, "pid": "w", "ttl": 1000}, 2)
    assert engine.store is not None
    written = engine.store.bytes_written
    resp, _ = engine.apply({"kind": "task.heartbeat", "pid": "w",
                            "tasks": [{"id": "t", "version": 1}]}, 900)
    assert resp["status"] == 200 and engine.state.t_timeout("t") == (1, 1900)
    assert engine.store.bytes_written == written and not engine.uncommitted
    reloaded = Engine.open(Store.open(crash_copy(tmp_path / "s.sqlite", tmp_path / "crash")),
                           clock=lambda: 950)  # restarted after the heartbeat
    reloaded.finish_loading()
    assert reloaded.tick(1900) == [] and reloaded.state.tasks["t"].state == "acquired"
    assert [m.message["kind"] for m in reloaded.tick(1951)] == ["execute"]
    reloaded.close()
    engine.close()


def test_unstorable_values_are_rejected_before_they_change_anything(tmp_path: Path) -> None:
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    resp, _ = engine.apply({"kind": "promise.create", "id": "a", "param": 2**70}, 1)
    assert resp["status"] == 400 and "a" not in engine.state.promises
    engine.close()


def test_a_store_is_used_by_one_server_only(tmp_path: Path) -> None:
    first = Store.open(tmp_path / "s.sqlite")
    with pytest.raises(StoreError, match="in use by another server"):
        Store.open(tmp_path / "s.sqlite")
    first.close()
    Store.open(tmp_path / "s.sqlite").close()


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "s.sqlite"
    bogus.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(StoreError, match="not a valid store"):
        Store.open(bogus)


def test_a_retried_acquire_is_refused_and_the_task_comes_back_after_its_ttl(
        tmp_path: Path) -> None:
    """A worker whose acquire was committed but whose response was lost (the server
    crashed) retries it after the restart: refused, as Resonate refuses it; the lease
    it never learnt of lapses after its TTL and the task's execute goes out again."""
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    engine.apply({"kind": "promise.create", "id": "t", "timeoutAt": 10**12,
                  "tags": {"resonate:target": "poll://any@g"}}, 1)
    acquire = {"kind": "task.acquire", "id": "t", "version": 0, "pid": "w", "ttl": 100}
    assert engine.apply(acquire, 2)[0]["status"] == 200
    reloaded = Engine.load(Store.open(crash_copy(tmp_path / "s.sqlite", tmp_path / "crash")))
    assert encoded(reloaded) == encoded(engine)
    engine.close()
    again, _ = reloaded.apply(acquire, 50)  # the first response was lost
    assert again["status"] == 409 and reloaded.state.tasks["t"].version == 1
    assert reloaded.tick(101) == []  # the lease still runs: 2 + 100
    out = reloaded.tick(102)
    assert [m.message for m in out] == [
        {"kind": "execute", "data": {"task": {"id": "t", "version": 1}}}]
    assert reloaded.apply({**acquire, "version": 1}, 103)[0]["task"]["version"] == 2
    reloaded.close()


def test_a_format_1_store_is_refused_in_one_line_and_left_as_it_was(tmp_path: Path) -> None:
    """Stores older than format 2 (rpcdemo 0.1.0's first week) are not read."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE log (seq INTEGER PRIMARY KEY, now INTEGER NOT NULL, req BLOB NOT NULL);"
        "INSERT INTO meta VALUES ('format', '1');")
    conn.close()
    with pytest.raises(StoreError) as info:
        Store.open(path)
    assert str(info.value) == (f"store {path} has format 1; this server reads only format 2 "
                               "(move the file aside to start with an empty store)")
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables == {"meta", "log"}
