"""The shape validator itself (schema.py): it passes the Rust server's shapes and fails ours
of before issue 18, naming each difference. Pure: no server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.protocol.schema import envelope_problems, message_problems

HEAD = {"corrId": "c1", "status": 200, "version": "2026-04-01"}
PROMISE = {"id": "p", "state": "pending", "param": {}, "value": {}, "tags": {},
           "timeoutAt": 10, "createdAt": 1}
TASK = {"id": "p", "state": "acquired", "version": 1, "resumes": 0, "ttl": 5, "pid": "w"}


def create(**over: Any) -> dict[str, Any]:
    data = {"task": TASK, "promise": PROMISE, "preload": []}
    return {"kind": "task.create", "head": HEAD, "data": {**data, **over}}


def test_the_rust_shapes_pass() -> None:
    assert envelope_problems(create(), kind="task.create") == []
    fence = {"kind": "task.fence", "head": HEAD, "data": {
        "action": {"kind": "promise.create", "head": HEAD, "data": {"promise": PROMISE}},
        "preload": [PROMISE]}}
    assert envelope_problems(fence) == []
    refused = {"kind": "task.acquire", "head": {**HEAD, "status": 409}, "data": "Version mismatch"}
    assert envelope_problems(refused) == []
    redirect = {"kind": "task.suspend", "head": {**HEAD, "status": 300}, "data": {"preload": []}}
    assert envelope_problems(redirect) == []
    execute = {"kind": "execute", "head": {"serverUrl": "http://127.0.0.1:1"},
               "data": {"task": {"id": "p", "version": 0}}}
    assert message_problems(execute) == []


@pytest.mark.parametrize(("resp", "needle"), [
    ({**create(), "head": {**HEAD, "status": 201}}, "201 is not a success"),
    (create(promise={**PROMISE, "value": None}), "promise.value: null"),
    (create(promise={**PROMISE, "value": {"headers": None, "data": None}}),
     "promise.value.headers: null"),
    (create(promise={**PROMISE, "settledAt": None}), "promise.settledAt: null"),
    (create(task={k: v for k, v in TASK.items() if k != "resumes"}), "task.resumes: missing"),
    (create(task={**TASK, "promiseId": "p"}), "task.promiseId: not a field"),
    (create(task={**TASK, "pid": None}), "task.pid: null"),
    ({"kind": "task.fence", "head": HEAD, "data": {
        "action": {"data": {"promise": PROMISE}}, "preload": []}}, "action.kind: missing"),
    ({"kind": "task.acquire", "head": {**HEAD, "status": 409}, "data": {"error": "x"}},
     "an error's data is its message string"),
    ({"kind": "task.release", "head": {"corrId": None, "status": 200, "version": "2026-04-01"},
      "data": {}}, "head.corrId: null"),
])
def test_each_difference_is_named(resp: dict[str, Any], needle: str) -> None:
    found = envelope_problems(resp)
    assert any(needle in p for p in found), found


def test_an_execute_message_without_head_fails() -> None:
    found = message_problems({"kind": "execute", "data": {"task": {"id": "p", "version": 0}}})
    assert any("head: missing" in p for p in found), found
