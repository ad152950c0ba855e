"""A holder whose lease lapsed must not release, fulfill or suspend the next holder's task."""

from __future__ import annotations

from typing import Any, cast

import pytest

from resonate_rpc_cli.server.engine import apply_request
from resonate_rpc_cli.server.request import Request
from resonate_rpc_cli.server.state import IndexedServerState

TARGET = "poll://any@service-b"


def _acquired_twice() -> IndexedServerState:
    """A task acquired by node-1 (v0 -> v1), lapsed, re-acquired by node-2 (v1 -> v2)."""
    state = IndexedServerState()
    created = apply_request(state, 0, {
        "kind": "promise.create", "id": "p", "timeoutAt": 10**12,
        "param": {}, "tags": {"resonate:target": TARGET},
    })
    assert created["status"] == 201
    first = apply_request(state, 1, {"kind": "task.acquire", "id": "p", "version": 0,
                                     "pid": "node-1", "ttl": 1000})
    assert first["status"] == 200
    state.tick(5000)  # node-1's lease lapses: back to pending at version 1
    assert (state.tasks["p"].state, state.tasks["p"].version) == ("pending", 1)
    second = apply_request(state, 5001, {"kind": "task.acquire", "id": "p", "version": 1,
                                         "pid": "node-2", "ttl": 1000})
    assert second["status"] == 200
    assert (state.tasks["p"].pid, state.tasks["p"].version) == ("node-2", 2)
    return state


@pytest.mark.parametrize(
    "stale",
    [
        {"kind": "task.release", "id": "p", "version": 1},
        {"kind": "task.fulfill", "id": "p", "version": 1,
         "action": {"id": "p", "state": "resolved", "value": {}}},
        {"kind": "task.suspend", "id": "p", "version": 1, "actions": []},
        {"kind": "task.acquire", "id": "p", "version": 1, "pid": "node-1", "ttl": 1000},
    ],
)
def test_a_stale_version_is_refused_and_the_new_holder_keeps_its_lease(
    stale: dict[str, Any],
) -> None:
    state = _acquired_twice()
    resp = apply_request(state, 5002, cast(Request, stale))  # a request validation passed
    assert resp["status"] == 409, resp
    task = state.tasks["p"]
    assert (task.state, task.pid, task.version) == ("acquired", "node-2", 2)
    assert state.promises["p"].state == "pending"


def test_the_current_version_still_releases() -> None:
    state = _acquired_twice()
    resp = apply_request(state, 5002, {"kind": "task.release", "id": "p", "version": 2})
    assert resp["status"] == 200
    assert (state.tasks["p"].state, state.tasks["p"].version) == ("pending", 2)


@pytest.mark.parametrize("pid", ["node-2", "node-3"])
def test_a_second_acquire_of_an_acquired_task_is_refused_whoever_sends_it(pid: str) -> None:
    """One lease per acquire: the holder itself re-acquiring (two execute messages for
    one task in one process) is refused like anyone else, at any version."""
    state = _acquired_twice()
    for version in (1, 2):
        resp = apply_request(state, 5002, {"kind": "task.acquire", "id": "p",
                                           "version": version, "pid": pid, "ttl": 1000})
        assert resp["status"] == 409, resp
    task = state.tasks["p"]
    assert (task.state, task.pid, task.version) == ("acquired", "node-2", 2)
