"""Retention drops whole settled call trees, never anything pending or still referred to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resonate_rpc_cli.server.engine import Engine
from resonate_rpc_cli.server.store import Store

TARGET = "poll://any@g"


def create(engine: Engine, pid: str, origin: str, now: int, target: bool = False) -> None:
    tags = {"resonate:origin": origin, "resonate:branch": origin, "resonate:parent": origin}
    if target:
        tags["resonate:target"] = TARGET
    resp, _ = engine.apply({"kind": "promise.create", "id": pid, "timeoutAt": 10**12,
                            "tags": tags}, now)
    assert resp["status"] == 201, resp


def settle(engine: Engine, pid: str, now: int) -> None:
    resp, _ = engine.apply({"kind": "promise.settle", "id": pid, "state": "resolved",
                            "value": {"v": 1}}, now)
    assert resp["status"] == 200, resp


def tree(engine: Engine, root: str, now: int, settled: bool = True) -> None:
    create(engine, root, root, now, target=True)
    for i in range(1, 4):
        create(engine, f"{root}.{i}", root, now)
    if settled:
        for pid in [f"{root}.{i}" for i in range(1, 4)] + [root]:
            settle(engine, pid, now + 10)


def gc(engine: Engine, older_than_ms: int, now: int, dry_run: bool = False) -> Any:
    return engine.collect(older_than_ms, 10_000, engine.state.referenced(), dry_run, now=now)


def test_only_trees_settled_before_the_horizon_go(tmp_path: Path) -> None:
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    tree(engine, "old", 1_000)
    tree(engine, "new", 50_000)
    tree(engine, "open", 1_000, settled=False)
    create(engine, "half", "half", 1_000)
    create(engine, "half.1", "half", 1_000)
    settle(engine, "half.1", 1_000)  # one settled, its root pending: the tree stays
    dry = gc(engine, 10_000, now=60_000, dry_run=True)
    assert (dry.trees, dry.promises, dry.tasks) == (1, 4, 1) and dry.bytes > 0
    assert len(engine.state.promises) == 14, "a dry run drops nothing"

    done = gc(engine, 10_000, now=60_000)
    assert (done.trees, done.promises, done.tasks, done.bytes) == (
        dry.trees, dry.promises, dry.tasks, dry.bytes)
    assert not any(pid.startswith("old") for pid in engine.state.promises)
    assert {"new", "open", "half", "half.1"} <= set(engine.state.promises)
    assert engine.counts() == {"pending": 5, "resolved": 5}
    engine.close()
    reloaded = Engine.load(Store.open(tmp_path / "s.sqlite"))
    assert set(reloaded.state.promises) == set(engine.state.promises)
    assert reloaded.counts() == {"pending": 5, "resolved": 5}
    assert "old" not in reloaded.state.tasks
    reloaded.close()


def test_a_tree_a_live_task_refers_to_stays_until_it_does_not(tmp_path: Path) -> None:
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    create(engine, "waiter", "waiter", 1_000, target=True)
    resp, _ = engine.apply({"kind": "task.acquire", "id": "waiter", "version": 0, "pid": "w",
                            "ttl": 10**9}, 1_000)
    assert resp["status"] == 200
    tree(engine, "dep", 1_000)
    # the server allows awaiting only within a tree; a reference across trees (in
    # a live task's resumes) must still keep the tree it names
    task = engine.state.tasks.get("waiter")
    assert task is not None
    task.resumes = {"dep"}
    engine.state.end_op()
    assert gc(engine, 10, now=90_000).trees == 0
    assert "dep" in engine.state.promises
    task.resumes = set()
    assert gc(engine, 10, now=90_000).trees == 1
    assert set(engine.state.promises) == {"waiter"}, "the pending tree stays"
    engine.close()


def test_a_collected_id_starts_afresh(tmp_path: Path) -> None:
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    tree(engine, "flow", 1_000)
    assert gc(engine, 1_000, now=10_000).promises == 4
    resp, _ = engine.apply({"kind": "promise.create", "id": "flow", "timeoutAt": 10**12,
                            "tags": {"resonate:target": TARGET}}, 10_001)
    promise = resp.get("promise")
    assert resp["status"] == 201 and promise is not None and promise["state"] == "pending"
    engine.close()


def test_collection_goes_in_batches(tmp_path: Path) -> None:
    engine = Engine()
    for i in range(25):
        tree(engine, f"t{i:02d}", 1_000)
    refs = engine.state.referenced()
    first = engine.collect(10, 10, refs, now=5_000)
    assert first.trees == 10 and first.more
    rest = engine.collect(10, 100, refs, now=5_000)
    assert rest.trees == 15 and not rest.more
    assert engine.state.promises == {} and engine.counts() == {}
