"""The Rust server's response types, as a small validator every protocol test response passes.

Written by hand from ``src/types.rs`` of resonatehq/resonate at c8d7c7ba
(``ResponseEnvelope``, ``PromiseRecord``, ``PromiseValue``, ``TaskRecord``,
``ScheduleRecord``, the ``*ResponseData`` structs, ``ExecuteMsg``) and the
statuses of ``src/server.rs``. A record has exactly its type's keys: the
required ones, the ``skip_serializing_if`` ones only when set (never
``null``), nothing else, except the extras rpcdemo documents
(docs/protocol-differences.md). :func:`problems` returns what is wrong with a
response (empty: it conforms); :func:`check` raises with all of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PROTOCOL_VERSION = "2026-04-01"
PROMISE_STATES = frozenset(
    {"pending", "resolved", "rejected", "rejected_canceled", "rejected_timedout"})
TASK_STATES = frozenset({"pending", "acquired", "suspended", "halted", "fulfilled"})
#: rpcdemo's documented extra on task records (``--no-extras`` removes it).
TASK_EXTRAS = frozenset({"rpcdemo"})

Problems = list[str]
Check = Callable[[Any, str], Problems]


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str_map(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str)
                                       for k, x in v.items())


def _keys(obj: Any, where: str, required: dict[str, Callable[[Any], bool]],
          optional: dict[str, Callable[[Any], bool]] | None = None,
          extras: frozenset[str] = frozenset()) -> Problems:
    """``obj`` is a dict with every required key, optional ones only non-null, nothing else."""
    if not isinstance(obj, dict):
        return [f"{where}: not an object: {obj!r}"]
    optional = optional or {}
    out = [f"{where}.{k}: missing" for k in required if k not in obj]
    for k, v in obj.items():
        test = required.get(k) or optional.get(k)
        if test is None:
            if k not in extras:
                out.append(f"{where}.{k}: not a field of the Rust type")
        elif v is None:
            out.append(f"{where}.{k}: null (the Rust server omits it or never sends null)")
        elif not test(v):
            out.append(f"{where}.{k}: bad value {v!r}")
    return out


def promise_value(v: Any, where: str) -> Problems:
    return _keys(v, where, {}, {"headers": _str_map, "data": lambda x: isinstance(x, str)})


def promise_record(rec: Any, where: str = "promise") -> Problems:
    out = _keys(rec, where, {
        "id": lambda x: isinstance(x, str), "state": lambda x: x in PROMISE_STATES,
        "param": lambda x: isinstance(x, dict), "value": lambda x: isinstance(x, dict),
        "tags": _str_map, "timeoutAt": _int, "createdAt": _int,
    }, {"settledAt": _int})
    if isinstance(rec, dict):
        for key in ("param", "value"):
            if isinstance(rec.get(key), dict):
                out += promise_value(rec[key], f"{where}.{key}")
    return out


def task_record(rec: Any, where: str = "task") -> Problems:
    return _keys(rec, where, {
        "id": lambda x: isinstance(x, str), "state": lambda x: x in TASK_STATES,
        "version": _int, "resumes": _int,
    }, {"ttl": _int, "pid": lambda x: isinstance(x, str)}, TASK_EXTRAS)


def schedule_record(rec: Any, where: str = "schedule") -> Problems:
    out = _keys(rec, where, {
        "id": lambda x: isinstance(x, str), "cron": lambda x: isinstance(x, str),
        "promiseId": lambda x: isinstance(x, str), "promiseTimeout": _int,
        "promiseParam": lambda x: isinstance(x, dict), "promiseTags": _str_map,
        "createdAt": _int, "nextRunAt": _int,
    }, {"lastRunAt": _int})
    if isinstance(rec, dict) and isinstance(rec.get("promiseParam"), dict):
        out += promise_value(rec["promiseParam"], f"{where}.promiseParam")
    return out


def _list_of(check: Check) -> Callable[[Any, str], Problems]:
    def each(v: Any, where: str) -> Problems:
        if not isinstance(v, list):
            return [f"{where}: not a list"]
        return [p for i, r in enumerate(v) for p in check(r, f"{where}[{i}]")]
    return each


def _data(fields: dict[str, Check], optional: dict[str, Check] | None = None) -> Check:
    """A ``*ResponseData`` struct: exactly ``fields`` (and ``optional`` when set)."""
    optional = optional or {}

    def check(data: Any, where: str) -> Problems:
        out = _keys(data, where, dict.fromkeys(fields, lambda _: True),
                    dict.fromkeys(optional, lambda x: True))
        if isinstance(data, dict):
            for key, sub in {**fields, **optional}.items():
                if data.get(key) is not None:
                    out += sub(data[key], f"{where}.{key}")
        return out
    return check


def _cursor(v: Any, where: str) -> Problems:
    return [] if isinstance(v, str) else [f"{where}: not a string"]


def _fence_action(v: Any, where: str) -> Problems:
    """``TaskFenceResponseData.action``: the fenced request's whole response envelope."""
    out = envelope_problems(v, where, v.get("kind") if isinstance(v, dict) else None)
    if isinstance(v, dict) and v.get("kind") not in ("promise.create", "promise.settle"):
        out.append(f"{where}.kind: {v.get('kind')!r} is not a fence action")
    return out


_PROMISE = _data({"promise": promise_record})
_EMPTY = _data({})
_PRELOADED = _data({"task": task_record, "promise": promise_record,
                    "preload": _list_of(promise_record)})
#: kind → status → the data's type (src/types.rs Response Data Structs; src/server.rs).
SUCCESS: dict[str, dict[int, Check]] = {
    "promise.get": {200: _PROMISE},
    "promise.create": {200: _PROMISE},
    "promise.settle": {200: _PROMISE},
    "promise.register_callback": {200: _PROMISE},
    "promise.register_listener": {200: _PROMISE},
    "promise.search": {200: _data({"promises": _list_of(promise_record)}, {"cursor": _cursor})},
    "task.get": {200: _data({"task": task_record})},
    "task.create": {200: _PRELOADED},
    "task.acquire": {200: _PRELOADED},
    "task.release": {200: _EMPTY},
    "task.fulfill": {200: _PROMISE},
    "task.suspend": {200: _EMPTY, 300: _data({"preload": _list_of(promise_record)})},
    "task.fence": {200: _data({"action": _fence_action,
                               "preload": _list_of(promise_record)})},
    "task.heartbeat": {200: _EMPTY},
    "task.halt": {200: _EMPTY},
    "task.continue": {200: _EMPTY},
    "task.search": {200: _data({"tasks": _list_of(task_record)}, {"cursor": _cursor})},
    "schedule.get": {200: _data({"schedule": schedule_record})},
    "schedule.create": {200: _data({"schedule": schedule_record})},
    "schedule.delete": {200: _EMPTY},
    "schedule.search": {200: _data({"schedules": _list_of(schedule_record)},
                                   {"cursor": _cursor})},
}


def envelope_problems(resp: Any, where: str = "response", kind: Any = None) -> Problems:
    """What in ``resp`` differs from a ``ResponseEnvelope`` the Rust server sends for ``kind``."""
    out = _keys(resp, where, {"kind": lambda x: isinstance(x, str), "head": lambda x: True,
                              "data": lambda x: True})
    if not isinstance(resp, dict):
        return out
    if kind is not None and resp.get("kind") != kind:
        out.append(f"{where}.kind: {resp.get('kind')!r}, asked {kind!r}")
    head = resp.get("head")
    out += _keys(head, f"{where}.head", {"corrId": lambda x: isinstance(x, str),
                                          "status": _int,
                                          "version": lambda x: x == PROTOCOL_VERSION})
    status = head.get("status") if isinstance(head, dict) else None
    if not isinstance(status, int) or isinstance(status, bool):
        return out
    data = resp.get("data")
    if status >= 400:
        if not isinstance(data, str) or not data:
            out.append(f"{where}.data: an error's data is its message string, got {data!r}")
        return out
    shapes = SUCCESS.get(str(resp.get("kind")), {})
    shape = shapes.get(status)
    if shape is None:
        out.append(f"{where}.head.status: {status} is not a success the Rust server answers "
                   f"to {resp.get('kind')} (it answers {sorted(shapes)})")
        return out
    return out + shape(data, f"{where}.data")


def message_problems(msg: Any, where: str = "message") -> Problems:
    """What in a message pushed on ``GET /poll`` differs from the Rust server's."""
    kind = msg.get("kind") if isinstance(msg, dict) else None
    if kind == "execute":
        out = _keys(msg, where, {"kind": lambda x: True, "head": lambda x: True,
                                 "data": lambda x: True})
        out += _keys(msg.get("head"), f"{where}.head",
                     {"serverUrl": lambda x: isinstance(x, str)})
        data = msg.get("data")
        out += _keys(data, f"{where}.data", {"task": lambda x: True})
        if isinstance(data, dict):
            out += _keys(data.get("task"), f"{where}.data.task",
                         {"id": lambda x: isinstance(x, str), "version": _int})
        return out
    if kind == "unblock":
        out = _keys(msg, where, {"kind": lambda x: True, "head": lambda x: x == {},
                                 "data": lambda x: True})
        return out + _PROMISE(msg.get("data"), f"{where}.data")
    return [f"{where}: unknown message kind {kind!r}"]


def check(resp: Any, kind: Any = None) -> None:
    """Raise ``AssertionError`` listing every way ``resp`` differs from the Rust types."""
    found = envelope_problems(resp, "response", kind)
    assert not found, "response is not shaped as the Rust server's:\n  " + "\n  ".join(found)
