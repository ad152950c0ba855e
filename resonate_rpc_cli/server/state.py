"""``IndexedServerState``: the SDK's ServerState without its scans over every promise.

ServerState keeps timeouts in lists (every set/delete scans them), discards a
fulfilled task from the awaiters of *every* promise, and finds a promise's
preload (same ``resonate:branch``) by scanning every promise. With thousands
of promises each request then costs milliseconds. This subclass keeps the
same state and the same behaviour (a test replays one random workload on both
and compares the states) with indexes:

* timeouts in dicts keyed by id (insertion order kept, so ``tick`` sees them in
  the same order); ``p_timeouts``/``t_timeouts`` stay readable as lists;
* task id → the promises whose ``awaiters`` hold it (only ``task.suspend`` adds
  awaiters);
* ``resonate:branch`` → promise ids in creation order (promises are never
  deleted, so new ones are always at the end of ``promises``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from resonate.connections.local import (
    DurablePromise,
    PTimeout,
    ScheduleStub,
    ServerState,
    Task,
    TTimeout,
    extract_action_data,
)

from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.server.schedules import fire_due

#: The kinds of a task timeout (``TTimeout.typ``) as the SDK's ``ServerState.tick``
#: reads them: a pending task's retry (its ``execute`` is sent again) ...
RETRY_TIMEOUT = 0
#: ... and an acquired task's lease expiry (the task goes back to pending).
LEASE_TIMEOUT = 1

class IndexedServerState(ServerState):
    """Same state machine as :class:`ServerState`, O(1)/O(k) bookkeeping."""

    def __init__(self) -> None:
        self._pt: dict[str, PTimeout] = {}
        self._tt: dict[str, TTimeout] = {}
        self._awaiting: dict[str, set[str]] = {}
        self._branches: dict[str, list[str]] = {}
        self._indexed = 0
        super().__init__()

    def restore(
        self,
        promises: dict[str, DurablePromise],
        tasks: dict[str, Task],
        schedules: Mapping[str, ScheduleStub],
        p_timeouts: list[PTimeout],
        t_timeouts: list[TTimeout],
    ) -> None:
        """Replace the whole state (from a snapshot) and rebuild the indexes."""
        self.promises = promises
        self.tasks = tasks
        self.schedules = dict(schedules)
        self.p_timeouts = p_timeouts
        self.t_timeouts = t_timeouts
        self._branches = {}
        self._indexed = 0
        self._awaiting = {}
        for p in promises.values():
            for task_id in p.awaiters:
                self._awaiting.setdefault(task_id, set()).add(p.id)

    def tick(self, now: int) -> None:
        """ServerState's timeouts, then every schedule tick due (schedules.py)."""
        super().tick(now)
        fire_due(self, now)

    # -- timeouts ------------------------------------------------------------------

    @property
    def p_timeouts(self) -> list[PTimeout]:
        return list(self._pt.values())

    @p_timeouts.setter
    def p_timeouts(self, value: list[PTimeout]) -> None:
        self._pt = {pt.id: pt for pt in value}

    @property
    def t_timeouts(self) -> list[TTimeout]:
        return list(self._tt.values())

    @t_timeouts.setter
    def t_timeouts(self, value: list[TTimeout]) -> None:
        self._tt = {tt.id: tt for tt in value}

    def timeouts(self) -> tuple[Iterable[PTimeout], Iterable[TTimeout]]:
        """Live views of the promise and task timeouts (no copies)."""
        return self._pt.values(), self._tt.values()

    def set_p_timeout(self, promise_id: str, timeout: int) -> None:
        pt = self._pt.get(promise_id)
        if pt is not None:
            pt.timeout = timeout
        else:
            self._pt[promise_id] = PTimeout(id=promise_id, timeout=timeout)

    def del_p_timeout(self, promise_id: str) -> None:
        self._pt.pop(promise_id, None)

    def set_t_timeout(self, task_id: str, typ: int, timeout: int) -> None:
        tt = self._tt.get(task_id)
        if tt is not None:
            tt.typ = typ
            tt.timeout = timeout
        else:
            self._tt[task_id] = TTimeout(id=task_id, typ=typ, timeout=timeout)

    def del_t_timeout(self, task_id: str) -> None:
        self._tt.pop(task_id, None)

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
        for awaited in self._awaiting.pop(promise_id, ()):
            p = self.promises.get(awaited)
            if p is not None:
                p.awaiters.discard(promise_id)

    # -- preload -------------------------------------------------------------------

    def preload(self, promise_id: str) -> list[dict[str, Any]]:
        p = self.promises.get(promise_id)
        branch = p.tags.get(tag.BRANCH) if p is not None else None
        if branch is None:
            return []
        self._index_branches()
        return [
            self.promises[other].to_record()
            for other in self._branches.get(branch, ())
            if other != promise_id
        ]

    def _index_branches(self) -> None:
        added = len(self.promises) - self._indexed
        if added <= 0:
            return
        newest_first = list(itertools.islice(reversed(self.promises), added))
        for pid in reversed(newest_first):
            branch = self.promises[pid].tags.get(tag.BRANCH)
            if branch is not None:
                self._branches.setdefault(branch, []).append(pid)
        self._indexed = len(self.promises)
