"""Reading a store of format 1 (a command log plus one whole-state snapshot), once.

Format 1 kept ``log (seq, now, req)`` and ``snapshot (seq, state)``: the state
was the snapshot with the log after it replayed, deterministically, with the
logged ``now`` values. :func:`migrate` rebuilds that state the same way, then
rewrites the file as format 2's tables in one transaction, so a store written
by an earlier rpcdemo keeps every promise across the upgrade.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from resonate.connections.local import DurablePromise, PTimeout, Task, TTimeout

from resonate_rpc_cli.server.schedules import ScheduleRecord
from resonate_rpc_cli.server.state import IndexedServerState
from resonate_rpc_cli.server.store import Store
from resonate_rpc_cli.server.transitions import apply_request, extend_leases, release_leases

log = logging.getLogger("rpcdemo.server")

#: Log-only kinds of format 1 for the engine's own state changes.
TICK = "rpcdemo.tick"
RELEASE = "rpcdemo.release"
GRACE = "rpcdemo.restart_grace"


class Snapshot(msgspec.Struct, kw_only=True):
    """Format 1's snapshot: everything of a ServerState except its outgoing queue."""

    promises: dict[str, DurablePromise]
    tasks: dict[str, Task]
    schedules: dict[str, ScheduleRecord]
    p_timeouts: list[PTimeout]
    t_timeouts: list[TTimeout]


def migrate(store: Store) -> IndexedServerState:
    """The state a format-1 store holds; the store is rewritten as format 2."""
    from resonate_rpc_cli.server.records import all_rows  # noqa: PLC0415  (cycle)

    conn = store.connection
    snap = conn.execute("SELECT seq, state FROM snapshot WHERE id = 1").fetchone()
    state = IndexedServerState()
    if snap is not None:
        s = msgspec.msgpack.decode(snap[1], type=Snapshot)
        state.restore(s.promises, s.tasks, s.schedules, s.p_timeouts, s.t_timeouts)
    entries = conn.execute(
        "SELECT now, req FROM log WHERE seq > ? ORDER BY seq", (int(snap[0]) if snap else 0,)
    ).fetchall()
    decoder = msgspec.msgpack.Decoder()
    state.tick_limit = 1 << 62  # format 1 fired every due timeout in one tick
    for now, req in entries:
        replay(state, int(now), decoder.decode(req))
    state.tick_limit = IndexedServerState().tick_limit
    state.end_op()
    store.replace_all(all_rows(state))
    state.outgoing = []
    log.info("migrated store %s from format 1: %d promises (%d log entries replayed)",
             store.path, len(state.promises), len(entries))
    return state


def replay(state: IndexedServerState, now: int, req: Any) -> None:
    """Re-apply one format-1 log entry exactly as it was applied live."""
    kind = req.get("kind") if isinstance(req, dict) else None
    state.outgoing = []
    if kind == TICK:
        state.tick(now)
    elif kind == RELEASE:
        release_leases(state, now, str(req.get("pid")))
    elif kind == GRACE:
        extend_leases(state, now)
    else:
        try:
            apply_request(state, now, req)
        except Exception:  # it failed live too, after the same partial effect
            pass
    state.outgoing = []
