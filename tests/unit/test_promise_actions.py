"""The pure parts of `rpcdemo promise` and `rpcdemo flow`: values, ids, order, steps, and
resonate-pg's settle with a fake session."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from resonate_rpc_cli.clients.protocol import PromiseRecord, ProtocolError
from resonate_rpc_cli.contracts.errors import RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ids import promise_id_problem
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.contracts.payload import decode_payload
from resonate_rpc_cli.observe import settle
from resonate_rpc_cli.observe.facts import Lease
from resonate_rpc_cli.observe.settle import (
    _depth,
    encode_value,
    error_value,
    parse_value,
)
from resonate_rpc_cli.observe.steps import build_steps, ledger_facts
from resonate_rpc_cli.postgres.writes import PgWriter
from resonate_rpc_cli.view.promise_view import task_text


def test_a_value_is_json_and_encoded_as_the_sdk_reads_it() -> None:
    assert parse_value(None) == (False, None)
    assert parse_value('{"ok": true}') == (True, {"ok": True})
    assert parse_value("null") == (True, None)
    with pytest.raises(UsageError, match="--value is not JSON"):
        parse_value("{bad")
    encoded = encode_value({"ok": True, "n": [1, 2]})
    assert json.loads(base64.b64decode(encoded.get("data") or "")) == {"ok": True, "n": [1, 2]}
    assert decode_payload(encoded) == {"ok": True, "n": [1, 2]}
    assert encode_value(None) == {}
    assert decode_payload(encode_value(error_value("no"))) == {"__type": "error",
                                                                "message": "no"}


def test_promise_ids_any_the_sdk_mints_but_not_blank_or_spaced() -> None:
    assert promise_id_problem("await-chain-1:1.2") is None
    assert promise_id_problem("") == "must not be empty"
    assert promise_id_problem("a b") is not None
    assert promise_id_problem("a\x00b") is not None
    assert promise_id_problem("x" * 2000) is not None


def test_parents_are_canceled_before_their_children() -> None:
    ids = ["r:1.2", "r:2", "r", "r:1", "r:1.2.1", "r:10"]
    assert sorted(ids, key=_depth) == ["r", "r:1", "r:10", "r:2", "r:1.2", "r:1.2.1"]


def _entry(phase: str, node: str, promise_id: str, step_id: str, ts: float) -> LedgerEntry:
    return LedgerEntry(ts=ts, phase=phase, node=node, node_id="n", os_pid=1, group="g",
                       func="bar", promise_id=promise_id, step_id=step_id, arg=1)


def _rec(pid: str, state: str, tags: dict[str, str], func: str | None = None,
         created: int = 1000, settled: int | None = None) -> PromiseRecord:
    param = encode_value({"func": func, "args": [1]}) if func else {}
    rec: PromiseRecord = {"id": pid, "state": state, "param": param, "value": {},
                           "tags": tags, "createdAt": created, "timeoutAt": 10**13}
    if settled is not None:
        rec["settledAt"] = settled
    return rec


def test_steps_join_the_tree_its_tasks_and_the_ledger() -> None:
    entries = [
        _entry("start", "service-b-1", "r:1", "r:1.1", 1.0),
        _entry("start", "service-b-2", "r:1", "r:1.1", 5.0),  # a second attempt elsewhere
        _entry("end", "service-b-2", "r:1", "r:1.1", 6.0),
        _entry("start", "service-x-1", "other", "other:1", 2.0),
    ]
    ran = ledger_facts(entries, {"r", "r:1", "r:1.1"})
    assert set(ran) == {"r:1", "r:1.1"}
    assert (ran["r:1"].starts, ran["r:1"].ends, ran["r:1"].nodes) == (
        2, 1, ("service-b-1", "service-b-2"))
    records = [
        _rec("r:1.1", "resolved", {"resonate:origin": "r", "resonate:parent": "r:1",
                                   "resonate:scope": "local"}, created=1200, settled=1300),
        _rec("r:1", "pending", {"resonate:origin": "r", "resonate:parent": "r",
                                "resonate:target": "poll://any@service-b"}, "bar", 1100),
        _rec("r", "pending", {"resonate:origin": "r", "resonate:target":
                              "poll://any@service-a"}, "foo", 1000),
    ]
    leases = {"r:1": Lease("r:1", "acquired", pid="nid-2", ttl_ms=5000, version=3,
                           expires_ms=4500, acquires=2),
              "r": Lease("r", "suspended")}
    steps = build_steps(records, leases, ran, {"nid-2": "service-b-2"}, now_ms=2000)
    assert [s.id for s in steps] == ["r", "r:1", "r:1.1"]
    root, call, run = steps
    assert (root.call, root.task, root.holder, root.attempts) == ("foo@service-a", "suspended",
                                                                  None, None)
    assert (call.call, call.holder, call.lease_left_s, call.leases, call.attempts) == (
        "bar@service-b", "service-b-2", 2.5, 2, 2)
    assert task_text(call) == "held by service-b-2, lease 2.5s left, 2 leases"
    assert (run.call, run.took_ms, run.task, run.ends) == ("(run)", 100, None, 1)
    assert run.to_dict()["nodes"] == ["service-b-1", "service-b-2"]
    # no task.search (leases None) and no ledger: unknown, not zero
    bare = build_steps(records, None, {}, {}, now_ms=2000)
    assert all(s.attempts is None and s.task is None and s.leases is None for s in bare)


class FakeDb:
    """resonate_rpc answering ``reply`` to every statement; records what was sent."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.sent: list[dict[str, Any]] = []

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        assert sql == "SELECT resonate.resonate_rpc(%s::jsonb)"
        self.sent.append(json.loads(params[0]))
        return [(self.reply,)]


def test_resonate_pg_settles_through_its_own_protocol_entry() -> None:
    record: PromiseRecord = {"id": "p", "state": "resolved", "value": {"data": "MQ=="}}
    db = FakeDb({"kind": "promise.settle", "head": {"status": 200}, "data": {"promise": record}})
    writer = PgWriter("postgresql://h/d", db=db)
    assert writer.promise_settle("p", "resolved", {"data": "MQ=="}) == record
    sent = db.sent[0]
    assert sent["kind"] == "promise.settle" and sent["head"]["corrId"]
    assert sent["data"] == {"id": "p", "state": "resolved", "value": {"data": "MQ=="}}
    missing = PgWriter("postgresql://h/d", db=FakeDb({"head": {"status": 404},
                                                      "data": "not found"}))
    assert missing.promise_settle("p", "resolved", {}) is None
    bad = PgWriter("postgresql://h/d", db=FakeDb({"head": {"status": 400},
                                                  "data": "bad request"}))
    with pytest.raises(ProtocolError) as info:
        bad.promise_settle("p", "pending", {})
    assert info.value.status == 400


class FakeServer:
    """One call tree in memory: search by origin, get, settle (a settled promise stays);
    ``spawn`` maps a promise id to a child created when that promise is canceled (a node
    creating a call between ``flow cancel``'s read and its settle)."""

    url = "http://fake"

    def __init__(self, states: dict[str, str], spawn: dict[str, str] | None = None) -> None:
        self.states = dict(states)
        #: ids whose get answers pending (read just before someone else settles them)
        self.stale: set[str] = set()
        self.spawn = dict(spawn or {})
        self.settled: list[str] = []
        self.client = self

    def search(self, state: str | None = None, tags: dict[str, str] | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
        origin = (tags or {}).get("resonate:origin")
        return [{"id": i, "state": s} for i, s in sorted(self.states.items())
                if i.split(":")[0] == origin]

    def promise_get(self, promise_id: str) -> dict[str, Any] | None:
        state = "pending" if promise_id in self.stale else self.states.get(promise_id)
        return None if state is None else {"id": promise_id, "state": state}

    def promise_settle(self, promise_id: str, state: str, value: dict[str, Any]
                       ) -> dict[str, Any] | None:
        if promise_id not in self.states:
            return None
        if self.states[promise_id] == "pending":
            self.states[promise_id] = state
            self.settled.append(promise_id)
            child = self.spawn.pop(promise_id, None)
            if child is not None:
                self.states[child] = "pending"
        return {"id": promise_id, "state": self.states[promise_id], "value": value}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeServer]]:
    made: list[FakeServer] = []

    def make(states: dict[str, str], spawn: dict[str, str] | None = None) -> FakeServer:
        server = FakeServer(states, spawn)
        made.append(server)
        monkeypatch.setattr(settle, "server_url_of", lambda home: server.url)
        monkeypatch.setattr(settle, "PromiseSource", lambda url, timeout_s: server)
        monkeypatch.setattr(settle, "write_client", lambda url: server)
        monkeypatch.setattr(settle, "read_client", lambda url: server)
        return server

    yield make


def test_flow_cancel_goes_parents_first_and_catches_children_created_meanwhile(
        fake: Callable[..., FakeServer], tmp_path: Path) -> None:
    server = fake({"r": "pending", "r:1": "pending", "r:1.1": "resolved", "r:1.2": "pending",
                   "other": "pending"}, spawn={"r:1.2": "r:1.3"})
    done = settle.cancel_flow(Home(tmp_path), "r")
    assert done.canceled == ("r", "r:1", "r:1.2", "r:1.3")  # r:1.3 in the second pass
    assert server.settled == ["r", "r:1", "r:1.2", "r:1.3"]
    assert done.left == {"r:1.1": "resolved"}
    assert server.states["other"] == "pending"  # another tree is not touched
    with pytest.raises(RpcdemoError, match=r"nothing pending in r \(it is rejected_canceled\)") \
            as info:
        settle.cancel_flow(Home(tmp_path), "r")
    assert info.value.status == 1
    with pytest.raises(UsageError, match="no promise 'nope'"):
        settle.cancel_flow(Home(tmp_path), "nope")


def test_a_settle_refuses_a_settled_promise_and_one_settled_meanwhile(
        fake: Callable[..., FakeServer], tmp_path: Path) -> None:
    server = fake({"p": "pending", "q": "resolved"})
    done = settle.settle_promise(Home(tmp_path), "p", "reject", (False, None))
    assert done.promise.state == "rejected"
    assert done.promise.value == {"__type": "error", "message": "rejected by rpcdemo"}
    with pytest.raises(RpcdemoError, match="q is already resolved") as info:
        settle.settle_promise(Home(tmp_path), "q", "resolve", (True, 1))
    assert info.value.status == 1

    server.stale.add("q")
    with pytest.raises(RpcdemoError, match="settled meanwhile"):
        settle.settle_promise(Home(tmp_path), "q", "cancel", (False, None))
    assert server.states["q"] == "resolved"
