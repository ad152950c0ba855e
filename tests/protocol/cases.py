"""The conformance table: a request, the status and shape expected, and the rule it checks.

Every case runs in a lineage of its own: ``o`` is a fresh origin (promise ids
are ``o`` and ``o:1``, ``o:2``, ...), ``v`` the task version the setup left
(the acquire response's, since servers number versions differently).
Citations ``src/...`` are files of resonatehq/resonate (the Rust server) at
commit c8d7c7ba; where resonate-pg answers otherwise, DIFFERENCES says why
(and docs/protocol-differences.md lists it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAR = 4_000_000_000_000  # a timeout far in the future (ms)
TARGET = "poll://any@conformance"
Step = tuple[str, dict[str, Any]]
Data = Callable[[str, int], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """``kind``/``data`` sent after ``setup``; ``status`` (one or several allowed) and ``shape``."""

    name: str
    rule: str
    kind: str
    data: Data
    status: int | tuple[int, ...]
    shape: tuple[str, ...] = ()
    setup: Callable[[str], list[Step]] = field(default=lambda o: [])
    check: Callable[[Any], bool] | None = None


def promise(pid: str, target: bool = False, **extra: Any) -> Step:
    tags = {"resonate:target": TARGET} if target else {}
    return "promise.create", {"id": pid, "timeoutAt": FAR, "param": {}, "tags": tags, **extra}


def acquired(o: str) -> list[Step]:
    """A task for ``o``, acquired by w1 (its version is captured as ``v``)."""
    return [promise(o, target=True),
            ("task.acquire", {"id": o, "version": 0, "pid": "w1", "ttl": 60_000})]


def settle_action(pid: str, state: str = "resolved") -> dict[str, Any]:
    return {"kind": "promise.settle", "head": {"corrId": "a", "version": "2026-04-01"},
            "data": {"id": pid, "state": state, "value": {}}}


def callback(awaited: str, awaiter: str) -> dict[str, Any]:
    return {"kind": "promise.register_callback", "head": {"corrId": "a", "version": "2026-04-01"},
            "data": {"awaited": awaited, "awaiter": awaiter}}


def state_is(state: str, key: str = "promise") -> Callable[[Any], bool]:
    return lambda d: isinstance(d, dict) and d[key]["state"] == state


CREATED = (200, 201)

PROMISE_CASES = [
    Case("create_ok", "src/server.rs:552-668", "promise.create",
         lambda o, v: promise(o)[1], CREATED, ("promise",), check=state_is("pending")),
    Case("create_without_timeout", "src/types.rs:273-275 (timeoutAt required i64)",
         "promise.create", lambda o, v: {"id": o}, 400),
    Case("create_timeout_not_integer", "src/types.rs:273-275", "promise.create",
         lambda o, v: {"id": o, "timeoutAt": "soon"}, 400),
    Case("create_negative_timeout", "src/types.rs:274 (range min 0)", "promise.create",
         lambda o, v: {"id": o, "timeoutAt": -1}, 400),
    Case("create_tag_not_string", "src/types.rs:279 (HashMap<String, String>)",
         "promise.create", lambda o, v: {"id": o, "timeoutAt": FAR, "tags": {"n": 1}}, 400),
    Case("create_bad_target", "src/server.rs:584-597, src/transport/mod.rs:191-240",
         "promise.create",
         lambda o, v: {"id": o, "timeoutAt": FAR, "tags": {"resonate:target": "ftp://x"}}, 400),
    Case("create_origin_not_prefix", "src/types.rs:289-296", "promise.create",
         lambda o, v: {"id": f"{o}:1", "timeoutAt": FAR, "tags": {"resonate:origin": "else"}},
         400),
    Case("create_delay_without_target", "src/types.rs:330-333", "promise.create",
         lambda o, v: {"id": o, "timeoutAt": FAR, "tags": {"resonate:delay": "5"}}, 400),
    Case("create_existing_is_idempotent", "src/server.rs:644-651 (already exists)",
         "promise.create", lambda o, v: promise(o)[1], 200, ("promise",),
         setup=lambda o: [promise(o)]),
    Case("get_unknown", "src/server.rs:534", "promise.get", lambda o, v: {"id": o}, 404),
    Case("settle_ok", "src/server.rs:670-760", "promise.settle",
         lambda o, v: {"id": o, "state": "rejected", "value": {}}, 200, ("promise",),
         setup=lambda o: [promise(o)], check=state_is("rejected")),
    Case("settle_to_pending", "src/types.rs:97-104 (SettleState)", "promise.settle",
         lambda o, v: {"id": o, "state": "pending"}, 400, setup=lambda o: [promise(o)]),
    Case("settle_forged_timedout", "src/types.rs:97-104 (SettleState)", "promise.settle",
         lambda o, v: {"id": o, "state": "rejected_timedout"}, 400,
         setup=lambda o: [promise(o)]),
    Case("settle_unknown_state", "src/types.rs:97-104 (SettleState)", "promise.settle",
         lambda o, v: {"id": o, "state": "done"}, 400, setup=lambda o: [promise(o)]),
    Case("settle_unknown_promise", "src/server.rs:745", "promise.settle",
         lambda o, v: {"id": o, "state": "resolved"}, 404),
    Case("settle_settled_keeps_first", "src/server.rs:720-737 (idempotent echo)",
         "promise.settle", lambda o, v: {"id": o, "state": "rejected"}, 200, ("promise",),
         setup=lambda o: [promise(o), ("promise.settle", {"id": o, "state": "resolved"})],
         check=state_is("resolved")),
    Case("listener_bad_address", "src/server.rs:884-895", "promise.register_listener",
         lambda o, v: {"awaited": o, "address": "tcp://x"}, 400, setup=lambda o: [promise(o)]),
    Case("listener_poll_without_cast", "src/transport/mod.rs:209-214",
         "promise.register_listener", lambda o, v: {"awaited": o, "address": "poll://g"}, 400,
         setup=lambda o: [promise(o)]),
    Case("listener_ok", "src/server.rs:852-930", "promise.register_listener",
         lambda o, v: {"awaited": o, "address": "poll://uni@g/p"}, 200, ("promise",),
         setup=lambda o: [promise(o)]),
    Case("listener_unknown", "src/server.rs:915", "promise.register_listener",
         lambda o, v: {"awaited": o, "address": "poll://uni@g/p"}, 404),
    Case("callback_self", "src/types.rs:363-366", "promise.register_callback",
         lambda o, v: {"awaited": o, "awaiter": o}, 400, setup=lambda o: [promise(o, True)]),
    Case("callback_other_origin", "src/types.rs:367-370", "promise.register_callback",
         lambda o, v: {"awaited": "elsewhere", "awaiter": o}, 400,
         setup=lambda o: [promise(o, True)]),
    Case("callback_unknown_awaited", "src/server.rs:797-805", "promise.register_callback",
         lambda o, v: {"awaited": f"{o}:1", "awaiter": o}, 404,
         setup=lambda o: [promise(o, True)]),
    Case("callback_unknown_awaiter", "src/server.rs:808-817", "promise.register_callback",
         lambda o, v: {"awaited": f"{o}:1", "awaiter": o}, 422,
         setup=lambda o: [promise(f"{o}:1")]),
    Case("callback_awaiter_without_target", "src/server.rs:818-827",
         "promise.register_callback", lambda o, v: {"awaited": f"{o}:1", "awaiter": o}, 422,
         setup=lambda o: [promise(o), promise(f"{o}:1")]),
    Case("callback_ok", "src/server.rs:763-850", "promise.register_callback",
         lambda o, v: {"awaited": f"{o}:1", "awaiter": o}, 200, ("promise",),
         setup=lambda o: [promise(o, True), promise(f"{o}:1")], check=state_is("pending")),
    Case("unknown_kind", "src/server.rs:474-483", "promise.frobnicate",
         lambda o, v: {"id": o}, 400),
    Case("promise_search", "src/server.rs:933-1017", "promise.search",
         lambda o, v: {"tags": {"resonate:origin": o}}, 200, ("promises",),
         setup=lambda o: [promise(o, tags={"resonate:origin": o})],
         check=lambda d: [p["id"] for p in d["promises"]] != []),
]
