"""``Loader``: a durable server's promises and tasks read into its state after it serves.

A restart does not read the whole store before serving, so the time from
start to ``/ready`` does not grow with the store. :meth:`Loader.open` reads
the schedules (few) and nothing else; then

* :meth:`Loader.step` reads the next page of promises (then of tasks) in id
  order; the server calls it between requests until it returns ``True``;
* a record a request reaches before its page is read by id at that moment:
  the loader is hooked into the state's dicts (``TrackedDict.on_miss``), so
  every lookup the state machine makes (``get``, ``[]``, ``in``) finds the
  stored record, never "not found" for something the store holds. A task
  read that way brings its promise with it (the task's ``execute`` names the
  promise's target).

A record already in the state when its page comes (read by id, created or
changed since the start) is newer than its row and is skipped. Nothing is
deleted while loading: what needs every record (searches, the counts,
retention, releasing a node's leases, re-sending pending tasks) waits until
:attr:`Loader.done` (the engine finishes the load first if asked directly).
While loading, a ``task.acquire``'s ``preload`` holds only the branch's
promises read so far: the SDK then reads the others by id.

``grace_at``: each acquired task read gets its lease pushed to a full TTL from
the moment it is read (the server was down, so no holder could heartbeat: see
:meth:`.engine.Engine.restart_grace`); that change is persisted like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from resonate_rpc_cli.server.leases import LEASE_TIMEOUT
from resonate_rpc_cli.server.records import (
    decode_promise_rows,
    decode_schedule_rows,
    decode_task_rows,
)
from resonate_rpc_cli.server.state import IndexedServerState
from resonate_rpc_cli.server.store import Store

log = logging.getLogger("rpcdemo.server")

#: Rows per :meth:`Loader.step`: ~5 ms of the event loop on these machines (a request that
#: arrives while the store is read, `/ready` after a restart included, waits at most one page).
PAGE = 250


class Loader:
    """Reads one store's promises and tasks into one state, page by page or by id."""

    def __init__(self, state: IndexedServerState, store: Store, *, page: int = PAGE,
                 grace_at: Callable[[], int] | None = None) -> None:
        self.state = state
        self.store = store
        self.page = page
        self.grace_at = grace_at
        self.done = False
        #: rows read by pages, and records read by id (for the log)
        self.paged = 0
        self.faulted = 0
        self._table = "promises"
        self._after: str | None = None
        self._started = time.perf_counter()
        state.promises.on_miss = self._fault_promise
        state.tasks.on_miss = self._fault_task

    @classmethod
    def open(cls, store: Store, *, page: int = PAGE,
             grace_at: Callable[[], int] | None = None) -> Loader:
        """A fresh state with the store's schedules, and the loader for the rest."""
        state = IndexedServerState()
        for blobs in store.load("schedules"):
            for s in decode_schedule_rows(blobs):
                dict.__setitem__(state.schedules, s.id, s)
        return cls(state, store, page=page, grace_at=grace_at)

    def step(self) -> bool:
        """Read the next page; ``True`` once every row is in (the hooks are then removed).

        What it changed (leases given grace, awaiters dropped) is in the
        state's dirty sets: the caller commits.
        """
        if self.done:
            return True
        rows = self.store.page(self._table, self._after, self.page)
        if rows:
            self._after = rows[-1][0]
            self.paged += len(rows)
            if self._table == "promises":
                self._admit_promises([b for i, b in rows
                                      if not dict.__contains__(self.state.promises, i)])
            else:
                self._admit_tasks([b for i, b in rows
                                   if not dict.__contains__(self.state.tasks, i)])
        if len(rows) < self.page:
            if self._table == "promises":
                self._table, self._after = "tasks", None
            else:
                self._finish()
        self.state.end_op()
        return self.done

    def run(self) -> None:
        """Read every remaining row now."""
        while not self.step():
            pass

    def _finish(self) -> None:
        self.done = True
        self.state.promises.on_miss = None
        self.state.tasks.on_miss = None
        s = self.state
        log.info("loaded store %s: %d promises, %d tasks, %d schedules (%d read early by id) "
                 "in %.2f s", self.store.path, len(s.promises), len(s.tasks), len(s.schedules),
                 self.faulted, time.perf_counter() - self._started)

    def _admit_promises(self, blobs: list[bytes]) -> None:
        for row in decode_promise_rows(blobs):
            self.state.admit_promise(row.promise, row.timeout)

    def _admit_tasks(self, blobs: list[bytes]) -> None:
        for row in decode_task_rows(blobs):
            self.state.admit_task(row.task, row.typ, row.timeout)
            self._grace(row.task.id)

    def _grace(self, task_id: str) -> None:
        t = dict.get(self.state.tasks, task_id)
        if self.grace_at is not None and t is not None and t.state == "acquired" \
                and t.ttl is not None:
            self.state.set_t_timeout(task_id, LEASE_TIMEOUT, self.grace_at() + t.ttl)

    def _fault_promise(self, pid: str) -> None:
        blob = self.store.get("promises", pid)
        if blob is not None:
            self.faulted += 1
            self._admit_promises([blob])

    def _fault_task(self, tid: str) -> None:
        blob = self.store.get("tasks", tid)
        if blob is None:
            return
        if not dict.__contains__(self.state.promises, tid):
            self._fault_promise(tid)
        self.faulted += 1
        self._admit_tasks([blob])


def load_state(store: Store) -> IndexedServerState:
    """The whole state the store holds, read now (an empty one for a new store)."""
    loader = Loader.open(store, page=20_000)
    loader.run()
    return loader.state
