"""The fast path (server/fastpath.py) against the SDK's ServerState, request by request.

Random flows shaped like the SDK's (roots with targets, acquires at the task's version
and stale ones, fenced child creates new and replayed, fulfills, suspends, listeners,
heartbeats, releases, outside settles, timeouts and ticks) run on three servers at once:

* the oracle: :class:`LeaseServerState` (the SDK's ``ServerState`` with Resonate's lease
  numbering) through :func:`apply_request`;
* a durable :class:`Engine` with the fast path off (every request through the SDK's
  handlers and ``end_op``);
* a durable :class:`Engine` with the fast path on.

Every request gets the same response and the same outgoing messages from all three, the
state stays the same, both engines mark the same rows dirty (the same rows written), the
fast engine's census equals one rebuilt from its records, and a restart of its store
loads the same state.
"""

from __future__ import annotations

import collections
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from resonate.connections.local import DurablePromise, PTimeout, Task, TTimeout

from resonate_rpc_cli.server import engine as engine_module
from resonate_rpc_cli.server import wire
from resonate_rpc_cli.server.engine import Engine, extend_leases
from resonate_rpc_cli.server.fastpath import fast_apply
from resonate_rpc_cli.server.leases import LeaseServerState
from resonate_rpc_cli.server.state import IndexedServerState
from resonate_rpc_cli.server.store import Store
from resonate_rpc_cli.server.transitions import apply_request
from resonate_rpc_cli.server.validation import validate
from tests.unit.test_server_store_replay import canonical, crash_copy

TARGET = "poll://any@g"
PIDS = ("w1", "w2")


def _clone[T](value: object, typ: type[T]) -> T:
    return msgspec.msgpack.decode(msgspec.msgpack.encode(value), type=typ)


def _messages(out: list[Any]) -> list[tuple[str, bytes]]:
    return sorted((m.address, msgspec.json.encode(m.message)) for m in out)


def flow_request(rng: random.Random, s: LeaseServerState, now: int, n: int) -> dict[str, Any]:
    """One request a node of an SDK flow might send next, given the oracle's state."""
    tasks = list(s.tasks.values())
    acquired = [t for t in tasks if t.state == "acquired"]
    pending = [t for t in tasks if t.state == "pending"]
    live = sum(1 for t in tasks if t.state != "fulfilled")
    kinds = {"root": 1 if live < 12 else 0.1, "listen": 0.5, "settle": 0.2,
             "acquire": 3 if pending else 0, "fence": 3 if acquired else 0,
             "fulfill": 2 if acquired else 0, "suspend": 1 if acquired else 0,
             "heartbeat": 1.5 if acquired else 0, "release": 0.3 if acquired else 0}
    pick = rng.choices(list(kinds), weights=list(kinds.values()))[0]
    t = rng.choice(acquired) if pick in ("fence", "fulfill", "suspend", "release") else None
    stale = rng.random() < 0.1
    if pick == "acquire":
        t = rng.choice(pending)
        return {"kind": "task.acquire", "corrId": f"c{n}", "id": t.id,
                "version": t.version + (rng.choice([-1, 1]) if stale else 0),
                "pid": rng.choice(PIDS), "ttl": rng.choice([50, 60_000])}
    children = [pid for pid in s.promises if t is not None and pid.startswith(t.id + ":")]
    if t is not None and pick == "fence":
        child = rng.choice(children) if children and rng.random() < 0.4 else f"{t.id}:{n}"
        tags = {"resonate:origin": t.id.split(":")[0],
                "resonate:branch": rng.choice([child, s.promises[t.id].tags["resonate:branch"]])}
        if rng.random() < 0.85:
            tags["resonate:target"] = TARGET
        data = {"id": child, "timeoutAt": now + rng.choice([30, 5_000, 10**7]),
                "param": {"data": "x"}, "tags": tags}
        return {"kind": "task.fence", "corrId": f"c{n}", "id": t.id,
                "version": t.version - stale, "action": {"kind": "promise.create", "data": data}}
    if t is not None and pick == "fulfill":
        settle = {"id": t.id, "state": rng.choice(["resolved", "rejected"]),
                  "value": {"data": str(n)}}
        return {"kind": "task.fulfill", "corrId": f"c{n}", "id": t.id,
                "version": t.version - stale,
                "action": {"kind": "promise.settle", "data": settle}}
    if t is not None and pick == "suspend" and children:
        awaited = rng.sample(children, min(len(children), rng.choice([1, 2])))
        return {"kind": "task.suspend", "corrId": f"c{n}", "id": t.id, "version": t.version,
                "actions": [{"kind": "promise.register_callback",
                             "data": {"awaited": a, "awaiter": t.id}} for a in awaited]}
    if t is not None and pick == "release":
        return {"kind": "task.release", "corrId": f"c{n}", "id": t.id, "version": t.version}
    if pick == "heartbeat":
        pid = rng.choice(PIDS)
        return {"kind": "task.heartbeat", "corrId": f"c{n}", "pid": pid,
                "tasks": [{"id": t.id, "version": t.version - (rng.random() < 0.2)}
                          for t in acquired if t.pid == pid]
                or [{"id": acquired[0].id, "version": acquired[0].version}]}
    if pick == "listen" and s.promises:
        return {"kind": "promise.register_listener", "corrId": f"c{n}",
                "awaited": rng.choice(list(s.promises)),
                "address": f"poll://uni@bench/{rng.randint(0, 2)}"}
    pending_p = [p.id for p in s.promises.values() if p.state == "pending"]
    if pick == "settle" and pending_p:
        return {"kind": "promise.settle", "corrId": f"c{n}", "id": rng.choice(pending_p),
                "state": "resolved", "value": None}
    root = f"r{n}" if rng.random() < 0.8 or not s.promises else rng.choice(list(s.promises))
    tags = {"resonate:origin": root.split(":")[0], "resonate:target": TARGET,
            "resonate:branch": root}
    if rng.random() < 0.1:
        tags["resonate:delay"] = str(now + rng.choice([-5, 40]))
    return {"kind": "promise.create", "corrId": f"c{n}", "id": root,
            "timeoutAt": now + rng.choice([60, 5_000, 10**7]), "param": {"data": "p"},
            "tags": tags}


def _census_as_rebuilt(state: IndexedServerState) -> tuple[Any, ...]:
    """The census's counts, live tasks and call trees (what a restart would rebuild)."""
    c = state.census
    trees = {o: (t.pending, t.size, t.last_settled) for o, t in c.trees.items()}
    return (+c.promises, +c.tasks, set(c.live_tasks), trees)


def _rebuilt(state: IndexedServerState) -> IndexedServerState:
    copy = IndexedServerState()
    copy.restore(_clone(dict(state.promises), dict[str, DurablePromise]),
                 _clone(dict(state.tasks), dict[str, Task]), {},
                 _clone(state.p_timeouts, list[PTimeout]),
                 _clone(state.t_timeouts, list[TTimeout]))
    return copy


def _same_answers(oracle: LeaseServerState, slow: Engine, fast: Engine, now: int,
                  req: dict[str, Any]) -> None:
    """Apply ``req`` to all three (the slow engine's flat ``apply``, the fast engine's
    ``serve``, as the HTTP face calls it); the same response (the fast one byte for byte
    the wire's shaping of the others'), the same messages, the same rows dirty."""
    typed = validate(fast.state, msgspec.json.decode(msgspec.json.encode(req)))
    fast.state.end_op(persist=False)
    flat, slow_out = slow.apply(msgspec.json.decode(msgspec.json.encode(req)), now,
                                defer_commit=True)
    shaped, fast_out = fast.serve(msgspec.json.decode(msgspec.json.encode(req)), now,
                                  defer_commit=True)
    action = req.get("action")
    action_kind = action.get("kind") if isinstance(action, dict) else None
    assert msgspec.json.encode(shaped) == msgspec.json.encode(
        wire.envelope(flat, action_kind)), req
    if isinstance(typed, tuple):  # refused by validation: the oracle never sees it
        assert flat["status"] == typed[0] and shaped["head"]["status"] == typed[0]
    else:
        oracle.outgoing = []
        want = apply_request(oracle, now, typed)
        assert flat == want, req
        assert _messages(fast_out) == _messages(oracle.outgoing), req
        assert _messages(slow_out) == _messages(oracle.outgoing), req
    assert slow.state.dirty == fast.state.dirty, req
    slow.commit()
    fast.commit()


def _journal_lines(path: Path, seen: int) -> tuple[list[Any], int]:
    """The journal's events after the first ``seen`` lines, without their times (sorted:
    within one request the order of records is the path's own), and the new line count."""
    lines = path.read_bytes().splitlines() if path.exists() else []
    events = [msgspec.json.decode(line) for line in lines[seen:]]
    return sorted(msgspec.json.encode({k: v for k, v in e.items() if k != "t"})
                  for e in events), len(lines)


def run_flows(tmp: Path, seed: int, steps: int, durable: bool = True,
              journal: bool = False) -> collections.Counter[str]:
    """Run ``steps`` random flow requests on the three servers (the engines durable, or
    memory ones; with ``journal`` both keep a transition journal, compared line for line
    after each request), comparing after each; return how many requests of each kind
    the fast path answered."""
    rng = random.Random(seed)
    oracle = LeaseServerState()
    slow = Engine(store=Store.open(tmp / "slow.sqlite") if durable else None)
    slow.fast_path = False
    fast = Engine(store=Store.open(tmp / "fast.sqlite") if durable else None)
    seen = {"slow": 0, "fast": 0}
    if journal:
        slow.keep_journal(tmp / "slow.jsonl")
        fast.keep_journal(tmp / "fast.jsonl")
    taken: collections.Counter[str] = collections.Counter()

    def counting(state: IndexedServerState, now: int, req: Any) -> Any:
        resp = fast_apply(state, now, req)
        if resp is not None:
            taken[req["kind"]] += 1
        return resp

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine_module, "fast_apply", counting)
        now = 1_000_000
        for step in range(steps):
            now += rng.randint(0, 30)
            req = flow_request(rng, oracle, now, step)
            _same_answers(oracle, slow, fast, now, req)
            if journal:
                got = {}
                for name, count in list(seen.items()):
                    got[name], seen[name] = _journal_lines(tmp / f"{name}.jsonl", count)
                assert got["fast"] == got["slow"], req
            if step % 7 == 0:
                oracle.outgoing = []
                oracle.tick(now)
                assert _messages(fast.tick(now)) == _messages(oracle.outgoing), step
                slow.tick(now)
            if step % 25 == 0:
                assert canonical(fast.state) == canonical(oracle), step
                assert canonical(slow.state) == canonical(oracle), step
                assert _census_as_rebuilt(fast.state) == _census_as_rebuilt(
                    _rebuilt(fast.state)), step
        assert canonical(fast.state) == canonical(oracle)
    if durable:  # a restart (kill -9) loads what the fast engine acknowledged
        reloaded = Engine.load(Store.open(crash_copy(tmp / "fast.sqlite", tmp / "crash")))
        extend_leases(oracle, now)
        reloaded.restart_grace(now)
        assert canonical(reloaded.state) == canonical(oracle)
        assert _census_as_rebuilt(reloaded.state) == _census_as_rebuilt(fast.state)
        reloaded.close()
    slow.close()
    fast.close()
    return taken


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fast_path_answers_and_changes_as_the_sdk_state(tmp_path: Path,
                                                              seed: int) -> None:
    taken = run_flows(tmp_path, seed, 1200)
    # the flows reach every fast kind often (else this test would test nothing)
    for kind in ("task.acquire", "task.fence", "task.fulfill", "task.heartbeat"):
        assert taken[kind] >= 25, taken
    for kind in ("task.suspend", "promise.create", "promise.register_listener"):
        assert taken[kind] >= 5, taken


@pytest.mark.parametrize("seed", [5, 6])
def test_the_fast_path_journals_what_the_general_path_journals(tmp_path: Path,
                                                               seed: int) -> None:
    """``up`` keeps a transition journal (the chaos checker's evidence of one lease per
    acquire): the fast path serves it too, and writes the same events."""
    taken = run_flows(tmp_path, seed, 800, journal=True)
    assert taken["task.acquire"] >= 25 and taken["task.fulfill"] >= 25, taken
    events = (tmp_path / "fast.jsonl").read_text().splitlines()
    assert sum('"grant"' in e for e in events) >= 25  # leases were journaled
    assert sum('"promise"' in e for e in events) >= 25  # and settlements


def test_the_fast_path_of_a_memory_engine(tmp_path: Path) -> None:
    taken = run_flows(tmp_path, 4, 800, durable=False)
    assert taken["task.acquire"] >= 25, taken


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(min_value=4, max_value=2**32))
def test_the_fast_path_on_hypothesis_seeds(tmp_path_factory: pytest.TempPathFactory,
                                           seed: int) -> None:
    run_flows(tmp_path_factory.mktemp("flows"), seed, 300)


def test_an_unstorable_value_is_refused_on_the_fast_kinds_too(tmp_path: Path) -> None:
    """A param or value with a key beside headers/data holding an integer msgpack cannot
    store is refused (400) and changes nothing, whichever kind carries it."""
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    huge = {"data": "x", "n": 2**70}
    tags = {"resonate:target": TARGET}
    engine.apply({"kind": "promise.create", "id": "r", "timeoutAt": 10**12, "tags": tags}, 1)
    engine.apply({"kind": "task.acquire", "id": "r", "version": 0, "pid": "w", "ttl": 10**6}, 2)
    before = canonical(engine.state)
    for req in (
        {"kind": "promise.create", "id": "s", "timeoutAt": 10**12, "param": huge},
        {"kind": "task.fence", "id": "r", "version": 1, "action": {
            "kind": "promise.create",
            "data": {"id": "r:1", "timeoutAt": 10**12, "param": huge, "tags": tags}}},
        {"kind": "task.fulfill", "id": "r", "version": 1, "action": {
            "kind": "promise.settle", "data": {"id": "r", "state": "resolved", "value": huge}}},
    ):
        resp, out = engine.serve(req, 3)
        assert resp["head"]["status"] == 400 and "unstorable" in resp["data"], resp
        assert out == [] and canonical(engine.state) == before
    resp, _ = engine.serve({"kind": "task.fulfill", "id": "r", "version": 1, "action": {
        "kind": "promise.settle", "data": {"id": "r", "state": "resolved",
                                           "value": {"data": "x", "n": 7}}}}, 4)
    assert resp["head"]["status"] == 200  # an extra key that stores is kept, as before
    engine.close()


def test_an_unstorable_integer_anywhere_gets_the_same_answer_on_both_paths(
        tmp_path: Path) -> None:
    """An integer msgpack cannot store, in a field nothing stores (a corrId, an extra key),
    is refused (400) whether or not the fast path would take the request (found in review:
    the fast path answered 200 where the general path refused)."""
    huge = 2**70
    answers = {}
    for fast in (False, True):
        engine = Engine(store=Store.open(tmp_path / f"s-{fast}.sqlite"))
        engine.fast_path = fast
        engine.apply({"kind": "promise.create", "id": "r", "timeoutAt": 10**12,
                      "tags": {"resonate:target": TARGET}}, 1)
        got = [engine.serve(req, 2)[0]["head"]["status"] for req in (
            {"kind": "task.acquire", "corrId": huge, "id": "r", "version": 0, "pid": "w",
             "ttl": 10**6},
            {"kind": "task.acquire", "id": "r", "version": 0, "pid": "w", "ttl": 10**6},
            {"kind": "task.heartbeat", "pid": "w", "tasks": [{"id": "r", "version": 1}],
             "trace": huge},
            {"kind": "task.fence", "id": "r", "version": 1, "action": {
                "kind": "promise.create",
                "data": {"id": "r:1", "timeoutAt": 10**12, "note": huge}}},
        )]
        answers[fast] = (got, canonical(engine.state))
        engine.close()
    assert answers[True] == answers[False]
    assert answers[True][0] == [400, 200, 400, 400]
