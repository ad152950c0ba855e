"""IndexedServerState behaves exactly like LeaseServerState (the SDK's ServerState with
Resonate's lease numbering), only faster."""

from __future__ import annotations

import random
import time

import msgspec
from resonate.connections.local import DurablePromise, PTimeout, ServerState, Task, TTimeout

from resonate_rpc_cli.server.engine import release_leases
from resonate_rpc_cli.server.leases import LeaseServerState
from resonate_rpc_cli.server.state import IndexedServerState
from tests.unit.test_server_store_replay import canonical as encoded
from tests.unit.test_server_store_replay import random_request


def clone[T](value: object, typ: type[T]) -> T:
    return msgspec.msgpack.decode(msgspec.msgpack.encode(value), type=typ)


def messages(s: ServerState) -> list[tuple[str, str]]:
    out = sorted((m.address, msgspec.json.encode(m.message).decode()) for m in s.outgoing)
    s.outgoing = []
    return out


def test_same_responses_messages_and_state_on_a_random_workload() -> None:
    rng = random.Random(11)
    plain, indexed = LeaseServerState(), IndexedServerState()
    now = 1_000_000
    for step in range(3000):
        now += rng.randint(0, 40)
        req = random_request(rng, list(plain.promises), now)
        answers = []
        for s in (plain, indexed):
            try:
                answers.append(s.apply(now, req))
            except Exception as exc:
                answers.append({"raised": type(exc).__name__})
        assert answers[0] == answers[1], (step, req)
        assert messages(plain) == messages(indexed), (step, req)
        if step % 10 == 0:
            plain.tick(now)
            indexed.tick(now)
            assert messages(plain) == messages(indexed), step
        if step % 97 == 0:
            assert sorted(release_leases(plain, now, "w1")) == sorted(
                release_leases(indexed, now, "w1"))
    assert encoded(plain) == encoded(indexed)
    assert len(plain.promises) > 200


def test_restore_rebuilds_the_indexes() -> None:
    rng = random.Random(3)
    source = IndexedServerState()
    now = 1_000_000
    for _ in range(800):
        now += rng.randint(0, 40)
        try:
            source.apply(now, random_request(rng, list(source.promises), now))
        except Exception:
            pass
    copy = IndexedServerState()
    copy.restore(clone(source.promises, dict[str, DurablePromise]),
                 clone(source.tasks, dict[str, Task]), {},
                 clone(source.p_timeouts, list[PTimeout]), clone(source.t_timeouts, list[TTimeout]))
    for pid in list(source.promises)[:50]:
        assert copy.preload(pid) == source.preload(pid)
    for s in (source, copy):
        s.outgoing = []
        s.tick(now + 10**7)
    assert encoded(copy) == encoded(source)


def test_cost_per_request_does_not_grow_with_the_number_of_promises() -> None:
    def per_request(n: int) -> float:
        s = IndexedServerState()
        for i in range(n):
            s.apply(1, {"kind": "promise.create", "id": f"p{i}", "timeoutAt": 10**12,
                        "tags": {"resonate:target": "poll://any@g", "resonate:branch": f"p{i}"}})
        s.preload("p0")  # the branch index is built lazily, once
        started = time.perf_counter()
        for i in range(300):
            s.apply(2, {"kind": "task.acquire", "id": f"p{i}", "pid": "w", "ttl": 1000})
            s.apply(2, {"kind": "task.fulfill", "id": f"p{i}", "action": {
                "kind": "promise.settle", "data": {"id": f"p{i}", "state": "resolved"}}})
        return time.perf_counter() - started

    small, large = per_request(300), per_request(20_000)
    assert large < 5 * small, f"300 promises: {small:.4f}s, 20000 promises: {large:.4f}s"
