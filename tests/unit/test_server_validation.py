"""validation.validate: the one point where a decoded request becomes a typed Request (pure)."""

from __future__ import annotations

from resonate_rpc_cli.server.state import IndexedServerState
from resonate_rpc_cli.server.validation import validate

TARGET = {"resonate:target": "poll://any@g"}


def test_an_accepted_request_is_answered_as_itself_not_a_copy() -> None:
    state = IndexedServerState()
    req: dict[str, object] = {"kind": "promise.create", "corrId": "c", "id": "p",
                              "timeoutAt": 10**12, "tags": TARGET}
    typed = validate(state, req)
    assert typed is req  # typing a request costs no conversion
    assert not isinstance(typed, tuple) and typed["kind"] == "promise.create"


def test_a_refused_request_is_answered_with_status_and_message() -> None:
    state = IndexedServerState()
    assert validate(state, {"kind": "promise.create", "id": "p", "timeoutAt": -1}) == (
        400, "timeoutAt must be an integer >= 0")
    assert validate(state, {"kind": "task.acquire", "id": "t", "version": 0, "pid": "w",
                            "ttl": 5}) == (404, "Task not found")


def test_a_kind_without_checks_is_passed_on_for_its_own_code_to_narrow() -> None:
    state = IndexedServerState()
    req: dict[str, object] = {"kind": "promise.search", "limit": "not a number"}
    assert validate(state, req) is req  # search.py answers its 400
