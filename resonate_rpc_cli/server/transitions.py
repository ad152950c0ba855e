"""State transitions the engine adds to ServerState's: idempotent acquire, version
fencing, releasing a dead pid's leases, and the restart grace for leases.

Each works on a plain :class:`ServerState` too (the tests compare both); on an
:class:`IndexedServerState` the lease functions look only at live tasks.
"""

from __future__ import annotations

from typing import Any

from resonate.connections.local import PENDING_RETRY_TTL, ServerState, Task

from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.server.kinds import apply_extra
from resonate_rpc_cli.server.state import IndexedServerState
from resonate_rpc_cli.server.timed import LEASE_TIMEOUT, RETRY_TIMEOUT


def apply_request(state: ServerState, now: int, req: dict[str, Any]) -> dict[str, Any]:
    """``state.apply``, except that a retried ``task.acquire`` is idempotent.

    A worker whose acquire was committed but whose response was lost (the
    server died in between) retries it after the restart; ServerState would
    answer 409 and the worker would give the task up while the lease keeps it
    from everyone else until its TTL runs out. Here the same pid re-acquiring
    the same version gets the lease again (refreshed), as if the first
    response had arrived.
    """
    if req.get("kind") == "task.acquire":
        task_id = req.get("id")
        t = state.tasks.get(task_id) if isinstance(task_id, str) else None
        if (t is not None and t.state == "acquired" and t.pid == req.get("pid")
                and t.version == req.get("version") and t.ttl is not None):
            state.set_t_timeout(t.id, LEASE_TIMEOUT, now + t.ttl)
            p = state.promises.get(t.id)
            return {
                "kind": "task.acquire",
                "corrId": req.get("corrId"),
                "status": 200,
                "task": t.to_record(),
                "promise": p.to_record() if p is not None else None,
                "preload": state.preload(t.id),
            }
    extra = apply_extra(state, now, req)
    if extra is not None:
        return extra
    stale = _stale_version(state, req)
    if stale is not None:
        return stale
    return state.apply(now, req)


#: Task operations a holder performs under its lease; each names the version it holds.
FENCED_KINDS = frozenset({"task.release", "task.fulfill", "task.suspend"})


def _stale_version(state: ServerState, req: dict[str, Any]) -> dict[str, Any] | None:
    """A 409 for a release/fulfill/suspend naming a version the task no longer has.

    ServerState checks only that the task is acquired, not by whom: a holder
    whose lease lapsed (say, the server was down past its TTL) would release
    or settle the task *another* node has since acquired at a newer version.
    Seen in chaos runs: the stale holder's release bounced the new holder's
    lease, whose own settle then failed and released the next one, a storm of
    re-executions. The real server fences these by version; so do we.
    """
    if req.get("kind") not in FENCED_KINDS:
        return None
    task_id = req.get("id")
    version = req.get("version")
    if not isinstance(task_id, str) or isinstance(version, bool) or not isinstance(version, int):
        return None
    t = state.tasks.get(task_id)
    if t is None or t.version == version:
        return None
    return {
        "kind": req.get("kind"),
        "corrId": req.get("corrId"),
        "status": 409,
        "error": f"task {task_id} is at version {t.version}, not {version}",
    }


def release_leases(state: ServerState, now: int, pid: str) -> list[str]:
    """Put every task leased by ``pid`` back to pending (version + 1) and re-send ``execute``.

    The same transition as ``task.release`` and as a lapsed lease in ``tick``.
    """
    released = []
    for t in _live_tasks(state):
        if t.state != "acquired" or t.pid != pid:
            continue
        state.tasks.get(t.id)  # touched: it changes
        t.version += 1
        t.state = "pending"
        t.pid = None
        t.ttl = None
        state.set_t_timeout(t.id, RETRY_TIMEOUT, now + PENDING_RETRY_TTL)
        p = state.promises.get(t.id)
        target = p.tags.get(tag.TARGET) if p is not None else None
        if target is not None:
            state.send_execute_message(target, t.id, t.version)
        released.append(t.id)
    if isinstance(state, IndexedServerState):
        state.end_op()
    return released


def extend_leases(state: ServerState, now: int) -> int:
    """Push every acquired task's lease expiry to at least ``now + ttl``."""
    extended = 0
    for t in _live_tasks(state):
        if t.state == "acquired" and t.ttl is not None:
            state.set_t_timeout(t.id, LEASE_TIMEOUT, now + t.ttl)
            extended += 1
    if isinstance(state, IndexedServerState):
        state.end_op()
    return extended


def _live_tasks(state: ServerState) -> list[Task]:
    """The tasks that are not fulfilled (every task for a plain ServerState)."""
    if isinstance(state, IndexedServerState):
        return [t for tid in state.census.live_tasks
                if (t := dict.get(state.tasks, tid)) is not None]
    return list(state.tasks.values())
