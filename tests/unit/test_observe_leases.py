"""Lease rows and stuck flags (observe/leases.py) and how status, the tree and doctor show them."""

from __future__ import annotations

import base64
import json
from typing import Any

from rich.console import Console

from resonate_rpc_cli.clients.protocol import PromiseRecord
from resonate_rpc_cli.observe.doctor import diagnose
from resonate_rpc_cli.observe.facts import Call, Facts, Lease, Member
from resonate_rpc_cli.observe.leases import Holders, fetch_leases, task_rows
from resonate_rpc_cli.observe.picture import read_work
from resonate_rpc_cli.observe.snapshot import PromiseRow, PromiseSource
from resonate_rpc_cli.supervisor.rows import NodeRow
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from resonate_rpc_cli.view.doctor_view import doctor_view, lease_table
from resonate_rpc_cli.view.render import promise_tree

NOW = 2_000_000


def text(renderable: Any) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(renderable)
    return console.export_text()


def facts() -> Facts:
    calls = {"f": Call("f", "pending", "foo", None, "service-a", "call", NOW - 9000, None, None),
             "f:1": Call("f:1", "pending", "bar", "f", "service-b", "call", NOW - 9000, None,
                         None)}
    leases = {"f": Lease("f", "suspended"),
              "f:1": Lease("f:1", "acquired", "id-b", 5000, 1, expires_ms=NOW + 2500,
                           acquires=2, changed_ms=NOW - 8000)}
    members = [Member("service-b-1", "service-b", "paused", 42, "id-b")]
    return Facts(calls, leases, members, NOW, stuck_after_s=5.0)


def test_task_rows_carry_holder_countdown_attempts_and_the_cause() -> None:
    f = facts()
    diags = {d.promise_id: d for d in diagnose(f)}
    rows = task_rows(f, diags, {"id-b": "service-b-1"})
    assert [r.id for r in rows] == ["f:1"]  # suspended work is not a row of its own
    row = rows[0]
    assert (row.holder, row.lease_left_s, row.attempts) == ("service-b-1", 2.5, 2)
    assert row.stuck is True and row.cause is not None and "paused (SIGSTOP)" in row.cause
    assert list(row.to_dict()) == ["id", "call", "state", "holder", "node_id", "lease_left_s",
                                   "attempts", "idle_s", "stuck", "cause"]
    shown = text(lease_table(rows))
    assert "service-b-1" in shown and "2.5s" in shown and "bar@service-b" in shown


def test_stuck_promises_are_flagged_in_the_table_rows_and_the_tree() -> None:
    payload = base64.b64encode(json.dumps({"func": "bar"}).encode()).decode()
    pending: list[PromiseRecord] = [{"id": "f", "state": "PENDING", "createdAt": NOW - 9000,
                "tags": {"resonate:target": "poll://any@service-a/x"}},
               {"id": "f:1", "state": "PENDING", "createdAt": NOW - 9000,
                "param": {"data": payload},
                "tags": {"resonate:target": "poll://any@service-b/x", "resonate:parent": "f"}}]
    tasks = [{"id": "f", "state": "suspended", "version": 1},
             {"id": "f:1", "state": "acquired", "version": 1, "pid": "id-b", "ttl": 5000,
              "rpcdemo": {"expiresAt": NOW + 2500, "acquires": 2, "changedAt": NOW - 8000}}]
    src = source(tasks)
    src.search = lambda state=None, tags=None, limit=200: pending  # type: ignore[method-assign]
    nodes = [NodeRow("service-b-1", "service-b", 42, "paused", node_id="id-b")]
    work = read_work(src, nodes, TopologyConfig(), links=None)
    rows = {r.promise.id: r for r in work.pending}
    assert rows["f:1"].stuck is True and rows["f:1"].promise.holder == "service-b-1"
    assert rows["f:1"].cause is not None and "paused" in rows["f:1"].cause
    assert rows["f"].stuck is True and str(rows["f"].cause).startswith("waiting on f:1")
    assert work.holders.held_by() == {"service-b-1": ["f:1"]}
    assert list(rows["f"].to_dict())[-2:] == ["stuck", "cause"]
    tree = promise_tree([PromiseRow("f", "pending", "foo", [1], None, None, "f", NOW, None)],
                        title="f", flags={"f": "held by a paused node"})
    assert "STUCK: held by a paused node" in text(tree)


def test_one_holder_map_names_dead_incarnations() -> None:
    leases = {"t1": Lease("t1", "acquired", "old"), "t2": Lease("t2", "acquired", "new"),
              "t3": Lease("t3", "pending"), "t4": Lease("t4", "acquired", "stranger")}
    nodes = [NodeRow("service-b-1", "service-b", 7, "ready", node_id="new",
                     past_node_ids=("old",))]
    holders = Holders.of(leases, nodes)
    assert holders.holder("t1") == "service-b-1 (incarnation 1, gone)"
    assert holders.holder("t2") == "service-b-1" and holders.holder("t3") is None
    assert holders.held_by() == {"service-b-1 (incarnation 1, gone)": ["t1"],
                                 "service-b-1": ["t2"], "stranger": ["t4"]}
    assert Holders.of(None, nodes).held_by() == {}


def test_doctor_view_says_stuck_the_fix_and_the_notices() -> None:
    shown = text(doctor_view(diagnose(facts()), ["no countdowns here"], 5.0))
    assert "STUCK" in shown and "kill service-b-1 --signal CONT" in shown
    assert "2 pending, 2 stuck" in shown and "no countdowns here" in shown
    assert "nothing is pending" in text(doctor_view([], [], 5.0))


class _Client:
    def __init__(self, tasks: list[dict[str, Any]] | None) -> None:
        self.tasks = tasks

    def task_search(self, state: str | None = None) -> list[dict[str, Any]]:
        from resonate_rpc_cli.clients.protocol import ProtocolError  # noqa: PLC0415

        if self.tasks is None:
            raise ProtocolError(501, "not implemented")
        return [t for t in self.tasks if t["state"] == state]


def source(tasks: list[dict[str, Any]] | None) -> PromiseSource:
    src = PromiseSource("http://127.0.0.1:9")
    src.client = _Client(tasks)  # type: ignore[assignment]
    return src


def test_a_bare_server_says_what_it_cannot_know() -> None:
    plain = [{"id": "t", "state": "acquired", "version": 1, "pid": "n", "ttl": 5000}]
    leases, notice = fetch_leases(source(plain))
    assert leases is not None and leases["t"].expires_ms is None
    assert notice is not None and "lease expiry" in notice
    none, notice = fetch_leases(source(None))
    assert none is None and notice is not None and "no task.search" in notice
    ours = [{**plain[0], "rpcdemo": {"expiresAt": 5, "acquires": 1, "changedAt": 4}}]
    leases, notice = fetch_leases(source(ours))
    assert notice is None and leases is not None and leases["t"].acquires == 1


def test_a_holder_on_a_bare_server_has_no_countdown() -> None:
    f = facts()
    plain = {"f": Lease("f", "suspended"), "f:1": Lease("f:1", "acquired", "id-b", 5000)}
    d = diagnose(Facts(f.calls, plain, f.members, NOW, 5.0))[0]
    assert "this server does not say when" in d.line()
    payload = base64.b64encode(json.dumps({"func": "bar"}).encode()).decode()
    call = Call.from_record({"id": "x", "state": "PENDING", "param": {"data": payload},
                             "tags": {"resonate:target": "poll://any@service-b/abc"}})
    assert (call.func, call.group, call.label) == ("bar", "service-b", "bar@service-b")
