"""State transitions the engine adds to ServerState's: version
fencing, releasing a dead pid's leases, and the restart grace for leases.

Each works on a plain :class:`~.leases.LeaseServerState` too (the tests compare both); on an
:class:`IndexedServerState` the lease functions look only at live tasks.
"""

from __future__ import annotations

from typing import cast

from resonate.connections.local import ServerState, Task

from resonate_rpc_cli.server.kinds import apply_extra
from resonate_rpc_cli.server.leases import LEASE_TIMEOUT, LeaseServerState
from resonate_rpc_cli.server.request import Request
from resonate_rpc_cli.server.response import FlatResponse
from resonate_rpc_cli.server.state import IndexedServerState


def apply_request(state: ServerState, now: int, req: Request) -> FlatResponse:
    """``state.apply``, with the kinds ServerState lacks and version fencing.

    There is no idempotent re-acquire: a second ``task.acquire`` of an
    acquired task is refused (409) whoever sends it, as Resonate refuses it
    (leases.py). A worker whose acquire was committed but whose response was
    lost to a server crash retries it after the restart and is refused; it
    gives the task up, the lease it never learnt of lapses after its TTL and
    the task's ``execute`` goes out again (docs/protocol-differences.md).
    """
    extra = apply_extra(state, now, req)
    if extra is not None:
        return extra
    stale = _stale_version(state, req)
    if stale is not None:
        return stale
    return cast(FlatResponse, state.apply(now, req))  # the SDK's answer, typed (no copy)


#: Task operations a holder performs under its lease; each names the version it holds.
FENCED_KINDS = frozenset({"task.release", "task.fulfill", "task.suspend"})


def _stale_version(state: ServerState, req: Request) -> FlatResponse | None:
    """A 409 for a release/fulfill/suspend naming a version the task no longer has.

    ServerState checks only that the task is acquired, not by whom: a holder
    whose lease lapsed (say, the server was down past its TTL) would release
    or settle the task *another* node has since acquired at a newer version.
    Seen in chaos runs: the stale holder's release bounced the new holder's
    lease, whose own settle then failed and released the next one, a storm of
    re-executions. The real server fences these by version; so do we.
    """
    if req["kind"] not in FENCED_KINDS:
        return None
    task_id = req.get("id")
    version = req.get("version")
    if not isinstance(task_id, str) or isinstance(version, bool) or not isinstance(version, int):
        return None
    t = state.tasks.get(task_id)
    if t is None or t.version == version:
        return None
    return {
        "kind": req["kind"],
        "corrId": req.get("corrId"),
        "status": 409,
        "error": "Task version mismatch or invalid state",
    }


def release_leases(state: LeaseServerState, now: int, pid: str) -> list[str]:
    """Put every task leased by ``pid`` back to pending (same version) and re-send ``execute``.

    The same transition as ``task.release`` and as a lapsed lease in ``tick``.
    """
    released = []
    for t in _live_tasks(state):
        if t.state != "acquired" or t.pid != pid:
            continue
        state.tasks.get(t.id)  # touched: it changes
        state.end_lease(now, t.id)
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
