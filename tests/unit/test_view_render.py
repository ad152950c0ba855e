"""Renderers: promise rows from server records, trees nested by parent, tables."""

from __future__ import annotations

import base64
import json
from typing import Any

from rich.console import Console

from resonate_rpc_cli.clients.protocol import Payload, PromiseRecord
from resonate_rpc_cli.contracts.payload import decode_payload
from resonate_rpc_cli.observe.facts import node_names_by_id
from resonate_rpc_cli.observe.flowrun import FlowOutcomeJson
from resonate_rpc_cli.observe.picture import NodeLine, Picture, ServerSummary
from resonate_rpc_cli.observe.snapshot import PromiseRow
from resonate_rpc_cli.supervisor.rows import NodeRow
from resonate_rpc_cli.view.render import nodes_table, promise_tree, run_view, status_view


def payload(obj: Any) -> Payload:
    return {"headers": None, "data": base64.b64encode(json.dumps(obj).encode()).decode()}


def record(pid: str, state: str, func: str | None, parent: str | None, value: Any = None,
           **tags: str) -> PromiseRecord:
    t = {"resonate:origin": pid.split(":", 1)[0], **tags}
    if parent:
        t["resonate:parent"] = parent
    return {"id": pid, "state": state,
            "param": payload({"func": func, "args": [3]}) if func else {},
            "value": payload(value) if value is not None else None, "tags": t,
            "createdAt": 1_000, "timeoutAt": 10**15}


def text(renderable: Any) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_decode_payload_reads_base64_json_and_tolerates_junk() -> None:
    assert decode_payload(payload({"a": 1})) == {"a": 1}
    assert decode_payload({"data": "%%%"}) == "%%%"
    assert decode_payload(None) is None and decode_payload(5) == 5


def test_rows_take_func_args_value_and_label_checkpoints() -> None:
    row = PromiseRow.from_record(record("f:1", "resolved", "rax", "f", value=4), holder=None)
    assert (row.func, row.args, row.value, row.parent, row.origin) == ("rax", [3], 4, "f", "f")
    local = PromiseRow.from_record(record("f:1.1", "pending", None, "f:1",
                                          **{"resonate:scope": "local"}))
    assert local.func == "(run)" and local.value is None
    timer = PromiseRow.from_record(record("f:2", "pending", None, "f",
                                          **{"resonate:timer": "true"}))
    assert timer.func == "(sleep)"


def test_tree_nests_children_under_their_parents() -> None:
    rows = [PromiseRow.from_record(r, holder=h) for r, h in [
        (record("f", "pending", "zim", None), None),
        (record("f:1", "resolved", "rax", "f", value=4), None),
        (record("f:2", "pending", "dop", "f"), "service-i-1"),
        (record("f:2.1", "pending", None, "f:2", **{"resonate:scope": "local"}), None),
    ]]
    lines = text(promise_tree(rows, title="f")).splitlines()
    assert lines[0] == "f"
    depth = {ln.lstrip("│├└─ ").split()[0]: len(ln) - len(ln.lstrip("│├└─ "))
             for ln in lines[1:]}
    assert depth["f"] < depth["f:1"] == depth["f:2"] < depth["f:2.1"]
    out = "\n".join(lines)
    assert "rax(3)  resolved = 4" in out
    assert "dop(3)  pending for" in out and "held by service-i-1" in out


def test_tree_of_nothing_says_so() -> None:
    assert "no promises" in text(promise_tree([], title="x"))


def node(name: str, state: str, pid: int | None = 10) -> NodeLine:
    return NodeLine(NodeRow(name, name.rsplit("-", 1)[0], pid, state, restarts=1, uptime_s=75.0,
                            node_id="abcdef0123456789"), task="t:1")


def test_tables_show_state_uptime_and_usage() -> None:
    out = text(nodes_table([node("service-b-1", "ready"), node("service-c-1", "killed", None)],
                           {10: {"cpu": "3%", "mem": "41M"}}))
    assert "service-b-1 abcdef01" in out and "1m15s" in out and "3%" in out and "41M" in out
    assert "killed" in out


def test_status_and_run_views() -> None:
    pic = Picture(ServerSummary("http://127.0.0.1:1", False, "unknown", None, None, True, False),
                  "http://127.0.0.1:2", [node("gateway", "ready")],
                  notice="server is not answering")
    out = text(status_view(pic))
    assert "down" in out and "server is not answering" in out
    run: FlowOutcomeJson = {"flow": "fan-out", "promise_id": "p", "state": "timeout",
                            "result": None, "elapsed_ms": 5}
    assert "fan-out [p] timeout" in text(run_view(run))


def test_dead_incarnations_are_named_as_such() -> None:
    names = node_names_by_id([NodeRow("service-b-1", "service-b", 1, "ready", node_id="new",
                                      past_node_ids=("first", "second")),
                              NodeRow("server", "server", 2, "ready")])
    assert names == {"new": "service-b-1", "first": "service-b-1 (incarnation 1, gone)",
                     "second": "service-b-1 (incarnation 2, gone)"}
