"""The transition journal records every granted lease, every task transition and every
settlement, in order, from the engine's own operations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from resonate_rpc_cli.server.engine import Engine

TARGET = {"resonate:target": "poll://any@g"}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in path.read_text().splitlines()]


def test_leases_transitions_and_settlements_are_journaled(tmp_path: Path) -> None:
    path = tmp_path / "run" / "transitions.jsonl"
    engine = Engine()
    engine.keep_journal(path)
    engine.apply({"kind": "promise.create", "id": "t", "timeoutAt": 10**12, "tags": TARGET}, 1)
    acquire = {"kind": "task.acquire", "id": "t", "version": 0, "pid": "a", "ttl": 100}
    assert engine.apply(acquire, 2)[0]["status"] == 200
    assert engine.apply(acquire, 3)[0]["status"] == 409  # refused: no grant, no change
    engine.tick(200)  # a's lease lapses
    assert engine.apply({**acquire, "version": 1, "pid": "b"}, 201)[0]["status"] == 200
    settle = {"kind": "task.fulfill", "id": "t", "version": 2,
              "action": {"id": "t", "state": "resolved", "value": {"data": "MQ=="}}}
    assert engine.apply(settle, 202)[0]["status"] == 200
    engine.apply({"kind": "promise.settle", "id": "t", "state": "rejected"}, 203)  # no change
    engine.close()

    got = [{k: v for k, v in e.items() if k != "t"} for e in lines(path)]
    assert got == [
        {"task": "t", "version": 0, "from": None, "to": "pending", "pid": None, "was": None},
        {"task": "t", "version": 1, "from": "pending", "to": "acquired", "pid": "a",
         "was": None},
        {"task": "t", "version": 1, "pid": "a", "grant": "task.acquire"},
        {"task": "t", "version": 1, "from": "acquired", "to": "pending", "pid": None,
         "was": "a"},
        {"task": "t", "version": 2, "from": "pending", "to": "acquired", "pid": "b",
         "was": None},
        {"task": "t", "version": 2, "pid": "b", "grant": "task.acquire"},
        {"task": "t", "version": 2, "from": "acquired", "to": "fulfilled", "pid": None,
         "was": "b"},
        {"promise": "t", "from": "pending", "to": "resolved", "value": got[-1]["value"]},
    ]
    assert all(isinstance(e["t"], int) for e in lines(path))
