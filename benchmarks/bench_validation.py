"""Cost of request validation in the engine: ``python benchmarks/bench_validation.py``.

Replays the requests an SDK flow sends (task.create, task.fence, heartbeat,
task.suspend, acquire, fulfill, listener; nine per flow) through
``Engine.serve`` in memory, with validation on and off (the checks table
emptied), in alternating rounds, and prints the best microseconds per request
of each, the difference, and validate() alone. End to end a request also pays
HTTP, JSON and delivery (see bench_server.py's "server busy" figure), so the
share of validation there is smaller than the share printed here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resonate_rpc_cli.server import validation
from resonate_rpc_cli.server.engine import Engine

FLOWS = 2_000
ROUNDS = 5
FAR = 10**13


def flow_requests(i: int) -> list[dict[str, Any]]:
    """The requests of one two-step flow, as SDK 0.8.1 sends them (flattened)."""
    r, c = f"root{i}", f"root{i}:1"
    head = {"corrId": "x", "version": "2026-04-01"}
    tags = {"resonate:target": "poll://any@g", "resonate:origin": r, "resonate:branch": r}
    ctags = {"resonate:target": "poll://any@h", "resonate:origin": r, "resonate:parent": r,
             "resonate:branch": c}
    value = {"headers": {}, "data": "e30="}
    return [
        {"kind": "task.create", "pid": "w", "ttl": 60_000, "action": {
            "kind": "promise.create", "head": head,
            "data": {"id": r, "timeoutAt": FAR, "param": value, "tags": tags}}},
        {"kind": "task.fence", "id": r, "version": 1, "action": {
            "kind": "promise.create", "head": head,
            "data": {"id": c, "timeoutAt": FAR, "param": value, "tags": ctags}}},
        {"kind": "task.heartbeat", "pid": "w", "tasks": [{"id": r, "version": 1}]},
        {"kind": "task.suspend", "id": r, "version": 1, "actions": [
            {"kind": "promise.register_callback", "head": head,
             "data": {"awaited": c, "awaiter": r}}]},
        {"kind": "task.acquire", "id": c, "version": 0, "pid": "w2", "ttl": 60_000},
        {"kind": "task.fulfill", "id": c, "version": 1, "action": {
            "kind": "promise.settle", "head": head,
            "data": {"id": c, "state": "resolved", "value": value}}},
        {"kind": "task.acquire", "id": r, "version": 1, "pid": "w", "ttl": 60_000},
        {"kind": "task.fulfill", "id": r, "version": 2, "action": {
            "kind": "promise.settle", "head": head,
            "data": {"id": r, "state": "resolved", "value": value}}},
        {"kind": "promise.register_listener", "awaited": r, "address": "poll://uni@gw/gw"},
    ]


def per_request_us(requests: list[list[dict[str, Any]]]) -> float:
    engine = Engine()
    started = time.perf_counter()
    for i, reqs in enumerate(requests):
        for req in reqs:
            resp, _ = engine.serve(req, 1_000 + i)  # as the server serves it (fast path)
            if resp["head"]["status"] >= 400:
                raise SystemExit(f"refused: {req} -> {resp}")
    return (time.perf_counter() - started) / sum(map(len, requests)) * 1e6


def main() -> None:
    requests = [flow_requests(i) for i in range(FLOWS)]
    checks = dict(validation.CHECKS)
    on, off = [], []
    for _ in range(ROUNDS):
        validation.CHECKS.update(checks)
        on.append(per_request_us(requests))
        validation.CHECKS.clear()
        off.append(per_request_us(requests))
    validation.CHECKS.update(checks)
    engine = Engine()
    for req in requests[0][:6]:
        engine.serve(req, 1)
    fulfill = requests[0][7]
    started = time.perf_counter()
    for _ in range(100_000):
        validation.validate(engine.state, fulfill)
    alone = (time.perf_counter() - started) / 100_000 * 1e6
    best_on, best_off = min(on), min(off)
    print(f"Engine.serve, SDK flow requests ({FLOWS} flows x 9, best of {ROUNDS} rounds)")
    print(f"  with validation     {best_on:7.1f} us/request")
    print(f"  without validation  {best_off:7.1f} us/request")
    print(f"  validation costs    {best_on - best_off:7.1f} us/request "
          f"({(best_on - best_off) / best_off:.1%} of the engine's time)")
    print(f"  validate(task.fulfill) alone {alone:.2f} us")


if __name__ == "__main__":
    main()
