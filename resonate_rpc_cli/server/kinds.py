"""Kinds ServerState lacks: ``promise.register_callback``, ``task.halt``, ``task.continue``.

Each function takes ``(state, now, req)`` for a request :mod:`validation`
has accepted, changes only ServerState's own records (promise ``awaiters``,
task ``state``/``version``/``resumes``, timeouts, outgoing messages) and is
deterministic, so the command log's replay rebuilds the same state.

Semantics are the real server's (src/server.rs and
src/persistence/persistence_sqlite.rs in resonatehq/resonate), in its
version convention (leases.py): only an acquire bumps a task's version, so
a resume or ``task.continue`` leaves it pending at its version and a holder
whose task was halted under it can no longer fulfill it (it is not acquired,
or acquired by someone else at a newer version).
"""

from __future__ import annotations

from resonate.connections.local import PENDING_RETRY_TTL, DurablePromise, ServerState, Task

from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.server import schedules
from resonate_rpc_cli.server.request import RegisterCallback, Request, TaskContinue, TaskHalt
from resonate_rpc_cli.server.response import FlatResponse, promise_row
from resonate_rpc_cli.server.state import IndexedServerState
from resonate_rpc_cli.server.timed import RETRY_TIMEOUT


def register_callback(state: ServerState, now: int, req: RegisterCallback) -> FlatResponse:
    """Make the awaiter's task wait for ``awaited`` (src/persistence/persistence_sqlite.rs:533-605).

    404 if ``awaited`` does not exist, 422 if the awaiter does not exist or has
    no ``resonate:target`` (src/server.rs:802-824). Both pending: the awaiter's
    task is registered on ``awaited`` (resumed when it settles). ``awaited``
    already settled: a suspended awaiter task is resumed now, a pending or
    acquired one records the resume. Answers ``{promise: awaited}``.
    """
    awaited_id, awaiter_id = req["awaited"], req["awaiter"]
    state.try_auto_timeout(now, awaited_id)
    state.try_auto_timeout(now, awaiter_id)
    awaited = state.promises.get(awaited_id)
    awaiter = state.promises.get(awaiter_id)
    if awaited is None:
        return _error(req, 404, f"awaited promise {awaited_id} not found")
    if awaiter is None:
        return _error(req, 422, f"awaiter promise {awaiter_id} not found")
    if tag.TARGET not in awaiter.tags:
        return _error(req, 422, "awaiter promise has no resonate:target tag")
    task = state.tasks.get(awaiter_id)
    if awaited.state == "pending":
        if awaiter.state == "pending" and task is not None and task.state != "fulfilled":
            _add_awaiter(state, awaited, awaiter_id)
    elif task is not None:
        _resume(state, now, task, awaiter, awaited_id)
    return {"kind": req["kind"], "corrId": req.get("corrId"), "status": 200,
            "promise": promise_row(awaited)}


def _add_awaiter(state: ServerState, awaited: DurablePromise, task_id: str) -> None:
    awaited.awaiters.add(task_id)
    if isinstance(state, IndexedServerState):
        state.note_awaiter(task_id, awaited.id)


def _resume(state: ServerState, now: int, task: Task, awaiter: DurablePromise,
            awaited_id: str) -> None:
    """The same transition as ServerState.resume_awaiters for one settled promise."""
    if task.state == "suspended":
        task.state = "pending"
        task.resumes = {awaited_id}
        state.set_t_timeout(task.id, RETRY_TIMEOUT, now + PENDING_RETRY_TTL)
        state.send_execute_message(awaiter.tags[tag.TARGET], task.id, task.version)
    elif task.state in ("pending", "acquired", "halted"):
        task.resumes.add(awaited_id)


def task_halt(state: ServerState, now: int, req: TaskHalt) -> FlatResponse:
    """Stop a task until ``task.continue`` (src/server.rs:2054-2110, sqlite:1093-1113).

    404 unknown, 409 fulfilled; otherwise the task is ``halted`` (idempotent):
    no lease, no timeout, nothing is sent for it. Its registrations on awaited
    promises stay, so a settle while halted is recorded as a resume.
    """
    task_id = req["id"]
    state.try_auto_timeout(now, task_id)
    t = state.tasks.get(task_id)
    if t is None:
        return _error(req, 404, f"task {task_id} not found")
    if t.state == "fulfilled":
        return _error(req, 409, "task is fulfilled")
    if t.state != "halted":
        t.state = "halted"
        t.pid = None
        t.ttl = None
        state.del_t_timeout(task_id)
    return {"kind": req["kind"], "corrId": req.get("corrId"), "status": 200}


def task_continue(state: ServerState, now: int, req: TaskContinue) -> FlatResponse:
    """Put a halted task back to pending and send ``execute`` (src/server.rs:2120-2180).

    404 unknown, 409 not halted. The version stays (the next acquire bumps it).
    """
    task_id = req["id"]
    state.try_auto_timeout(now, task_id)
    t = state.tasks.get(task_id)
    if t is None:
        return _error(req, 404, f"task {task_id} not found")
    if t.state != "halted":
        return _error(req, 409, f"task is not halted (state: {t.state})")
    t.state = "pending"
    state.set_t_timeout(task_id, RETRY_TIMEOUT, now + PENDING_RETRY_TTL)
    p = state.promises.get(task_id)
    target = p.tags.get(tag.TARGET) if p is not None else None
    if target is not None:
        state.send_execute_message(target, task_id, t.version)
    return {"kind": req["kind"], "corrId": req.get("corrId"), "status": 200}


def _error(req: Request, status: int, message: str) -> FlatResponse:
    return {"kind": req["kind"], "corrId": req.get("corrId"), "status": status, "error": message}


#: Kinds answered here rather than by ServerState.
EXTRA_KINDS = frozenset({
    "promise.register_callback", "task.halt", "task.continue",
    "schedule.create", "schedule.get", "schedule.delete", "schedule.search",
})


def apply_extra(state: ServerState, now: int, req: Request) -> FlatResponse | None:
    """The response if ``req`` is one of :data:`EXTRA_KINDS` (now applied), else ``None``."""
    if req["kind"] not in EXTRA_KINDS:
        return None
    if req["kind"] == "promise.register_callback":
        return register_callback(state, now, req)
    if req["kind"] == "task.halt":
        return task_halt(state, now, req)
    if req["kind"] == "task.continue":
        return task_continue(state, now, req)
    return schedules.apply_schedule(state, now, req)
