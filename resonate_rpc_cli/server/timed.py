"""``TimedServerState``: ServerState's timeouts indexed, so a tick costs what is due.

ServerState keeps timeouts in lists that every set/delete and every tick
scans whole. Here they live in dicts keyed by id (``p_timeouts``/``t_timeouts``
stay readable as lists) and are scheduled in :class:`~.timers.Timers`; a tick
fires at most ``tick_limit`` of them (the rest the next tick, 100 ms later),
with the same phases as ``ServerState.tick``. ``execute`` messages are
de-duplicated per task through an index instead of a scan of the queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from resonate.connections.local import (
    OutgoingMessage,
    PTimeout,
    Task,
    TTimeout,
    _get,
    _opt_i64,
    _saturating_add,
    require_str,
)

from resonate_rpc_cli.server.leases import LEASE_TIMEOUT, RETRY_TIMEOUT, LeaseServerState
from resonate_rpc_cli.server.timers import Timers
from resonate_rpc_cli.server.tracking import peek

__all__ = ["LEASE_TIMEOUT", "RETRY_TIMEOUT", "TimedServerState"]

#: At most this many timeouts fire per tick; more wait for the next (100 ms later).
TICK_LIMIT = 200



class TimedServerState(LeaseServerState):
    """ServerState with indexed timeouts (subclasses mark touched records in ``_touch_*``)."""

    def __init__(self) -> None:
        self._pt: dict[str, PTimeout] = {}
        self._tt: dict[str, TTimeout] = {}
        self._p_timers = Timers()
        self._t_timers = Timers()
        #: task id → (position, message) of its ``execute`` in ``outgoing``.
        self._execute_at: dict[str, tuple[int, OutgoingMessage]] = {}
        self.tick_limit = TICK_LIMIT
        super().__init__()

    def tick(self, now: int) -> None:
        """ServerState's tick over the due timeouts only (at most ``tick_limit``)."""
        self._tick(now)

    def timeouts(self) -> tuple[Iterable[PTimeout], Iterable[TTimeout]]:
        """Live views of the promise and task timeouts (no copies)."""
        return self._pt.values(), self._tt.values()


    def try_auto_timeout(self, now: int, promise_id: str) -> None:
        """ServerState's, reaching the promise through a tracked lookup only when it times
        out now: a request that only checks it (an acquire, a fulfill's or a fence's
        task promise) does not count as changing it, so its row is not written again.
        A record not read yet (:mod:`.loader`) is read by the tracked lookup as before."""
        p = dict.get(self.promises, promise_id)
        if p is None and getattr(self.promises, "on_miss", None) is not None:
            p = self.promises.get(promise_id)
        if p is None or p.state != "pending" or now < p.timeout_at:
            return
        super().try_auto_timeout(now, promise_id)

    def _touch_promise(self, promise_id: str) -> None:
        """Called when a promise's timeout changes."""

    def _touch_task(self, task_id: str) -> None:
        """Called when a task's timeout changes."""

    # -- timeouts ------------------------------------------------------------------

    @property
    def p_timeouts(self) -> list[PTimeout]:
        return list(self._pt.values())

    @p_timeouts.setter
    def p_timeouts(self, value: list[PTimeout]) -> None:
        self._pt = {}
        self._p_timers = Timers()
        for pt in value:
            self.set_p_timeout(pt.id, pt.timeout)

    @property
    def t_timeouts(self) -> list[TTimeout]:
        return list(self._tt.values())

    @t_timeouts.setter
    def t_timeouts(self, value: list[TTimeout]) -> None:
        self._tt = {}
        self._t_timers = Timers()
        for tt in value:
            self.set_t_timeout(tt.id, tt.typ, tt.timeout)

    def p_timeout(self, promise_id: str) -> int | None:
        pt = self._pt.get(promise_id)
        return pt.timeout if pt is not None else None

    def t_timeout(self, task_id: str) -> tuple[int, int] | None:
        tt = self._tt.get(task_id)
        return (tt.typ, tt.timeout) if tt is not None else None

    def set_p_timeout(self, promise_id: str, timeout: int) -> None:
        self._touch_promise(promise_id)
        self.put_p_timeout(promise_id, timeout)

    def put_p_timeout(self, promise_id: str, timeout: int) -> None:
        """Set a promise's timeout without touching the promise (its caller accounts for it)."""
        pt = self._pt.get(promise_id)
        if pt is not None:
            pt.timeout = timeout
        else:
            self._pt[promise_id] = PTimeout(id=promise_id, timeout=timeout)
        self._p_timers.set(promise_id, timeout)

    def del_p_timeout(self, promise_id: str) -> None:
        if self.drop_p_timeout(promise_id):
            self._touch_promise(promise_id)

    def drop_p_timeout(self, promise_id: str) -> bool:
        """Remove a promise's timeout without touching the promise; whether it had one."""
        self._p_timers.remove(promise_id)
        return self._pt.pop(promise_id, None) is not None

    def drop_t_timeout(self, task_id: str) -> bool:
        """Remove a task's timeout without touching the task; whether it had one."""
        self._t_timers.remove(task_id)
        return self._tt.pop(task_id, None) is not None

    def set_t_timeout(self, task_id: str, typ: int, timeout: int) -> None:
        self._touch_task(task_id)
        self.put_t_timeout(task_id, typ, timeout)

    def put_t_timeout(self, task_id: str, typ: int, timeout: int) -> None:
        """Set a task's timeout without touching the task (its caller accounts for it)."""
        tt = self._tt.get(task_id)
        if tt is not None:
            tt.typ = typ
            tt.timeout = timeout
        else:
            self._tt[task_id] = TTimeout(id=task_id, typ=typ, timeout=timeout)
        self._t_timers.set(task_id, timeout)

    def del_t_timeout(self, task_id: str) -> None:
        if self.drop_t_timeout(task_id):
            self._touch_task(task_id)

    def due(self, now: int) -> bool:
        """Whether a tick at ``now`` might fire something (looks at due buckets only)."""
        return self._p_timers.any_due(now) or self._t_timers.any_due(now)

    def _tick(self, now: int) -> None:
        settles = []
        for pid in self._p_timers.due(now, self.tick_limit):
            p = self.promises.get(pid)
            if p is not None and p.state == "pending":
                settles.append(pid)
        releases: list[tuple[str, int]] = []
        retries: list[tuple[str, int]] = []
        for tid in self._t_timers.due(now, self.tick_limit):
            t = self.tasks.get(tid)
            tt = self._tt.get(tid)
            if t is None or tt is None:
                continue
            if tt.typ == LEASE_TIMEOUT and t.state == "acquired":
                releases.append((tid, t.version))
            elif tt.typ == RETRY_TIMEOUT and t.state == "pending":
                retries.append((tid, t.version))
        self._fire(now, settles, releases, retries)

    def _retry_later(self, task_id: str, timeout: int) -> None:
        """Move a pending task's retry time without touching the task.

        A retry changes nothing but when the next one is due, so it is not
        persisted: after a restart the stored (earlier) time fires one retry at
        once, which is what a restart does anyway (``execute`` is re-sent to
        every member that connects). With many pending tasks this keeps the
        retries, 1/30 of them every second, from rewriting their rows.
        """
        tt = self._tt.get(task_id)
        if tt is None:
            self._tt[task_id] = tt = TTimeout(id=task_id, typ=0, timeout=timeout)
        tt.typ = RETRY_TIMEOUT
        tt.timeout = timeout
        self._t_timers.set(task_id, timeout)

    def heartbeat(self, now: int, req: Any) -> None:
        """ServerState's ``task.heartbeat`` (the same checks and errors), moving the lease
        expiries without touching the tasks: a heartbeat changes nothing a restart reads
        (it gives every lease a full TTL, see ``IndexedServerState.end_op``), so there is
        nothing to mark, count or write. A task not read from the store yet is read."""
        pid = require_str(req, "pid")
        tasks = _get(req, "tasks")
        for ref in tasks if isinstance(tasks, list) else ():
            task_id = require_str(ref, "id")
            self.beat(peek(self.tasks, task_id), pid, _opt_i64(_get(ref, "version")), now)

    def beat(self, t: Task | None, pid: str, version: int | None, now: int) -> None:
        """One heartbeat reference: a task ``pid`` holds at ``version`` (``None``: any) gets
        a lease of its ``ttl`` from ``now``; anything else is left as it is."""
        if t is not None and t.state == "acquired" and t.pid == pid and (
                version is None or version == t.version):
            self.put_t_timeout(t.id, LEASE_TIMEOUT,
                               _saturating_add(now, t.ttl if t.ttl is not None else 30_000))

    def send_execute_message(self, address: str, task_id: str, version: int) -> None:
        """ServerState's upsert of one ``execute`` per task, without scanning the queue."""
        msg = {"kind": "execute", "data": {"task": {"id": task_id, "version": version}}}
        outgoing = self.outgoing
        at = self._execute_at.get(task_id)
        if at is not None and at[0] < len(outgoing) and outgoing[at[0]] is at[1]:
            at[1].address = address
            at[1].message = msg
            return
        out = OutgoingMessage(address=address, message=msg)
        self._execute_at[task_id] = (len(outgoing), out)
        outgoing.append(out)
        if len(self._execute_at) > 4 * len(outgoing) + 1024:
            self._execute_at = {task_id: self._execute_at[task_id]}

