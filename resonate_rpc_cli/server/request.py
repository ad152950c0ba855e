"""The flat requests the engine applies, one ``TypedDict`` per kind.

A flat request is the envelope's ``data`` with ``kind`` and ``corrId``
(:func:`unwrap`, as :func:`resonate.connections.local.unwrap_request_envelope`). The shapes are
those of the Rust server's ``src/types.rs`` (resonatehq/resonate at c8d7c7ba)
as SDK 0.8.1 sends them. :func:`.validation.validate` is the one place that
narrows a decoded JSON object to a :data:`Request`: every field typed here
other than ``object`` was checked there (``object`` marks a field the kind's
own code narrows, e.g. the searches' filters, or one passed to the SDK's
``ServerState`` as it came). Nothing is converted: a request stays the dict
it was decoded as.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


def unwrap(envelope: object) -> object:
    """The flat request of a decoded ``{kind, head: {corrId}, data}`` envelope, as the SDK's
    ``unwrap_request_envelope`` makes it, but ``data`` itself (no copy) with ``kind`` and
    ``head.corrId`` set in it: the envelope is a freshly decoded one nothing else reads.
    Anything else is returned as it is."""
    if type(envelope) is not dict or "head" not in envelope or "data" not in envelope:
        return envelope
    data = envelope["data"]
    flat = data if type(data) is dict else {}
    if "kind" in envelope:
        flat["kind"] = envelope["kind"]
    head = envelope["head"]
    if type(head) is dict and "corrId" in head:
        flat["corrId"] = head["corrId"]
    return flat


#: Kinds ServerState applies and that may change state: what they touch is persisted.
MUTATING_KINDS = frozenset({
    "promise.create", "promise.settle", "promise.register_listener", "promise.register_callback",
    "task.create", "task.acquire", "task.release", "task.fulfill", "task.fence", "task.suspend",
    "task.heartbeat", "task.halt", "task.continue", "schedule.create", "schedule.delete"})
#: Read-only kinds: nothing persisted (``promise.get`` only when it times a promise out).
READ_KINDS = frozenset(
    {"promise.get", "promise.search", "task.search", "task.get", "schedule.get", "schedule.search"}
)
KNOWN_KINDS = MUTATING_KINDS | READ_KINDS
#: Read-only kinds answered from the indexes (:mod:`.search`), not by ServerState.
INDEX_READS = frozenset({"promise.search", "task.search", "task.get"})
#: Kinds that read every record (answered only once the store is read).
SEARCHES = frozenset({"promise.search", "task.search"})


#: The states a client may settle a promise to (src/types.rs:97-104).
SettleState = Literal["resolved", "rejected", "rejected_canceled"]


class Value(TypedDict, total=False):
    """A param/value as sent: ``{headers?, data?}`` (src/types.rs:203-209), ``null`` allowed."""

    headers: dict[str, str] | None
    data: str | None


class PromiseCreateData(TypedDict):
    """A promise.create's fields: top level, and inside task.create/task.fence actions."""

    id: str
    timeoutAt: int
    param: NotRequired[Value | None]
    tags: NotRequired[dict[str, str] | None]


class SettleData(TypedDict):
    """A promise.settle's fields: top level, and inside task.fulfill/task.fence actions."""

    id: str
    state: SettleState
    value: NotRequired[Value | None]


class FenceAction(TypedDict):
    """A task.fence's ``action``: a whole promise.create or promise.settle envelope."""

    kind: Literal["promise.create", "promise.settle"]
    data: PromiseCreateData | SettleData


class TaskRef(TypedDict):
    """One entry of a task.heartbeat's ``tasks``."""

    id: str
    version: int


class PromiseGet(TypedDict):
    kind: Literal["promise.get"]
    corrId: NotRequired[object]
    id: str


class PromiseCreate(PromiseCreateData):
    kind: Literal["promise.create"]
    corrId: NotRequired[object]


class PromiseSettle(SettleData):
    kind: Literal["promise.settle"]
    corrId: NotRequired[object]


class RegisterCallback(TypedDict):
    kind: Literal["promise.register_callback"]
    corrId: NotRequired[object]
    awaited: str
    awaiter: str


class RegisterListener(TypedDict):
    kind: Literal["promise.register_listener"]
    corrId: NotRequired[object]
    awaited: str
    address: str


class PromiseSearch(TypedDict):
    """Filters narrowed by :func:`.search.promise_search` itself (a 400 there)."""

    kind: Literal["promise.search"]
    corrId: NotRequired[object]
    state: NotRequired[object]
    tags: NotRequired[object]
    limit: NotRequired[object]
    cursor: NotRequired[object]


class TaskCreate(TypedDict):
    """``action``: a promise.create envelope or its flat data (``extract_action_data``)."""

    kind: Literal["task.create"]
    corrId: NotRequired[object]
    pid: str
    ttl: int
    action: object


class TaskAcquire(TypedDict):
    kind: Literal["task.acquire"]
    corrId: NotRequired[object]
    id: str
    version: int
    pid: str
    ttl: int


class TaskRelease(TypedDict):
    kind: Literal["task.release"]
    corrId: NotRequired[object]
    id: str
    version: int


class TaskFulfill(TypedDict):
    """``action``: a promise.settle envelope or its flat data, naming the task's promise."""

    kind: Literal["task.fulfill"]
    corrId: NotRequired[object]
    id: str
    version: int
    action: object


class TaskSuspend(TypedDict):
    """``actions``: promise.register_callback envelopes (or their flat data)."""

    kind: Literal["task.suspend"]
    corrId: NotRequired[object]
    id: str
    version: int
    actions: list[object]


class TaskFence(TypedDict):
    kind: Literal["task.fence"]
    corrId: NotRequired[object]
    id: str
    version: int
    action: FenceAction


class TaskHeartbeat(TypedDict):
    kind: Literal["task.heartbeat"]
    corrId: NotRequired[object]
    pid: str
    tasks: list[TaskRef]


class TaskHalt(TypedDict):
    kind: Literal["task.halt"]
    corrId: NotRequired[object]
    id: str


class TaskContinue(TypedDict):
    kind: Literal["task.continue"]
    corrId: NotRequired[object]
    id: str


class TaskSearch(TypedDict):
    """Filters narrowed by :func:`.search.task_search` itself (a 400 there)."""

    kind: Literal["task.search"]
    corrId: NotRequired[object]
    state: NotRequired[object]
    limit: NotRequired[object]
    cursor: NotRequired[object]


class TaskGet(TypedDict):
    """``id`` narrowed by :func:`.search.task_get` itself (a 400 there)."""

    kind: Literal["task.get"]
    corrId: NotRequired[object]
    id: NotRequired[object]


class ScheduleCreate(TypedDict):
    kind: Literal["schedule.create"]
    corrId: NotRequired[object]
    id: str
    cron: str
    promiseId: str
    promiseTimeout: int
    promiseParam: NotRequired[Value | None]
    promiseTags: dict[str, str]


class ScheduleGet(TypedDict):
    kind: Literal["schedule.get"]
    corrId: NotRequired[object]
    id: str


class ScheduleDelete(TypedDict):
    kind: Literal["schedule.delete"]
    corrId: NotRequired[object]
    id: str


class ScheduleSearch(TypedDict):
    kind: Literal["schedule.search"]
    corrId: NotRequired[object]
    tags: NotRequired[dict[str, str] | None]
    limit: NotRequired[int | None]
    cursor: NotRequired[str | None]


#: Every request the engine applies, discriminated by ``kind``.
Request = (
    PromiseGet | PromiseCreate | PromiseSettle | RegisterCallback | RegisterListener
    | PromiseSearch | TaskCreate | TaskAcquire | TaskRelease | TaskFulfill | TaskSuspend
    | TaskFence | TaskHeartbeat | TaskHalt | TaskContinue | TaskSearch | TaskGet
    | ScheduleCreate | ScheduleGet | ScheduleDelete | ScheduleSearch
)
