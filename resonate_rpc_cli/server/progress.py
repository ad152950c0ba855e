"""Per-task progress the protocol does not carry: lease expiry, acquire count, last change.

The real server's ``task.search`` says who holds a task (``pid``) and the
lease's length (``ttl``), not when it lapses, how often the task was handed
out, or when it last moved. :class:`TaskProgress` keeps the last two from the
requests the engine applies, and :meth:`TaskProgress.annotate` adds all three
to ``task.search``/``task.get`` records under one extra key::

    "rpcdemo": {"expiresAt": ms | null, "acquires": n, "changedAt": ms | null,
                "changedBy": "task.acquire" | ... | "lapse" | "release" | null}

``changedBy`` says what last moved the task: a request kind, ``lapse`` (the
lease ran out) or ``release`` (rpcdemo's failover released a dead holder).

Clients of the real protocol ignore the key; ``--no-extras`` turns it off
(``visible``). The counts live in memory only: after a restart they count
from the restart (the lease expiry is always exact, it is server state).
Entries of fulfilled tasks are dropped, so memory follows the live tasks.
"""

from __future__ import annotations

from resonate.connections.local import ServerState

from resonate_rpc_cli.server.request import Request
from resonate_rpc_cli.server.response import FlatResponse
from resonate_rpc_cli.server.state import IndexedServerState
from resonate_rpc_cli.server.timed import LEASE_TIMEOUT

#: Requests that move a task (a successful one is progress).
TASK_KINDS = frozenset({"task.create", "task.acquire", "task.release", "task.fulfill",
                        "task.suspend"})
#: Those that hand the lease to a node.
ACQUIRING = frozenset({"task.create", "task.acquire"})


class TaskProgress:
    """Acquire counts and last-change times per task id."""

    def __init__(self) -> None:
        self.visible = True
        self.acquires: dict[str, int] = {}
        self.changed: dict[str, int] = {}
        self.changed_by: dict[str, str] = {}

    def observe(self, state: ServerState, req: Request, status: int, now: int) -> None:
        """Note what one applied request did, answered with ``status`` (call after every
        ``apply``)."""
        kind = req["kind"]
        task_id = req.get("id")
        if kind not in TASK_KINDS or status >= 300 or not isinstance(task_id, str):
            return
        self.touch(state, task_id, now, kind)
        task = dict.get(state.tasks, task_id)  # a read, not a touch (tracking.py)
        if kind in ACQUIRING and task is not None and task.state == "acquired":
            self.acquires[task_id] = self.acquires.get(task_id, 0) + 1

    def touch(self, state: ServerState, task_id: str, now: int, why: str) -> None:
        """``task_id`` changed at ``now`` because of ``why`` (a kind, ``lapse``, ``release``)."""
        task = dict.get(state.tasks, task_id)  # a read, not a touch (tracking.py)
        if task is None or task.state == "fulfilled":
            self.acquires.pop(task_id, None)
            self.changed.pop(task_id, None)
            self.changed_by.pop(task_id, None)
            return
        self.changed[task_id] = now
        self.changed_by[task_id] = why

    def annotate(self, state: ServerState, resp: FlatResponse) -> None:
        """Add the extras to the task records of a ``task.search``/``task.get`` response."""
        if not self.visible:
            return
        tasks = resp.get("tasks")
        task = resp.get("task")
        records = tasks if tasks is not None else ([task] if task is not None else [])
        if not records:
            return
        for rec in records:
            task_id = rec["id"]
            rec["rpcdemo"] = {
                "expiresAt": _lease_expiry(state, task_id) if rec.get("state") == "acquired"
                else None,
                "acquires": self.acquires.get(task_id, 0),
                "changedAt": self.changed.get(task_id),
                "changedBy": self.changed_by.get(task_id),
            }


def _lease_expiry(state: ServerState, task_id: str) -> int | None:
    """When the lease of ``task_id`` lapses (one lookup on an IndexedServerState)."""
    if isinstance(state, IndexedServerState):
        tt = state.t_timeout(task_id)
        return tt[1] if tt is not None and tt[0] == LEASE_TIMEOUT else None
    return next((tt.timeout for tt in state.t_timeouts
                 if tt.id == task_id and tt.typ == LEASE_TIMEOUT), None)
