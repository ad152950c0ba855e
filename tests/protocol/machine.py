"""A hypothesis state machine: the engine under valid and invalid requests from several workers.

:class:`ProtocolMachine` keeps a small pool of promise ids (one origin, so
suspends and callbacks between them are legal), three fake workers that
remember the task versions they acquired, and a clock. Its rules send
well-formed requests with right and wrong versions, actions naming the wrong
promise, settle states a client may not use, suspends on missing promises
or on the task itself, garbage, and time passing. After every step it checks:

* a refused request (status >= 400) changed nothing;
* a settled promise never changes;
* ``task.fulfill`` settles only the task's own promise, and only when it
  named the task's current version while the task was acquired; no other
  task operation settles a task's promise;
* task versions never go back;
* no task is suspended without a pending promise it awaits;
* every pending promise with a ``resonate:target`` has a task.

Used by tests/protocol/test_props.py (a few hundred steps, fixed seed) and
benchmarks/bench_protocol_props.py (100k steps).
"""

from __future__ import annotations

from typing import Any, cast

import msgspec
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from resonate_rpc_cli.server.engine import Engine

ORIGIN = "r"
IDS = [ORIGIN, *(f"{ORIGIN}:{i}" for i in range(7))]
WORKERS = ["w1", "w2", "w3"]
TARGET = "poll://any@g"
STATES = ["resolved", "rejected", "rejected_canceled", "pending", "rejected_timedout", "done"]
KINDS = ["promise.create", "promise.settle", "task.acquire", "task.fulfill", "task.suspend",
         "task.release", "task.fence", "promise.register_callback", "task.halt", "bogus"]

ids = st.sampled_from(IDS)
workers = st.sampled_from(WORKERS)
offsets = st.sampled_from([0, 0, 0, -1, 1])

#: Steps taken by every machine in this process (the benchmark reads it).
STEPS = [0]


class ProtocolMachine(RuleBasedStateMachine):
    """The engine under random protocol traffic; see the module doc for the invariants."""

    @initialize()
    def setup(self) -> None:
        self.engine = Engine()
        self.now = 1_000
        self.held: dict[str, dict[str, int]] = {w: {} for w in WORKERS}
        self.settled: dict[str, tuple[Any, ...]] = {}
        self.max_version: dict[str, int] = {}

    # -- sending -------------------------------------------------------------------

    def send(self, req: dict[str, Any]) -> dict[str, Any]:
        STEPS[0] += 1
        for pid in _ids_of(req):  # lazy timeouts first: they are time's doing, not the request's
            self.engine.apply({"kind": "promise.get", "id": pid}, now=self.now)
        before = self._fingerprint()
        pending_tasks = {i for i, p in self.engine.state.promises.items()
                         if p.state == "pending" and i in self.engine.state.tasks}
        version_before: dict[str, tuple[str, int]] = {
            i: (t.state, t.version) for i, t in self.engine.state.tasks.items()}
        resp, _ = self.engine.serve(req, now=self.now)  # as the server serves it: fast path
        status = resp["head"]["status"]
        if status >= 400:
            assert self._fingerprint() == before, f"refused {req} ({resp}) changed the state"
        self._check_task_settles(req, status, pending_tasks, version_before)
        return cast(dict[str, Any], resp)

    def _check_task_settles(self, req: dict[str, Any], status: int, pending: set[str],
                            before: dict[str, tuple[str, int]]) -> None:
        kind = req.get("kind")
        if kind not in ("task.fulfill", "task.acquire", "task.release", "task.suspend",
                        "task.heartbeat", "task.halt", "task.continue"):
            return
        now_settled = {i for i in pending if self.engine.state.promises[i].state != "pending"}
        if kind != "task.fulfill" or status >= 400:
            assert not now_settled, f"{req} settled {now_settled}"
            return
        tid = req["id"]
        assert now_settled <= {tid}, f"fulfill of {tid} settled {now_settled}"
        if tid in now_settled:
            assert before[tid] == ("acquired", req["version"]), f"{req} vs {before[tid]}"

    def _fingerprint(self) -> bytes:
        s = self.engine.state
        return msgspec.msgpack.encode([s.promises, s.tasks, s.schedules,
                                       sorted((t.id, t.timeout) for t in s.p_timeouts),
                                       sorted((t.id, t.typ, t.timeout) for t in s.t_timeouts)])

    def _version(self, worker: str, tid: str, offset: int) -> int:
        t = self.engine.state.tasks.get(tid)
        base = self.held[worker].get(tid, t.version if t is not None else 0)
        return max(base + offset, 0)

    # -- rules ---------------------------------------------------------------------

    @rule(pid=ids, with_target=st.booleans(), ttl=st.integers(50, 5_000))
    def create(self, pid: str, with_target: bool, ttl: int) -> None:
        tags = {"resonate:target": TARGET} if with_target else {}
        self.send({"kind": "promise.create", "id": pid, "timeoutAt": self.now + ttl,
                   "tags": tags, "param": {"data": "x"}})

    @rule(pid=ids, state=st.sampled_from(STATES))
    def settle(self, pid: str, state: str) -> None:
        self.send({"kind": "promise.settle", "id": pid, "state": state, "value": {}})

    @rule(worker=workers, tid=ids, offset=offsets)
    def acquire(self, worker: str, tid: str, offset: int) -> None:
        version = self._version(worker, tid, offset)
        resp = self.send({"kind": "task.acquire", "id": tid, "version": version, "pid": worker,
                          "ttl": 2_000})
        if resp["head"]["status"] == 200:
            self.held[worker][tid] = resp["data"]["task"]["version"]

    @rule(worker=workers, tid=ids, offset=offsets, other=st.one_of(st.none(), ids),
          state=st.sampled_from(STATES))
    def fulfill(self, worker: str, tid: str, offset: int, other: str | None, state: str) -> None:
        action = {"kind": "promise.settle",
                  "data": {"id": other or tid, "state": state, "value": {}}}
        self.send({"kind": "task.fulfill", "id": tid, "version": self._version(worker, tid, offset),
                   "action": action})

    @rule(worker=workers, tid=ids, offset=offsets, awaited=st.lists(ids | st.just("r:none"),
                                                                     max_size=3))
    def suspend(self, worker: str, tid: str, offset: int, awaited: list[str]) -> None:
        actions = [{"kind": "promise.register_callback", "data": {"awaited": a, "awaiter": tid}}
                   for a in awaited]
        self.send({"kind": "task.suspend", "id": tid,
                   "version": self._version(worker, tid, offset), "actions": actions})

    @rule(worker=workers, tid=ids, offset=offsets)
    def release(self, worker: str, tid: str, offset: int) -> None:
        version = self._version(worker, tid, offset)
        self.send({"kind": "task.release", "id": tid, "version": version})

    @rule(worker=workers, tid=ids, other=ids, create=st.booleans(), offset=offsets)
    def fence(self, worker: str, tid: str, other: str, create: bool, offset: int) -> None:
        data: dict[str, Any] = (
            {"id": other, "timeoutAt": self.now + 1_000, "tags": {"resonate:target": TARGET}}
            if create else {"id": other, "state": "resolved", "value": {}})
        self.send({"kind": "task.fence", "id": tid, "version": self._version(worker, tid, offset),
                   "action": {"kind": "promise.create" if create else "promise.settle",
                              "data": data}})

    @rule(worker=workers)
    def heartbeat(self, worker: str) -> None:
        tasks = [{"id": t, "version": v} for t, v in self.held[worker].items()]
        if tasks:
            self.send({"kind": "task.heartbeat", "pid": worker, "tasks": tasks})

    @rule(awaited=ids, awaiter=ids)
    def callback(self, awaited: str, awaiter: str) -> None:
        self.send({"kind": "promise.register_callback", "awaited": awaited, "awaiter": awaiter})

    @rule(tid=ids, halt=st.booleans())
    def halt_or_continue(self, tid: str, halt: bool) -> None:
        self.send({"kind": "task.halt" if halt else "task.continue", "id": tid})

    @rule(kind=st.sampled_from(KINDS), junk=st.dictionaries(
        st.sampled_from(["id", "version", "state", "action", "actions", "pid", "ttl", "tags"]),
        st.one_of(st.none(), st.integers(-2, 2), st.text(max_size=3), st.booleans(),
                  st.lists(st.integers(), max_size=2)), max_size=4))
    def garbage(self, kind: str, junk: dict[str, Any]) -> None:
        self.send({"kind": kind, **junk})

    @rule(ms=st.integers(1, 3_000))
    def advance(self, ms: int) -> None:
        STEPS[0] += 1
        self.now += ms
        self.engine.tick(self.now)

    # -- invariants ----------------------------------------------------------------

    @invariant()
    def settled_promises_never_change(self) -> None:
        for pid, p in self.engine.state.promises.items():
            if p.state == "pending":
                assert pid not in self.settled, f"{pid} went back to pending"
                continue
            rec = (p.state, p.value, p.settled_at)
            assert self.settled.setdefault(pid, rec) == rec, f"settled {pid} changed"

    @invariant()
    def versions_never_go_back(self) -> None:
        for tid, t in self.engine.state.tasks.items():
            assert t.version >= self.max_version.get(tid, 0), f"{tid} version went back"
            self.max_version[tid] = t.version

    @invariant()
    def suspended_tasks_await_something_pending(self) -> None:
        s = self.engine.state
        for tid, t in s.tasks.items():
            if t.state == "suspended":
                assert any(tid in p.awaiters and p.state == "pending"
                           for p in s.promises.values()), f"{tid} suspended on nothing"

    @invariant()
    def pending_targets_have_tasks(self) -> None:
        s = self.engine.state
        for pid, p in s.promises.items():
            if p.state == "pending" and "resonate:target" in p.tags:
                assert pid in s.tasks, f"pending {pid} with a target has no task"


def _ids_of(req: dict[str, Any]) -> set[str]:
    """Every promise id a request names (top level, its action, its suspend actions)."""
    found = [req.get("id"), req.get("awaited"), req.get("awaiter")]
    action = req.get("action")
    if isinstance(action, dict) and isinstance(action.get("data"), dict):
        found.append(action["data"].get("id"))
    actions = req.get("actions")
    for a in actions if isinstance(actions, list) else []:
        if isinstance(a, dict) and isinstance(a.get("data"), dict):
            found.append(a["data"].get("awaited"))
    return {i for i in found if isinstance(i, str) and i}
