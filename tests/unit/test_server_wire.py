"""server/wire.py: the fast path's shapers equal the flat records' shapers, byte for byte.

:func:`wire.promise_of`/:func:`wire.task_of` shape the SDK's records directly; the
general path shapes their ``to_record()`` with :func:`wire.promise_record`/
:func:`wire.task_record`. A client must not be able to tell which path answered.
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st
from resonate.connections.local import DurablePromise, Task

from resonate_rpc_cli.server import wire

_text = st.text(max_size=6)
_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"headers": st.dictionaries(_text, _text, max_size=2),
                                        "data": _text}),
    st.dictionaries(_text, st.one_of(_text, st.integers(), st.none()), max_size=3),
    st.integers(), _text,
)
_states = st.sampled_from(["pending", "resolved", "rejected", "rejected_canceled",
                           "rejected_timedout"])


@given(state=_states, param=_values, value=_values,
       tags=st.dictionaries(_text, _text, max_size=3),
       timeout_at=st.integers(0, 2**62), created_at=st.integers(0, 2**62),
       settled_at=st.none() | st.integers(0, 2**62))
def test_promise_of_is_promise_record_of_to_record(
        state: Any, param: Any, value: Any, tags: dict[str, str], timeout_at: int,
        created_at: int, settled_at: int | None) -> None:
    p = DurablePromise(id="a:1", state=state, param=param, value=value, tags=tags,
                       timeout_at=timeout_at, created_at=created_at, settled_at=settled_at,
                       awaiters={"x"}, subscribers=set())
    assert msgspec.json.encode(wire.promise_of(p)) == msgspec.json.encode(
        wire.promise_record(p.to_record()))


@given(state=st.sampled_from(["pending", "acquired", "suspended", "halted", "fulfilled"]),
       version=st.integers(0, 2**40), pid=st.none() | _text,
       ttl=st.none() | st.integers(1, 2**40), resumes=st.sets(_text, max_size=3))
def test_task_of_is_task_record_of_to_record(state: Any, version: int, pid: str | None,
                                             ttl: int | None, resumes: set[str]) -> None:
    t = Task(id="a:1", state=state, version=version, pid=pid, ttl=ttl, resumes=resumes)
    assert msgspec.json.encode(wire.task_of(t)) == msgspec.json.encode(
        wire.task_record(t.to_record()))


@given(corr_id=st.none() | _text | st.integers(-5, 5), status=st.sampled_from([200, 201]))
def test_answer_is_the_envelope_of_a_flat_success(corr_id: Any, status: int) -> None:
    promise: dict[str, Any] = {"id": "p", "state": "pending", "param": None, "value": None,
                               "tags": {}, "timeoutAt": 5, "createdAt": 1}
    flat: Any = {"kind": "promise.create", "corrId": corr_id, "status": status,
                 "promise": promise}
    shaped = wire.answer("promise.create", corr_id, {"promise": wire.promise_record(promise)})
    assert msgspec.json.encode(shaped) == msgspec.json.encode(wire.envelope(flat))


def test_a_fenced_create_is_the_envelope_of_a_flat_fence() -> None:
    promise: dict[str, Any] = {"id": "r:1", "state": "pending", "param": {"data": "x"},
                               "value": None, "tags": {"resonate:target": "poll://any@g"},
                               "timeoutAt": 5, "createdAt": 1}
    flat: Any = {"kind": "task.fence", "corrId": "c", "status": 200,
                 "action": {"data": {"promise": promise}}, "preload": []}
    shaped = wire.answer("task.fence", "c", {
        "action": wire.fenced("c", "promise.create", wire.promise_record(promise)),
        "preload": []})
    assert msgspec.json.encode(shaped) == msgspec.json.encode(
        wire.envelope(flat, "promise.create"))
