"""Protocol validation in front of the state machine: every request checked before it is applied.

:func:`validate` is the one place a decoded JSON object becomes a typed
:data:`~.request.Request`: it answers ``(status, message)`` for a request the
real server refuses, or the request itself, typed (no copy); the engine
answers the refusal without logging or applying anything, so a refused
request changes nothing. The checks read the untyped object (``dict[str,
object]``) and narrow each field; nothing downstream reads it untyped. The rules are those
of Resonate's own server (``resonatehq/resonate``, Rust, commit c8d7c7ba;
citations are ``src/<file>:<line>`` there); where resonate-pg's
``resonate.sql`` differs, the Rust server wins and the comment says so.

* 400: a missing or wrongly typed field, a value outside its domain (settle
  states, versions, TTLs, addresses, cron, tag rules), a task operation whose
  action names the wrong promise (``src/types.rs``);
* 404: the task a task operation names does not exist;
* 409: the task is not in the state the operation needs, or is at another
  version (the fence on every task operation);
* 422: the request is well formed but refers to something unusable (a
  suspend awaiting a promise that does not exist, ``src/server.rs:1692``; a
  task.create over a plain promise, ``src/server.rs:1297``).

Checks that the state machine already answers the same way (404 for an
unknown promise, 409 for release/fulfill on a task that is not acquired) are
left to it. Every function here only reads the state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeGuard, cast

from resonate.connections.local import ServerState, extract_action_data

from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.ids import ORIGIN_SEP, origin_of
from resonate_rpc_cli.server.addresses import is_valid_address
from resonate_rpc_cli.server.cron import CronError, next_run, parse
from resonate_rpc_cli.server.request import Request
from resonate_rpc_cli.server.tracking import peek

#: States a client may settle a promise to (``src/types.rs:97-104``): never
#: ``pending``, never the server-owned ``rejected_timedout``.
SETTLE_STATES = frozenset({"resolved", "rejected", "rejected_canceled"})
#: Separates a promise id's origin from its lineage. SDK 0.8.1 mints
#: ``root:1.2`` (resonate/ids.py, "mirrors the server's own rules"); the Rust
#: snapshot we read still splits on ``.`` (src/types.rs:356-358). We follow
#: the SDK we serve, and accept both separators in the prefix rules.
I64_MAX = (1 << 63) - 1


class Invalid(Exception):
    """A refusal: ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def validate(state: ServerState, req: dict[str, object]) -> Request | tuple[int, str]:
    """``(status, message)`` if the real server would refuse ``req``, else ``req`` typed.

    ``req`` is a decoded flat request whose ``kind`` the caller has checked is
    one the engine knows; a kind with no entry in :data:`CHECKS` (the searches
    and ``task.get`` narrow their own filters) is passed on unchecked.
    """
    check = CHECKS.get(req.get("kind"))  # type: ignore[call-overload]
    if check is not None:
        try:
            check(state, req)
        except Invalid as exc:
            return exc.status, exc.message
        except Exception as exc:  # a shape no rule foresaw: still malformed, never a 500
            return 400, f"malformed {req.get('kind')} request: {type(exc).__name__}: {exc}"
    return cast(Request, req)  # the one narrowing point: every typed field was checked


# -- field helpers --------------------------------------------------------------


def need_str(obj: dict[str, object], key: str, what: str | None = None) -> str:
    value = obj.get(key)
    if type(value) is not str or not value:
        raise Invalid(400, f"{what or key} must be a non-empty string")
    return value


def need_int(obj: dict[str, object], key: str, low: int) -> int:
    value = obj.get(key)
    if type(value) is not int or not low <= value <= I64_MAX:  # type(): a bool is no integer
        raise Invalid(400, f"{key} must be an integer >= {low}")
    return value


def need_obj(obj: dict[str, object], key: str) -> dict[str, object]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise Invalid(400, f"{key} must be an object")
    return value


def opt_value(obj: dict[str, object], key: str) -> None:
    """A value/param: absent or ``{headers?: {str: str}, data?: str}`` (src/types.rs:203-209)."""
    value = obj.get(key)
    if value is None:
        return
    if not isinstance(value, dict):
        raise Invalid(400, f"{key} must be an object {{headers?, data?}}")
    headers = value.get("headers")
    if headers is not None and not _str_map(headers):
        raise Invalid(400, f"{key}.headers must be an object of strings")
    data = value.get("data")
    if data is not None and not isinstance(data, str):
        raise Invalid(400, f"{key}.data must be a string")


def opt_tags(obj: dict[str, object], key: str = "tags") -> dict[str, str]:
    """Tags: absent, or an object whose values are all strings (src/types.rs:279)."""
    tags = obj.get(key)
    if tags is None:
        return {}
    if not _str_map(tags):
        raise Invalid(400, f"{key} must be an object of strings")
    return tags


def _str_map(value: object) -> TypeGuard[dict[str, str]]:
    if type(value) is not dict:
        return False
    return all(type(v) is str for v in value.values())


def _extends(promise_id: str, ancestor: str) -> bool:
    """``promise_id`` is ``ancestor`` or lies below it (``ancestor:...`` or ``ancestor....``)."""
    if promise_id == ancestor:
        return True
    n = len(ancestor)
    return len(promise_id) > n and promise_id[n] in ":." and promise_id.startswith(ancestor)


def action_data(action: object, key: str, kind: str) -> dict[str, object]:
    """The ``data`` of the nested action envelope ``action`` (a flat action is accepted too)."""
    if not isinstance(action, dict):
        raise Invalid(400, f"{key} must be an object")
    if "kind" in action and action["kind"] != kind:
        raise Invalid(400, f"{key} must be a {kind} action")
    data = extract_action_data(action)
    if not isinstance(data, dict):
        raise Invalid(400, f"{key}.data must be an object")
    return data


# -- promises -------------------------------------------------------------------


def check_promise_create_data(data: dict[str, object]) -> tuple[str, dict[str, str]]:
    """A promise.create's fields (top level, task.create, fence actions); returns id and tags."""
    promise_id = need_str(data, "id")
    if "\0" in promise_id:
        raise Invalid(400, "id must not contain null bytes")  # src/types.rs:285
    timeout_at = need_int(data, "timeoutAt", 0)  # src/types.rs:273-275
    opt_value(data, "param")
    tags = opt_tags(data)
    _check_lineage_tags(promise_id, tags)
    _check_delay(tags, timeout_at)
    target = tags.get(tag.TARGET)
    if target is not None and not is_valid_address(target):
        raise Invalid(400, "invalid resonate:target address")  # src/server.rs:584-597
    return promise_id, tags


def _check_lineage_tags(promise_id: str, tags: dict[str, str]) -> None:
    """src/types.rs:289-316: the id extends its origin, branch and parent tags."""
    origin = tags.get(tag.ORIGIN)
    if origin is not None and (ORIGIN_SEP in origin or not _extends(promise_id, origin)):
        raise Invalid(400, "id must be prefixed by resonate:origin (which has no ':')")
    for name in (tag.BRANCH, tag.PARENT):
        ancestor = tags.get(name)
        if ancestor is not None and not _extends(promise_id, ancestor):
            raise Invalid(400, f"id must be prefixed by {name}")


def _check_delay(tags: dict[str, str], timeout_at: int) -> None:
    """src/types.rs:317-334: a non-negative integer below timeoutAt, only with a target."""
    delay = tags.get(tag.DELAY)
    if delay is None:
        return
    if not delay.isdigit() or not delay.isascii():
        raise Invalid(400, "resonate:delay must be a non-negative integer")
    if int(delay) >= timeout_at:
        raise Invalid(400, "resonate:delay must be less than timeoutAt")
    if tag.TARGET not in tags:
        raise Invalid(400, "resonate:delay requires a resonate:target tag")


def check_settle_data(data: dict[str, object]) -> None:
    need_str(data, "id")
    settle = data.get("state")
    if not isinstance(settle, str) or settle not in SETTLE_STATES:  # src/types.rs:339-345
        raise Invalid(400, "state must be one of resolved, rejected, rejected_canceled")
    opt_value(data, "value")


def _promise_get(state: ServerState, req: dict[str, object]) -> None:
    need_str(req, "id")


def _promise_create(state: ServerState, req: dict[str, object]) -> None:
    check_promise_create_data(req)


def _promise_settle(state: ServerState, req: dict[str, object]) -> None:
    check_settle_data(req)


def _register_callback(state: ServerState, req: dict[str, object]) -> None:
    """src/types.rs:348-372 (404/422 come from the kind itself, server/kinds.py)."""
    awaited = need_str(req, "awaited")
    awaiter = need_str(req, "awaiter")
    if awaited == awaiter:
        raise Invalid(400, "awaited and awaiter must be different promises")
    if origin_of(awaited) != origin_of(awaiter):
        raise Invalid(400, "awaiter and awaited must belong to the same origin")


def _register_listener(state: ServerState, req: dict[str, object]) -> None:
    need_str(req, "awaited")
    if not is_valid_address(need_str(req, "address")):
        raise Invalid(400, "invalid listener address")  # src/server.rs:884-895


# -- tasks ----------------------------------------------------------------------


def _task_create(state: ServerState, req: dict[str, object]) -> None:
    """src/types.rs:398-418 and src/server.rs:1297."""
    need_str(req, "pid")
    need_int(req, "ttl", 1)
    data = action_data(req.get("action"), "action", "promise.create")
    promise_id, tags = check_promise_create_data(data)
    if tag.TARGET not in tags:
        raise Invalid(400, "action must have a resonate:target tag")
    if tag.DELAY in tags:
        raise Invalid(400, "action must not have a resonate:delay tag")
    p = peek(state.promises, promise_id)
    if p is not None and tag.TARGET not in p.tags:
        raise Invalid(422, "the promise does not have a resonate:target tag")


def _task_acquire(state: ServerState, req: dict[str, object]) -> None:
    """src/types.rs:431-440; 404/409 as src/server.rs:1366-1402."""
    task_id = need_str(req, "id")
    version = need_int(req, "version", 0)
    need_str(req, "pid")
    need_int(req, "ttl", 1)
    t = peek(state.tasks, task_id)
    if t is None:
        raise Invalid(404, "Task not found")
    if t.state != "pending":  # whoever asks, its holder too: one lease per acquire
        raise Invalid(409, "Task is not pending")
    if t.version != version:
        raise Invalid(409, "Version mismatch")


def _task_release(state: ServerState, req: dict[str, object]) -> None:
    need_str(req, "id")
    need_int(req, "version", 0)  # src/types.rs:443-448


def _task_fulfill(state: ServerState, req: dict[str, object]) -> None:
    """src/types.rs:513-529: the settle action names the task's own promise."""
    task_id = need_str(req, "id")
    need_int(req, "version", 0)
    data = action_data(req.get("action"), "action", "promise.settle")
    check_settle_data(data)
    if data["id"] != task_id:
        raise Invalid(400, "action id must match the task id")


def _task_suspend(state: ServerState, req: dict[str, object]) -> None:
    """src/types.rs:461-491; 404/409/422 as src/server.rs:1667-1692."""
    task_id = need_str(req, "id")
    version = need_int(req, "version", 0)
    actions = req.get("actions")
    if not isinstance(actions, list) or not actions:
        raise Invalid(400, "actions must be a non-empty array")
    awaited = [_suspend_action(task_id, a) for a in actions]
    t = peek(state.tasks, task_id)
    if t is None:
        raise Invalid(404, "task not found")
    if t.state != "acquired" or t.version != version:
        raise Invalid(409, "task is not acquired or version mismatch")
    if any(a not in state.promises for a in awaited):
        raise Invalid(422, "awaited promise not found")
    # Duplicates are deduplicated, as the Rust server does (src/server.rs:1654-1660);
    # resonate-pg answers 400 for them. The Rust server wins.


def _suspend_action(task_id: str, action: object) -> str:
    data = action_data(action, "actions[]", "promise.register_callback")
    awaited = need_str(data, "awaited", "actions[].awaited")
    if data.get("awaiter") != task_id:
        raise Invalid(400, "every action's awaiter must be the task id")
    if awaited == task_id:
        raise Invalid(400, "a task must not await its own promise")
    if origin_of(awaited) != origin_of(task_id):
        raise Invalid(400, "awaited promise must belong to the task's origin")
    return awaited


def _task_fence(state: ServerState, req: dict[str, object]) -> None:
    """src/types.rs:540-557: a create or settle of a promise other than the task's own."""
    task_id = need_str(req, "id")
    need_int(req, "version", 0)
    action = need_obj(req, "action")
    kind = action.get("kind")
    data = action.get("data")
    if kind not in ("promise.create", "promise.settle") or not isinstance(data, dict):
        raise Invalid(400, "action must be a promise.create or promise.settle envelope")
    if kind == "promise.create":
        check_promise_create_data(data)
    else:
        check_settle_data(data)
    if data["id"] == task_id:
        raise Invalid(400, "action id must not be the task id")


def _task_heartbeat(state: ServerState, req: dict[str, object]) -> None:
    """src/types.rs:559-572. Not enforced: the same-origin rule of src/types.rs:574-587,
    because SDK 0.8.1 heartbeats every task of a process in one request (resonate/send.py)."""
    need_str(req, "pid")
    tasks = req.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise Invalid(400, "tasks must be a non-empty array")
    for ref in tasks:
        if not isinstance(ref, dict):
            raise Invalid(400, "tasks[] must be objects {id, version}")
        need_str(ref, "id", "tasks[].id")
        need_int(ref, "version", 0)


def _task_id_only(state: ServerState, req: dict[str, object]) -> None:
    need_str(req, "id")  # task.halt, task.continue: src/types.rs:589-599


# -- schedules ------------------------------------------------------------------


def _schedule_create(state: ServerState, req: dict[str, object]) -> None:
    """src/types.rs:615-646 and src/server.rs:2373 (cron)."""
    schedule_id = need_str(req, "id")
    if "." in schedule_id:
        raise Invalid(400, "schedule id must not contain '.'")
    cron = need_str(req, "cron")
    try:
        next_run(parse(cron), 0)
    except CronError as exc:
        raise Invalid(400, f"invalid cron expression: {exc}") from None
    need_str(req, "promiseId")
    need_int(req, "promiseTimeout", 0)
    opt_value(req, "promiseParam")
    tags = opt_tags(req, "promiseTags")
    target = tags.get(tag.TARGET)
    if target is None:
        raise Invalid(400, "promiseTags must include a resonate:target tag")
    if not is_valid_address(target):
        raise Invalid(400, "invalid resonate:target address")


def _schedule_search(state: ServerState, req: dict[str, object]) -> None:
    opt_tags(req)
    if req.get("limit") is not None:
        need_int(req, "limit", 1)
    cursor = req.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise Invalid(400, "cursor must be a string")


CHECKS: dict[str, Callable[[ServerState, dict[str, object]], None]] = {
    "promise.get": _promise_get,
    "promise.create": _promise_create,
    "promise.settle": _promise_settle,
    "promise.register_callback": _register_callback,
    "promise.register_listener": _register_listener,
    "task.create": _task_create,
    "task.acquire": _task_acquire,
    "task.release": _task_release,
    "task.fulfill": _task_fulfill,
    "task.suspend": _task_suspend,
    "task.fence": _task_fence,
    "task.heartbeat": _task_heartbeat,
    "task.halt": _task_id_only,
    "task.continue": _task_id_only,
    "schedule.create": _schedule_create,
    "schedule.get": _task_id_only,
    "schedule.delete": _task_id_only,
    "schedule.search": _schedule_search,
}
