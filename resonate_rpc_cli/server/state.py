"""``IndexedServerState``: the SDK's ServerState without its scans over every promise.

ServerState keeps timeouts in lists (every set/delete scans them, every tick
walks them), discards a fulfilled task from the awaiters of *every* promise,
finds a promise's preload (same ``resonate:branch``) by scanning every promise,
and de-duplicates ``execute`` messages by scanning the outgoing queue. With a
million promises each of those is a stall. This subclass keeps the same state
and the same behaviour (a test replays one random workload on both and
compares) with indexes:

* timeouts indexed (:class:`~.timed.TimedServerState`), so a tick looks only
  at what is due, at most ``tick_limit`` records per tick;
* task id → the promises whose ``awaiters`` hold it;
* ``resonate:branch`` → promise ids, and the :class:`~.search.SearchIndex`,
  both maintained as promises are created and dropped;
* its three dicts are :class:`~.tracking.TrackedDict`: :meth:`end_op` folds
  what an operation touched into the :class:`~.census.Census` (counts per
  state, live tasks, settled trees) and the dirty sets the store persists;
  a record an operation only read (an acquire's promise, a fence's task) is
  not dirty: each record's persisted fields are noted at its first touch
  (:func:`promise_mark`, :func:`task_mark`) and compared at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from resonate.connections.local import (
    DurablePromise,
    PTimeout,
    ScheduleStub,
    Task,
    TTimeout,
    extract_action_data,
)

from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.server.census import ORIGIN_TAG, Census
from resonate_rpc_cli.server.journal import TransitionJournal
from resonate_rpc_cli.server.marks import (
    Mark,
    changed_promises,
    changed_tasks,
    promise_mark,
    task_mark,
)
from resonate_rpc_cli.server.schedules import fire_due, schedule_due, schedules_due
from resonate_rpc_cli.server.search import SearchIndex
from resonate_rpc_cli.server.sharing import Interner
from resonate_rpc_cli.server.timed import TimedServerState
from resonate_rpc_cli.server.tracking import TrackedDict, state_of

log = logging.getLogger("rpcdemo.server")

BRANCH_TAG = tag.BRANCH
#: The one empty set every record with no awaiters/subscribers/resumes shares (a set
#: costs 216 bytes; two per promise were most of a settled promise's memory). A
#: record gets sets of its own on its first touch in an operation, before the
#: SDK's code can add to them, and gives empty ones back at the operation's end.
SHARED_EMPTY: set[str] = set()
#: Kinds ServerState applies that only read (``promise.get`` may time a promise out).
READ_ONLY = frozenset({"promise.get", "schedule.get", "schedule.search"})


class IndexedServerState(TimedServerState):
    """Same state machine as :class:`ServerState`, O(1)/O(k) bookkeeping."""

    def __init__(self) -> None:
        self._awaiting: dict[str, set[str]] = {}
        self._branches: dict[str, list[str]] = {}
        self.index = SearchIndex()
        self.census = Census()
        self._interner = Interner()
        #: Ids whose records changed since the store last took them.
        self.dirty: dict[str, set[str]] = {"promises": set(), "tasks": set(), "schedules": set()}
        #: The transition journal (journal.py), when one is kept.
        self.journal: TransitionJournal | None = None
        #: Whether rows are kept (a store): only then are touched records marked.
        self.keeps_rows = True
        #: What each record touched in this operation held at its first touch.
        self._p_marks: dict[str, Mark] = {}
        self._t_marks: dict[str, Mark] = {}
        super().__init__()
        self.promises: TrackedDict[DurablePromise] = TrackedDict(
            self.new_promise, self._on_promise_touch)
        self.tasks: TrackedDict[Task] = TrackedDict(on_touch=self._on_task_touch)
        self.schedules: TrackedDict[ScheduleStub] = TrackedDict()

    def restore(
        self,
        promises: dict[str, DurablePromise],
        tasks: dict[str, Task],
        schedules: Mapping[str, ScheduleStub],
        p_timeouts: list[PTimeout],
        t_timeouts: list[TTimeout],
    ) -> None:
        """Replace the whole state and rebuild every index and count (:meth:`admit_promise`)."""
        keeps_rows = self.keeps_rows
        self.__init__()  # type: ignore[misc]
        self.keeps_rows = keeps_rows
        dict.update(self.schedules, schedules)
        pts = {pt.id: pt.timeout for pt in p_timeouts}
        tts = {tt.id: (tt.typ, tt.timeout) for tt in t_timeouts}
        for pid, p in promises.items():
            self.admit_promise(p, pts.get(pid))
        for tid, t in tasks.items():
            self.admit_task(t, *tts.get(tid, (None, None)))

    def admit_promise(self, p: DurablePromise, timeout: int | None) -> None:
        """Put a stored promise (not already here) in, with its timeout, indexes and counts.

        Records come in in any order (:mod:`.loader`). A task this state already
        fulfilled is dropped from the promise's awaiters: fulfilling it could
        not reach a promise that was not loaded yet.
        """
        pid = p.id
        self.compact(p, self.promises)
        dict.__setitem__(self.promises, pid, p)
        if timeout is not None:
            self._pt[pid] = PTimeout(id=pid, timeout=timeout)
            self._p_timers.set(pid, timeout)
        self._index_promise(pid, p)
        self.census.promise(None, p)
        if p.awaiters:
            for task_id in list(p.awaiters):
                t = dict.get(self.tasks, task_id)
                if t is not None and t.state == "fulfilled":
                    p.awaiters.discard(task_id)
                    self.dirty["promises"].add(pid)
                else:
                    self._awaiting.setdefault(task_id, set()).add(pid)
            _share_promise_sets(p)

    def admit_task(self, t: Task, typ: int | None, timeout: int | None) -> None:
        """Put a stored task (not already here) in, with its timeout and counts."""
        dict.__setitem__(self.tasks, t.id, t)
        if typ is not None and timeout is not None:
            self._tt[t.id] = TTimeout(id=t.id, typ=typ, timeout=timeout)
            self._t_timers.set(t.id, timeout)
        self.census.task(None, t, t.id)
        if not t.resumes:
            t.resumes = SHARED_EMPTY

    # -- operations --------------------------------------------------------------

    def apply(self, now: int, req: Any) -> dict[str, Any]:  # the SDK's signature
        """ServerState's ``apply``, then :meth:`end_op` (a read persists only if it timed out;
        a heartbeat only what it changed beyond lease expiries: it touches no task,
        :meth:`heartbeat`, unless one is read from the store)."""
        kind = req.get("kind") if isinstance(req, dict) else None
        try:
            if kind == "task.heartbeat":
                self.outgoing.clear()
                self.heartbeat(now, req)
                return {"kind": kind, "corrId": req.get("corrId"), "status": 200}
            return super().apply(now, req)
        finally:
            self.end_op(persist=None if kind in READ_ONLY else True,
                        lease_expiry=kind != "task.heartbeat")

    def tick(self, now: int) -> None:
        """ServerState's tick over the due timeouts only (at most ``tick_limit``), then
        every schedule tick due (schedules.py)."""
        try:
            self._tick(now)
            for sid, s in dict.items(self.schedules):
                if schedule_due(s, now):
                    self.schedules.touch(sid)  # fire_due changes it in place
            fire_due(self, now)
        finally:
            self.end_op()

    def due(self, now: int) -> bool:
        """Whether a tick at ``now`` might fire something (due timeouts or schedules)."""
        return super().due(now) or schedules_due(self, now)

    def end_op(self, persist: bool | None = True, lease_expiry: bool = True) -> None:
        """Fold what the last operation touched into the census and the dirty sets.

        ``persist``: ``True`` marks every touched record that changed dirty, ``False``
        none (a read), ``None`` those only if some promise or task changed state
        (a ``promise.get`` that timed a promise out). ``lease_expiry=False``: an
        acquired task whose only change is its lease's expiry is not dirty (a
        heartbeat: a restart gives every lease a full TTL from when it is read,
        later than any expiry a heartbeat before it set, so none needs keeping).
        """
        if not (self.promises.touched or self.tasks.touched or self.schedules.touched):
            return
        promises = self.promises.take_touched()
        tasks = self.tasks.take_touched()
        schedules = self.schedules.take_touched()
        p_marks, self._p_marks = self._p_marks, {}
        t_marks, self._t_marks = self._t_marks, {}
        if self.journal is not None:
            self.journal.changes(self.promises, promises, self.tasks, tasks)
        census = self.census
        if SHARED_EMPTY:
            self._repair_shared(promises, tasks)
        moved_p: list[str] = []  # came, went or changed state: changed, no mark to compare
        for pid, before in promises.items():
            p = dict.get(self.promises, pid)
            if p is not None:
                _share_promise_sets(p)
            if before != state_of(p):
                moved_p.append(pid)
                census.promise(before, p)
        moved_t: list[str] = []
        for tid, before in tasks.items():
            t = dict.get(self.tasks, tid)
            if t is not None and not t.resumes:
                t.resumes = SHARED_EMPTY
            if before != state_of(t):
                moved_t.append(tid)
                census.task(before, t, tid)
        if self.keeps_rows and (persist or (persist is None and (moved_p or moved_t))):
            dirty = self.dirty["promises"]
            dirty.update(moved_p)
            dirty.update(changed_promises(promises, p_marks, self.promises, self._pt, dirty))
            dirty = self.dirty["tasks"]
            dirty.update(moved_t)
            dirty.update(changed_tasks(tasks, t_marks, self.tasks, self._tt, lease_expiry, dirty))
            self.dirty["schedules"].update(schedules)

    def take_dirty(self) -> dict[str, set[str]]:
        """The ids changed since the last call, per table, and start afresh."""
        dirty = self.dirty
        self.dirty = {"promises": set(), "tasks": set(), "schedules": set()}
        return dirty

    def forget(self, pid: str) -> None:
        """Drop promise ``pid`` and its task and timeouts (retention; call :meth:`end_op` after)."""
        p = dict.get(self.promises, pid)
        if p is None:
            return
        del self.promises[pid]
        if dict.__contains__(self.tasks, pid):
            del self.tasks[pid]
        self.del_p_timeout(pid)
        self.del_t_timeout(pid)
        self._awaiting.pop(pid, None)
        branch = p.tags.get(BRANCH_TAG)
        members = self._branches.get(branch) if branch is not None else None
        if members is not None and pid in members:
            members.remove(pid)
            if not members:
                del self._branches[branch]  # type: ignore[arg-type]
        self.index.remove(pid, p.tags.get(ORIGIN_TAG))

    def _on_promise_touch(self, p: DurablePromise) -> None:
        # the first mark only (a record read from the store by id, then given its lease's
        # grace, is touched twice: its row is what it was first)
        if self.keeps_rows and p.id not in self._p_marks:
            self._p_marks[p.id] = promise_mark(p, self._pt.get(p.id))
        _own_promise_sets(p)
        if self.journal is not None:
            self.journal.before_promise(p)

    def _on_task_touch(self, t: Task) -> None:
        if self.keeps_rows and t.id not in self._t_marks:
            self._t_marks[t.id] = task_mark(t, self._tt.get(t.id))
        _own_task_sets(t)
        if self.journal is not None:
            self.journal.before_task(t)

    def _touch_promise(self, promise_id: str) -> None:
        self.promises.touch(promise_id)

    def _touch_task(self, task_id: str) -> None:
        self.tasks.touch(task_id)

    def new_promise(self, pid: str, p: DurablePromise) -> None:
        """Index and compact a promise just put in (called by the promises dict)."""
        self.compact(p, self.promises)
        self._index_promise(pid, p)

    def compact(self, p: DurablePromise, promises: dict[str, DurablePromise]) -> None:
        """Share what many promises hold equal copies of (:class:`~.sharing.Interner`), and
        empty awaiter/subscriber sets become :data:`SHARED_EMPTY` (memory; nothing changes)."""
        self._interner.compact(p, promises)
        _share_promise_sets(p)

    def _repair_shared(self, promises: dict[str, str | None],
                       tasks: dict[str, str | None]) -> None:
        """Give the shared empty set's contents back to whoever added to it (never expected)."""
        log.warning("a shared empty set was written to; repairing %d records",
                    len(promises) + len(tasks))
        added = set(SHARED_EMPTY)
        SHARED_EMPTY.clear()
        for pid in promises:
            p = dict.get(self.promises, pid)
            if p is not None and p.awaiters is SHARED_EMPTY:
                p.awaiters = set(added)
            if p is not None and p.subscribers is SHARED_EMPTY:
                p.subscribers = set(added)
        for tid in tasks:
            t = dict.get(self.tasks, tid)
            if t is not None and t.resumes is SHARED_EMPTY:
                t.resumes = set(added)

    def _index_promise(self, pid: str, p: DurablePromise) -> None:
        branch = p.tags.get(BRANCH_TAG)
        if branch is not None:
            self._branches.setdefault(branch, []).append(pid)
        self.index.add(pid, p.tags.get(ORIGIN_TAG))

    # -- awaiters ------------------------------------------------------------------

    def task_suspend(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        resp = super().task_suspend(now, corr_id, req)
        task_id = req.get("id")
        actions = req.get("actions")
        if isinstance(task_id, str) and isinstance(actions, list):
            for action in actions:
                data = extract_action_data(action)
                awaited = data.get("awaited") if isinstance(data, dict) else None
                p = self.promises.get(awaited) if isinstance(awaited, str) else None
                if p is not None and task_id in p.awaiters:
                    self._awaiting.setdefault(task_id, set()).add(p.id)
        return resp

    def note_awaiter(self, task_id: str, promise_id: str) -> None:
        """Index that ``task_id`` is now in the ``awaiters`` of ``promise_id`` (see kinds.py)."""
        self._awaiting.setdefault(task_id, set()).add(promise_id)

    def stop_awaiting(self, task_id: str) -> set[str]:
        """The promises whose awaiters hold ``task_id``, forgotten here (it is fulfilled)."""
        return self._awaiting.pop(task_id, None) or set()

    def enqueue_settle(self, promise_id: str) -> None:
        """ServerState's, discarding the task only from the promises it awaits."""
        t = self.tasks.get(promise_id)
        if t is None:
            p = self.promises.get(promise_id)
            if p is not None and tag.TARGET in p.tags:
                self.tasks[promise_id] = Task(
                    id=promise_id, state="fulfilled", version=0, pid=None, ttl=None,
                    resumes=set(),
                )
            return
        if t.state == "fulfilled":
            return
        t.state = "fulfilled"
        t.pid = None
        t.ttl = None
        t.resumes.clear()
        self.del_t_timeout(promise_id)
        for awaited in self.stop_awaiting(promise_id):
            p = self.promises.get(awaited)
            if p is not None:
                p.awaiters.discard(promise_id)

    def referenced(self) -> set[str]:
        """Promise ids a task that is not fulfilled awaits or was resumed by."""
        refs: set[str] = set()
        for awaited in self._awaiting.values():
            refs.update(awaited)
        for tid in self.census.live_tasks:
            t = dict.get(self.tasks, tid)
            if t is not None and t.resumes:
                refs.update(t.resumes)
        return refs

    # -- preload -------------------------------------------------------------------

    def preload(self, promise_id: str) -> list[dict[str, Any]]:
        return [p.to_record() for p in self.preloaded(promise_id)]

    def preloaded(self, promise_id: str) -> list[DurablePromise]:
        """The other promises of ``promise_id``'s branch (what ``preload`` answers)."""
        p = dict.get(self.promises, promise_id)
        branch = p.tags.get(BRANCH_TAG) if p is not None else None
        if branch is None:
            return []
        promises = self.promises
        return [dict.__getitem__(promises, other)
                for other in self._branches.get(branch, ()) if other != promise_id]


def _own_promise_sets(p: DurablePromise) -> None:
    if p.awaiters is SHARED_EMPTY:
        p.awaiters = set()
    if p.subscribers is SHARED_EMPTY:
        p.subscribers = set()


def _share_promise_sets(p: DurablePromise) -> None:
    if not p.awaiters:
        p.awaiters = SHARED_EMPTY
    if not p.subscribers:
        p.subscribers = SHARED_EMPTY


def _own_task_sets(t: Task) -> None:
    if t.resumes is SHARED_EMPTY:
        t.resumes = set()
