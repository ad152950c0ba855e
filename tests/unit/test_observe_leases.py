"""Lease rows and stuck flags (observe/leases.py) and how status, the tree and doctor show them."""

from __future__ import annotations

import base64
import json
from typing import Any

from rich.console import Console

from resonate_rpc_cli.observe.doctor import diagnose
from resonate_rpc_cli.observe.facts import Call, Facts, Lease, Member
from resonate_rpc_cli.observe.leases import fetch_leases, flag_rows, task_rows
from resonate_rpc_cli.observe.snapshot import PromiseRow, PromiseSource
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
    assert [r["id"] for r in rows] == ["f:1"]  # suspended work is not a row of its own
    row = rows[0]
    assert (row["holder"], row["lease_left_s"], row["attempts"]) == ("service-b-1", 2.5, 2)
    assert row["stuck"] is True and "paused (SIGSTOP)" in row["cause"]
    shown = text(lease_table(rows))
    assert "service-b-1" in shown and "2.5s" in shown and "bar@service-b" in shown


def test_stuck_promises_are_flagged_in_the_table_rows_and_the_tree() -> None:
    f = facts()
    diags = {d.promise_id: d for d in diagnose(f)}
    rows: list[dict[str, Any]] = [{"id": "f"}, {"id": "other"}]
    flag_rows(rows, diags)
    assert rows[0]["stuck"] is True and rows[0]["cause"].startswith("waiting on f:1")
    assert rows[1] == {"id": "other", "stuck": False, "cause": None}
    tree = promise_tree([PromiseRow("f", "pending", "foo", [1], None, None, "f", NOW, None)],
                        title="f", flags={"f": "held by a paused node"})
    assert "STUCK: held by a paused node" in text(tree)


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
