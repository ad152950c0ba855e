"""The fast path: the common case of the SDK flows' kinds, knowing which records it changes.

The SDK flows' requests are ``task.acquire``, ``task.heartbeat``, ``task.fence`` (a
child's ``promise.create``), ``task.fulfill``, ``task.suspend``, ``promise.create``
and ``promise.register_listener``. Through :class:`ServerState`'s handlers
each reaches its records through tracked lookups (:mod:`.tracking`), has every
record it reached marked, compared and counted afterwards (``end_op``), and walks
the SDK's dispatch and auto-timeouts. Here each does exactly what the SDK's
handler does in its common case (the same response, the same records, the same
outgoing messages, in the same order) and itself counts (:class:`~.census.Census`)
and marks dirty the records it changed, nothing else.

:func:`fast_apply` answers in the wire's shape (what :func:`.wire.envelope` makes of the
general path's flat response, byte for byte: the records shaped straight from the SDK's
records by :func:`.wire.promise_of`/:func:`.wire.task_of`, no flat dict between); it is
:meth:`.engine.Engine.serve`'s. It answers ``None``, having changed nothing, for anything but the
common case (a missing or timed-out record, a refusal, a settled or existing
promise, a record not loaded yet): the engine then takes the general path. It is
only used on an :class:`IndexedServerState` that is fully loaded, with a request
:mod:`.validation` accepted and nothing touched yet; with a transition journal it notes
the before-images of what it changes (:class:`~.journal.Images`), so the journal reads
as the general path's would.
``tests/unit/test_server_fastpath.py`` holds it to the SDK's ``ServerState``
(as :class:`~.leases.LeaseServerState`) and to the general path request by request on
random flows.
"""

from __future__ import annotations

from typing import cast

from resonate.connections.local import (
    I64_MAX,
    PENDING_RETRY_TTL,
    DurablePromise,
    OutgoingMessage,
    Task,
    _i64,
    _parse_int,
    _parse_promise_state,
    extract_action_data,
    extract_tags,
)

from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.server.journal import Images
from resonate_rpc_cli.server.leases import LEASE_TIMEOUT, RETRY_TIMEOUT
from resonate_rpc_cli.server.request import (
    PromiseCreate,
    PromiseCreateData,
    RegisterListener,
    Request,
    TaskAcquire,
    TaskFence,
    TaskFulfill,
    TaskHeartbeat,
    TaskSuspend,
)
from resonate_rpc_cli.server.state import SHARED_EMPTY, IndexedServerState
from resonate_rpc_cli.server.wire import (
    Envelope,
    PromiseRecord,
    answer,
    fenced,
    promise_of,
    task_of,
)

#: Without a journal nothing is noted: one shared collector, no dicts per request.
_NO_JOURNAL = Images(None)
#: The kinds with a fast path.
FAST_KINDS = frozenset({"task.acquire", "task.fence", "task.fulfill", "task.heartbeat",
                        "task.suspend", "promise.create", "promise.register_listener"})


def fast_apply(state: IndexedServerState, now: int, req: Request) -> Envelope | None:
    """``req``'s response, in the wire's shape (:func:`.wire.envelope` of the flat response
    the general path gives), if it is a common case of a fast kind (applied, counted,
    marked dirty and journaled), else ``None`` with nothing changed."""
    images = _NO_JOURNAL if state.journal is None else Images(state.journal)
    resp = _dispatch(state, now, req, images)
    if resp is not None:
        images.close(state.promises, state.tasks)
    return resp


def _dispatch(state: IndexedServerState, now: int, req: Request,
              images: Images) -> Envelope | None:
    if req["kind"] == "task.acquire":
        return _acquire(state, now, req, images)
    if req["kind"] == "task.fence":
        return _fence(state, now, req, images)
    if req["kind"] == "task.fulfill":
        return _fulfill(state, now, req, images)
    if req["kind"] == "task.heartbeat":
        return _heartbeat(state, now, req)
    if req["kind"] == "task.suspend":
        return _suspend(state, now, req, images)
    if req["kind"] == "promise.create":
        return _promise_create(state, now, req, images)
    if req["kind"] == "promise.register_listener":
        return _register_listener(state, now, req)
    return None


def _times_out(p: DurablePromise | None, now: int) -> bool:
    """Whether the SDK's auto-timeout would settle ``p`` now (the general path does that)."""
    return p is not None and p.state == "pending" and now >= p.timeout_at


def _heartbeat(state: IndexedServerState, now: int, req: TaskHeartbeat) -> Envelope:
    """:meth:`TimedServerState.heartbeat` (it changes no row, see ``end_op``) of a request
    validation checked: every ref an ``{id, version}`` of a string and an integer."""
    pid = req["pid"]
    tasks = state.tasks
    for ref in req["tasks"]:  # every record is loaded: no read from the store
        state.beat(dict.get(tasks, ref["id"]), pid, ref["version"], now)
    return answer("task.heartbeat", req.get("corrId"), {})


def _acquire(state: IndexedServerState, now: int, req: TaskAcquire,
             images: Images) -> Envelope | None:
    """:meth:`LeaseServerState.task_acquire` of a pending task at its version."""
    task_id = req["id"]
    t = dict.get(state.tasks, task_id)
    p = dict.get(state.promises, task_id)
    if t is None or t.state != "pending" or req["version"] != t.version or _times_out(p, now):
        return None
    preload = [promise_of(other) for other in state.preloaded(task_id)]
    images.task(t)
    t.state = "acquired"
    t.version += 1
    t.pid = req["pid"]
    t.ttl = req["ttl"]
    t.resumes = SHARED_EMPTY  # cleared
    state.put_t_timeout(task_id, LEASE_TIMEOUT, now + req["ttl"])
    state.census.task("pending", t, task_id)
    if state.keeps_rows:
        state.dirty["tasks"].add(task_id)
    data: dict[str, object] = {"task": task_of(t)}
    if p is not None:
        data["promise"] = promise_of(p)
    data["preload"] = preload
    return answer("task.acquire", req.get("corrId"), data)


def _fence(state: IndexedServerState, now: int, req: TaskFence,
           images: Images) -> Envelope | None:
    """``ServerState.task_fence`` of a ``promise.create``, in time."""
    task_id = req["id"]
    action = req["action"]
    t = dict.get(state.tasks, task_id)
    if (t is None or t.state != "acquired" or t.version != req["version"]
            or action["kind"] != "promise.create"
            or _times_out(dict.get(state.promises, task_id), now)):
        return None
    created = _create(state, now, cast(PromiseCreateData, extract_action_data(action)),
                      images)
    if created is None:
        return None
    corr_id = req.get("corrId")
    return answer("task.fence", corr_id, {
        "action": fenced(corr_id, action["kind"], created[1]),
        "preload": [promise_of(other) for other in state.preloaded(task_id)]})


def _promise_create(state: IndexedServerState, now: int, req: PromiseCreate,
                    images: Images) -> Envelope | None:
    """``ServerState.promise_create``, in time."""
    created = _create(state, now, req, images)
    if created is None:
        return None
    return answer("promise.create", req.get("corrId"), {"promise": created[1]})


def _create(state: IndexedServerState, now: int, data: PromiseCreateData,
            images: Images) -> tuple[int, PromiseRecord] | None:
    """``ServerState.promise_create``'s status and record: an existing promise (200) only
    read, a new one (201) put in with its task, timeouts and ``execute`` if it has a
    target; ``None`` if it times out now (an existing one, or a new one already late)."""
    promise_id = data["id"]
    existing = dict.get(state.promises, promise_id)
    if existing is not None:  # created before (a fence replayed after a resume): only read
        return None if _times_out(existing, now) else (200, promise_of(existing))
    timeout_at = _i64(data, "timeoutAt", I64_MAX)
    if dict.__contains__(state.tasks, promise_id) or now >= timeout_at:
        return None
    tags = extract_tags(data)
    p = DurablePromise(id=promise_id, state="pending", param=data.get("param"), value=None,
                       tags=tags, timeout_at=timeout_at, created_at=now, settled_at=None,
                       awaiters=set(), subscribers=set())
    record = promise_of(p)
    dict.__setitem__(state.promises, promise_id, p)
    state.new_promise(promise_id, p)
    state.census.promise(None, p)
    address = tags.get(tag.TARGET)
    images.created(promise_id, with_task=address is not None)
    if address is not None:
        state.put_p_timeout(promise_id, timeout_at)
        delay = _parse_int(tags.get(tag.DELAY))
        deferred = delay is not None and now < delay
        child = Task(id=promise_id, state="pending", version=0, pid=None, ttl=None,
                     resumes=SHARED_EMPTY)
        dict.__setitem__(state.tasks, promise_id, child)
        state.put_t_timeout(promise_id, RETRY_TIMEOUT,
                            delay if deferred and delay is not None
                            else now + PENDING_RETRY_TTL)
        if not deferred:
            state.send_execute_message(address, promise_id, 0)
        state.census.task(None, child, promise_id)
    if state.keeps_rows:
        state.dirty["promises"].add(promise_id)
        if address is not None:
            state.dirty["tasks"].add(promise_id)
    return 201, record


def _register_listener(state: IndexedServerState, now: int,
                       req: RegisterListener) -> Envelope | None:
    """``ServerState.promise_register_listener`` of an existing promise, not timing out."""
    p = dict.get(state.promises, req["awaited"])
    if p is None or _times_out(p, now):
        return None
    address = req["address"]
    if p.state == "pending" and address not in p.subscribers:
        if p.subscribers is SHARED_EMPTY:
            p.subscribers = {address}
        else:
            p.subscribers.add(address)
        if state.keeps_rows:
            state.dirty["promises"].add(p.id)
    return answer("promise.register_listener", req.get("corrId"), {"promise": promise_of(p)})


def _suspend(state: IndexedServerState, now: int, req: TaskSuspend,
             images: Images) -> Envelope | None:
    """:meth:`IndexedServerState.task_suspend` of an acquired task at its version, with no
    resumes, on promises all pending and not timing out (validation: all exist)."""
    task_id = req["id"]
    t = dict.get(state.tasks, task_id)
    if (t is None or t.state != "acquired" or t.version != req["version"] or t.resumes
            or _times_out(dict.get(state.promises, task_id), now)):
        return None
    awaited: list[DurablePromise] = []
    for action in req["actions"]:
        p = dict.get(state.promises, extract_action_data(action)["awaited"])
        if p is None or p.state != "pending" or now >= p.timeout_at:
            return None
        awaited.append(p)
    for p in awaited:
        if task_id not in p.awaiters:
            if p.awaiters is SHARED_EMPTY:
                p.awaiters = {task_id}
            else:
                p.awaiters.add(task_id)
            if state.keeps_rows:
                state.dirty["promises"].add(p.id)
        state.note_awaiter(task_id, p.id)
    images.task(t)
    t.state = "suspended"
    t.pid = None
    t.ttl = None
    state.drop_t_timeout(task_id)
    state.census.task("acquired", t, task_id)
    if state.keeps_rows:
        state.dirty["tasks"].add(task_id)
    return answer("task.suspend", req.get("corrId"), {})


def _fulfill(state: IndexedServerState, now: int, req: TaskFulfill,
             images: Images) -> Envelope | None:
    """``ServerState.task_fulfill`` of an acquired task at its version, settling its own
    promise (validation: the action names it), resuming its awaiters, telling its
    listeners; :meth:`IndexedServerState.enqueue_settle` for the task."""
    task_id = req["id"]
    t = dict.get(state.tasks, task_id)
    p = dict.get(state.promises, task_id)
    if (t is None or p is None or t.state != "acquired" or t.version != req["version"]
            or _times_out(p, now)):
        return None
    settle = extract_action_data(req["action"])
    changed_p: list[str] = []
    images.task(t)
    images.promise(p)
    before = p.state
    if before == "pending":
        p.state = _parse_promise_state(settle.get("state"))
        p.value = settle.get("value")
        p.settled_at = now
        state.drop_p_timeout(task_id)
        state.census.promise(before, p)
        changed_p.append(task_id)
    record = promise_of(p)
    changed_t = [task_id]
    _fulfill_task(state, t, changed_p)
    if p.awaiters:
        _resume_awaiters(state, now, p, changed_t, images)
        changed_p.append(task_id)
    if p.subscribers:
        message = {"kind": "unblock", "data": {"promise": p.to_record()}}
        state.outgoing.extend(OutgoingMessage(address=address, message=message)
                              for address in list(p.subscribers))
        p.subscribers = SHARED_EMPTY
        changed_p.append(task_id)
    if state.keeps_rows:
        state.dirty["promises"].update(changed_p)
        state.dirty["tasks"].update(changed_t)
    return answer("task.fulfill", req.get("corrId"), {"promise": record})


def _fulfill_task(state: IndexedServerState, t: Task, changed_p: list[str]) -> None:
    """:meth:`IndexedServerState.enqueue_settle` of an acquired task."""
    t.state = "fulfilled"
    t.pid = None
    t.ttl = None
    t.resumes = SHARED_EMPTY
    state.drop_t_timeout(t.id)
    state.census.task("acquired", t, t.id)
    for awaited in state.stop_awaiting(t.id):
        other = dict.get(state.promises, awaited)
        if other is not None and t.id in other.awaiters:
            other.awaiters.discard(t.id)
            if not other.awaiters:
                other.awaiters = SHARED_EMPTY
            changed_p.append(awaited)


def _resume_awaiters(state: IndexedServerState, now: int, p: DurablePromise,
                     changed_t: list[str], images: Images) -> None:
    """:meth:`LeaseServerState.resume_awaiters` of ``p`` (which has awaiters)."""
    promise_id = p.id
    for awaiter_id in list(p.awaiters):
        task = dict.get(state.tasks, awaiter_id)
        if task is None:
            continue
        if task.state == "suspended":
            images.task(task)
            task.state = "pending"
            task.resumes = {promise_id}
            state.put_t_timeout(awaiter_id, RETRY_TIMEOUT, now + PENDING_RETRY_TTL)
            waiter = dict.get(state.promises, awaiter_id)
            address = waiter.tags.get(tag.TARGET) if waiter is not None else None
            if address is not None:
                state.send_execute_message(address, awaiter_id, task.version)
            state.census.task("suspended", task, awaiter_id)
            changed_t.append(awaiter_id)
        elif task.state in ("pending", "acquired", "halted") and \
                promise_id not in task.resumes:
            if task.resumes is SHARED_EMPTY:
                task.resumes = {promise_id}
            else:
                task.resumes.add(promise_id)
            changed_t.append(awaiter_id)
    p.awaiters = SHARED_EMPTY
