"""Failover on resonate-pg: hand a dead node's leases back through ``task.release``.

When the supervisor has reaped a node it knows the node's leases are dead.
:func:`release_held` (run by the backend's ``PgRelease``, see
``backends/postgres.py``) reads the tasks that node id still holds
(``state = 'acquired' AND pid = node id``) and sends ``task.release`` for each
with the version it read, through the protocol (``resonate.resonate_rpc``).
resonate-pg's ``task_release`` checks the version, not the holder: a task
another node acquired meanwhile has a newer version and answers 409, so a
release never takes work from a live node. The released task goes back to
pending and its execute message is re-sent to the group at once instead of
after the lease. Callers must only name node ids of reaped processes (never a
live or paused one); the supervisor's failover rule guarantees that.
"""

from __future__ import annotations

from resonate_rpc_cli.postgres.db import Rows, rpc

HELD_SQL = ("SELECT id, version FROM resonate.tasks WHERE state = 'acquired' AND pid = %s "
            "ORDER BY id")


def release_held(db: Rows, node_id: str) -> list[str]:
    """Release every task ``node_id`` holds; the ids released (a 409 is skipped).

    Raises ServerUnreachable or ProtocolError like :class:`~.db.Db`.
    """
    released = []
    for task_id, version in db.rows(HELD_SQL, (node_id,)):
        reply = rpc(db, "task.release", {"id": str(task_id), "version": int(version)},
                    "release")
        if reply.get("head", {}).get("status") == 200:
            released.append(str(task_id))
    return released

