"""The wire: every response and pushed message in the shapes of the Rust server's types.

The engine answers flat responses built from the SDK's ``ServerState`` records
(``201`` for a create, a pending promise's ``value`` ``null``, task records
with ``promiseId`` and no ``resumes``, error text under ``error``). Clients
that type-check what they receive (the TypeScript SDK 0.11.5 does, with the
types of ``src/types.rs`` of resonatehq/resonate at c8d7c7ba) refuse those.
This module is the one place that turns them into exactly what the Rust
server sends; nothing else changes them, so the state, the store and the
unit tests keep the flat form.

* :func:`envelope`: a flat response → ``{kind, head: {corrId, status,
  version}, data}``. Status ``201`` becomes ``200`` (the Rust server answers
  ``200`` to every success but a suspend's redirect, ``300``); an error's
  ``data`` is its message string; records are shaped by :func:`promise_record`,
  :func:`task_record`, :func:`schedule_record`; a ``task.fence`` ``action``
  is a whole response envelope (``src/server.rs:1870-1880, 1947-1965``).
* :func:`promise_of`, :func:`task_of`, :func:`answer`, :func:`fenced`: the same
  shapes made straight from the SDK's records, for the fast path
  (:mod:`.fastpath`), equal byte for byte to :func:`envelope` of the flat response.
* :func:`message`: an outgoing ``execute``/``unblock`` message for ``GET
  /poll``: ``{kind, head, data}`` (``src/types.rs`` ``ExecuteMsg``;
  ``src/processing/processing_messages.rs``).

Fields the Rust types omit when absent (``settledAt``, a task's ``ttl`` and
``pid``, a schedule's ``lastRunAt``, a value's ``headers``/``data``, a page's
``cursor``) are omitted here, never ``null``.

This is where JSON leaves the server: :func:`envelope` takes the typed
:class:`~.response.FlatResponse`; the record shapers read records as
``Mapping[str, object]`` because they shape resonate-pg's answers too
(tests/protocol/pgadapter.py), and build ``dict[str, object]`` for the encoder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Any, NotRequired, TypedDict

from resonate.connections.local import DurablePromise, Task
from resonate_base import PROTOCOL_VERSION

from resonate_rpc_cli.server.response import FlatResponse

#: The message an error without text of its own carries, per status (src/server.rs).
_DEFAULT_ERRORS = {400: "Invalid request", 404: "Not found",
                   409: "Task version mismatch or invalid state", 422: "Unprocessable request"}
#: A flat response's keys that go in the envelope's head (or are the error), not its data.
_HEAD_KEYS = frozenset({"kind", "corrId", "status", "error"})
#: The keys of a task record that :func:`task_record` shapes (any other is an extra).
_TASK_KEYS = frozenset({"id", "state", "version", "promiseId", "resumes", "ttl", "pid"})
#: Keys whose value is one record, or a list of records, of one type.
_PROMISE_FIELDS = ("promise",)
_PROMISE_LISTS = ("promises", "preload")


class PromiseValue(TypedDict, total=False):
    """``src/types.rs`` ``PromiseValue``: both fields omitted when absent."""

    headers: dict[str, str]
    data: str


class PromiseRecord(TypedDict):
    """``src/types.rs`` ``PromiseRecord``."""

    id: str
    state: str
    param: PromiseValue
    value: PromiseValue
    tags: dict[str, str]
    timeoutAt: int
    createdAt: int
    settledAt: NotRequired[int]


class Head(TypedDict):
    """A response envelope's ``head``."""

    corrId: str
    status: int
    version: str


class Envelope(TypedDict):
    """A response envelope: ``data`` the shaped records, or the error's message."""

    kind: str
    head: Head
    data: Any


class ExecuteMessage(TypedDict):
    """An ``execute`` message as ``GET /poll`` pushes it (``src/types.rs`` ``ExecuteMsg``)."""

    kind: str
    head: dict[str, str]
    data: dict[str, dict[str, str | int]]


def promise_value(v: object) -> PromiseValue:
    """A ``PromiseValue``: ``{headers?, data?}``, ``{}`` for ``null`` (never ``null`` inside).

    A value already in that shape is returned as is (it is serialized at once,
    never changed).
    """
    if type(v) is not dict:
        return {}
    headers = v.get("headers")
    data = v.get("data")
    if len(v) == (headers is not None) + (data is not None):
        return v  # type: ignore[return-value]  # already the shape: no copy per record
    out: PromiseValue = {}
    if headers is not None:
        out["headers"] = headers
    if data is not None:
        out["data"] = data
    return out


def promise_record(rec: Mapping[str, object]) -> PromiseRecord:
    """A ``PromiseRecord``: param/value as :func:`promise_value`, ``settledAt`` only if set."""
    r: Any = rec  # the SDK's ``to_record()`` (or a stored row's): fields passed on as they are
    tags = r.get("tags")
    out: PromiseRecord = {
        "id": r.get("id"), "state": r.get("state"),
        "param": promise_value(r.get("param")), "value": promise_value(r.get("value")),
        "tags": tags if type(tags) is dict else {},
        "timeoutAt": r.get("timeoutAt"), "createdAt": r.get("createdAt")}
    settled = r.get("settledAt")
    if settled is not None:
        out["settledAt"] = settled
    return out


def task_record(rec: Mapping[str, object]) -> dict[str, object]:
    """A ``TaskRecord``: ``{id, state, version, resumes, ttl?, pid?}`` (``resumes`` a count)."""
    resumes = rec.get("resumes", 0)
    out: dict[str, object] = {
        "id": rec.get("id"),
        "state": rec.get("state"),
        "version": rec.get("version"),
        "resumes": resumes if isinstance(resumes, int)
        else len(resumes) if isinstance(resumes, Sized) else 0,
    }
    for key in ("ttl", "pid"):
        if rec.get(key) is not None:
            out[key] = rec[key]
    if rec.keys() <= _TASK_KEYS:
        return out
    for key, value in rec.items():  # rpcdemo's extras (``rpcdemo``), when turned on
        if key not in out and key not in ("promiseId", "resumes", "ttl", "pid"):
            out[key] = value
    return out


def promise_of(p: DurablePromise) -> PromiseRecord:
    """:func:`promise_record` of the SDK's record itself (equal to
    ``promise_record(p.to_record())``, without the dict between): the fast path's shaper."""
    out: PromiseRecord = {
        "id": p.id, "state": p.state,
        "param": promise_value(p.param), "value": promise_value(p.value),
        "tags": p.tags, "timeoutAt": p.timeout_at, "createdAt": p.created_at}
    if p.settled_at is not None:
        out["settledAt"] = p.settled_at
    return out


def task_of(t: Task) -> dict[str, object]:
    """:func:`task_record` of the SDK's record itself (equal to
    ``task_record(t.to_record())``: ``resumes`` 0, as that record carries none)."""
    out: dict[str, object] = {"id": t.id, "state": t.state, "version": t.version,
                              "resumes": 0}
    if t.ttl is not None:
        out["ttl"] = t.ttl
    if t.pid is not None:
        out["pid"] = t.pid
    return out


def answer(kind: str, corr_id: object, data: dict[str, object]) -> Envelope:
    """A success's envelope (status 200), ``data`` already in its Rust shape: what
    :func:`envelope` makes of a flat success of ``kind`` whose records are ``data``'s."""
    return {"kind": kind,
            "head": {"corrId": _corr(corr_id), "status": 200, "version": PROTOCOL_VERSION},
            "data": data}


def schedule_record(rec: Mapping[str, object]) -> dict[str, object]:
    """A ``ScheduleRecord``: ``promiseParam`` a value object, ``lastRunAt`` only if set."""
    out = dict(rec)
    out["promiseParam"] = promise_value(rec.get("promiseParam"))
    if not isinstance(out.get("promiseTags"), dict):
        out["promiseTags"] = {}
    if out.get("lastRunAt") is None:
        out.pop("lastRunAt", None)
    return out


def shape_data(kind: str, data: Mapping[str, object], corr_id: object,
               action_kind: object = None, skip: frozenset[str] = frozenset()
               ) -> dict[str, object]:
    """The ``data`` of a successful response of ``kind``, every record in its Rust shape
    (the keys in ``skip`` left out: a whole flat response's head)."""
    out: dict[str, object] = {}
    for key, value in data.items():
        if key in skip:
            continue
        if key in _PROMISE_FIELDS and isinstance(value, dict):
            out[key] = promise_record(value)
        elif key in _PROMISE_LISTS and isinstance(value, list):
            out[key] = [promise_record(r) for r in value if isinstance(r, dict)]
        elif key == "task" and isinstance(value, dict):
            out[key] = task_record(value)
        elif key == "tasks" and isinstance(value, list):
            out[key] = [task_record(r) for r in value if isinstance(r, dict)]
        elif key == "schedule" and isinstance(value, dict):
            out[key] = schedule_record(value)
        elif key == "schedules" and isinstance(value, list):
            out[key] = [schedule_record(r) for r in value if isinstance(r, dict)]
        elif key == "action" and kind == "task.fence":
            out[key] = _fence_action(value, corr_id, action_kind)
        elif key == "redirect" or (key == "cursor" and value is None):
            continue
        elif value is not None:
            out[key] = value
    return out


def _fence_action(action: object, corr_id: object, action_kind: object) -> dict[str, object]:
    """The fenced request's own response envelope (src/server.rs:1870-1880, 1947-1965)."""
    data = action.get("data") if isinstance(action, dict) else None
    promise = data.get("promise") if isinstance(data, dict) else None
    if isinstance(promise, dict):
        return fenced(corr_id, action_kind, promise_record(promise))
    return {
        "kind": action_kind if isinstance(action_kind, str) else "promise.create",
        "head": {"corrId": _corr(corr_id), "status": 404, "version": PROTOCOL_VERSION},
        "data": "Promise not found",
    }


def fenced(corr_id: object, action_kind: object, promise: PromiseRecord) -> dict[str, object]:
    """A successful fenced create's own envelope, its ``promise`` already shaped."""
    return {
        "kind": action_kind if isinstance(action_kind, str) else "promise.create",
        "head": {"corrId": _corr(corr_id), "status": 200, "version": PROTOCOL_VERSION},
        "data": {"promise": promise},
    }


def envelope(flat: FlatResponse, action_kind: object = None) -> Envelope:
    """The Rust server's response envelope for one flat response.

    ``action_kind``: the ``action.kind`` of a ``task.fence`` request (its
    response's inner envelope names it).
    """
    kind = flat.get("kind")
    kind = "unknown" if kind is None else kind
    corr_id = flat.get("corrId")
    status = flat["status"]
    status = 200 if status == 201 else status
    if status >= 400:
        error = flat.get("error")
        data: Any = error if isinstance(error, str) and error else _DEFAULT_ERRORS.get(
            status, f"request failed with status {status}")
    else:
        data = shape_data(kind, flat, corr_id, action_kind, skip=_HEAD_KEYS)
    return {"kind": kind,
            "head": {"corrId": _corr(corr_id), "status": status, "version": PROTOCOL_VERSION},
            "data": data}


def message(msg: object, server_url: str) -> object:
    """A pushed message as the Rust server pushes it on ``GET /poll``.

    ``execute``: ``{"kind": "execute", "head": {"serverUrl"}, "data": {"task": {id,
    version}}}``; ``unblock``: ``{"kind": "unblock", "head": {}, "data": {"promise"}}``
    with the promise record shaped. Anything else passes unchanged.
    """
    if not isinstance(msg, dict):
        return msg
    kind = msg.get("kind")
    raw = msg.get("data")
    data: dict[str, object] = raw if isinstance(raw, dict) else {}
    if kind == "execute":
        return {"kind": "execute", "head": {"serverUrl": server_url}, "data": data}
    if kind == "unblock":
        promise = data.get("promise")
        return {"kind": "unblock", "head": {},
                "data": {"promise": promise_record(promise) if isinstance(promise, dict)
                         else promise}}
    return msg


def execute_message(task_id: str, version: int, server_url: str) -> ExecuteMessage:
    """The ``execute`` message for one pending task."""
    return {"kind": "execute", "head": {"serverUrl": server_url},
            "data": {"task": {"id": task_id, "version": version}}}


def _corr(corr_id: object) -> str:
    """The Rust server's ``corrId`` is a string (``"0"`` when the request had none)."""
    if isinstance(corr_id, str):
        return corr_id
    return "0" if corr_id is None else str(corr_id)
