"""``LeaseServerState``: the SDK's ServerState with leases numbered and granted as Resonate's.

The SDK's ServerState bumps a task's version when a lease *ends* (release,
lapse, resume) and grants ``task.acquire`` to anyone while the task is
pending, whatever version they name; a task created acquired starts at 0.
Resonate's servers (src/server.rs ``op_task_create``/``op_task_acquire`` and
src/persistence/persistence_sqlite.rs ``task_acquire`` of resonatehq/resonate
at c8d7c7ba; resonate-pg's ``task_acquire``) do the opposite, and clients
type-check the numbers:

* the version is bumped on every acquire and only then: a task created
  acquired is at version 1, ``task.acquire`` of a pending task at version
  ``v`` answers it acquired at ``v + 1``;
* ``task.acquire`` is granted only to a request naming the pending task's
  current version; any other is refused with 409 ("Task is not pending" for
  a task that is not pending, whoever asks, "Version mismatch" otherwise):
  one lease per acquire;
* a release, a lapsed lease, a resume (a settled awaited promise) or a
  ``task.continue`` puts the task back to pending at the version it had, and
  its ``execute`` message names that version (the next acquire's).

A holder whose lease ended can therefore do nothing more with its version:
the task is pending (fulfill/suspend/fence/release refused, 409) or acquired
by someone else at a newer version.
"""

from __future__ import annotations

from typing import Any

from resonate.connections.local import (
    PENDING_RETRY_TTL,
    ServerState,
    extract_action_data,
    require_task_id,
)

from resonate_rpc_cli.contracts import tags as tag

#: The kinds of a task timeout (``TTimeout.typ``) as the SDK's ``ServerState.tick``
#: reads them: a pending task's retry (its ``execute`` is sent again) ...
RETRY_TIMEOUT = 0
#: ... and an acquired task's lease expiry (the task goes back to pending).
LEASE_TIMEOUT = 1
DEFAULT_TTL = 60_000


class LeaseServerState(ServerState):
    """ServerState whose leases follow Resonate's numbering and one-lease-per-acquire rule.

    Its request methods override the SDK's and keep its signatures (``req: Any``, an untyped
    answer): :func:`.transitions.apply_request` types what they answer.
    """

    def __init__(self) -> None:
        #: Tasks whose lease the last tick let lapse (released).
        self.lapsed: list[str] = []
        super().__init__()

    # -- requests ------------------------------------------------------------------

    def task_create(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        """ServerState's, then the version bump of the acquire it made (if it made one)."""
        action = extract_action_data(req.get("action")) if isinstance(req, dict) else None
        task_id = action.get("id") if isinstance(action, dict) else None
        before = self.tasks.get(task_id) if isinstance(task_id, str) else None
        was = before.state if before is not None else None
        resp = super().task_create(now, corr_id, req)
        t = self.tasks.get(task_id) if isinstance(task_id, str) else None
        if (t is not None and t.state == "acquired" and was in (None, "pending")
                and resp.get("status") in (200, 201)):
            t.version += 1
            resp["task"] = t.to_record()
        return resp

    def task_acquire(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        """Grant the lease of a pending task at the version named, and bump the version."""
        task_id = require_task_id(req)
        pid = req.get("pid")
        ttl = req.get("ttl")
        ttl = ttl if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0 \
            else DEFAULT_TTL
        t = self.tasks.get(task_id)
        if t is None:
            return _refused("task.acquire", corr_id, 404, "Task not found")
        if t.state != "pending":
            return _refused("task.acquire", corr_id, 409, "Task is not pending")
        if req.get("version") != t.version:
            return _refused("task.acquire", corr_id, 409, "Version mismatch")
        preload = self.preload(task_id)
        t.state = "acquired"
        t.version += 1
        t.pid = pid if isinstance(pid, str) else None
        t.ttl = ttl
        t.resumes.clear()
        self.set_t_timeout(task_id, LEASE_TIMEOUT, now + ttl)
        p = self.promises.get(task_id)
        return {
            "kind": "task.acquire",
            "corrId": corr_id,
            "status": 200,
            "task": t.to_record(),
            "promise": p.to_record() if p is not None else None,
            "preload": preload,
        }

    def task_release(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        """Back to pending at the same version; ``execute`` is sent again."""
        task_id = require_task_id(req)
        t = self.tasks.get(task_id)
        if t is None:
            return _refused("task.release", corr_id, 404, "Task not found")
        if t.state != "acquired":
            return _refused("task.release", corr_id, 409,
                            "Task version mismatch or invalid state")
        self.end_lease(now, task_id)
        return {"kind": "task.release", "corrId": corr_id, "status": 200}

    # -- transitions ---------------------------------------------------------------

    def end_lease(self, now: int, task_id: str) -> None:
        """An acquired task back to pending at its version (release, lapse, dead holder)."""
        t = self.tasks[task_id]
        t.state = "pending"
        t.pid = None
        t.ttl = None
        self.set_t_timeout(task_id, RETRY_TIMEOUT, now + PENDING_RETRY_TTL)
        self._send_execute_for(task_id, t.version)

    def resume_awaiters(self, promise_id: str, now: int) -> None:
        """ServerState's, without the version bump: a resumed task is pending at its version."""
        p = self.promises.get(promise_id)
        for awaiter_id in list(p.awaiters) if p is not None else []:
            task = self.tasks.get(awaiter_id)
            if task is None:
                continue
            if task.state == "suspended":
                task.state = "pending"
                task.resumes = {promise_id}
                self.set_t_timeout(awaiter_id, RETRY_TIMEOUT, now + PENDING_RETRY_TTL)
                self._send_execute_for(awaiter_id, task.version)
            elif task.state in ("pending", "acquired", "halted"):
                task.resumes.add(promise_id)
        p = self.promises.get(promise_id)
        if p is not None:
            p.awaiters.clear()

    def tick(self, now: int) -> None:
        """ServerState's tick (every due timeout), with :meth:`_fire`'s transitions."""
        settles = [pt.id for pt in self.p_timeouts if now >= pt.timeout
                   and (p := self.promises.get(pt.id)) is not None and p.state == "pending"]
        releases: list[tuple[str, int]] = []
        retries: list[tuple[str, int]] = []
        for tt in self.t_timeouts:
            t = self.tasks.get(tt.id) if now >= tt.timeout else None
            if t is not None and tt.typ == LEASE_TIMEOUT and t.state == "acquired":
                releases.append((tt.id, t.version))
            elif t is not None and tt.typ == RETRY_TIMEOUT and t.state == "pending":
                retries.append((tt.id, t.version))
        self._fire(now, settles, releases, retries)

    def _fire(self, now: int, settles: list[str], releases: list[tuple[str, int]],
              retries: list[tuple[str, int]]) -> None:
        """The phases of ``ServerState.tick`` for the given due records."""
        for pid in settles:
            p = self.promises[pid]
            p.state = self.timeout_state(p.tags)
            p.value = None
            p.settled_at = p.timeout_at
            self.del_p_timeout(pid)
        for pid in settles:
            self.enqueue_settle(pid)
        for pid in settles:
            self.resume_awaiters(pid, now)
            self.notify_subscribers(pid)
        self.lapsed = []
        for tid, version in releases:
            t = self.tasks[tid]
            if t.state == "acquired" and t.version == version:
                self.lapsed.append(tid)
                self.end_lease(now, tid)
        for tid, _version in retries:
            waiting = dict.get(self.tasks, tid)
            if waiting is not None and waiting.state == "pending":
                self._retry_later(tid, now + PENDING_RETRY_TTL)
                self._send_execute_for(tid, waiting.version)

    def _retry_later(self, task_id: str, timeout: int) -> None:
        """Move a pending task's retry time."""
        self.set_t_timeout(task_id, RETRY_TIMEOUT, timeout)

    def _send_execute_for(self, tid: str, version: int) -> None:
        p = dict.get(self.promises, tid)
        address = p.tags.get(tag.TARGET) if p is not None else None
        if address is not None:
            self.send_execute_message(address, tid, version)


def _refused(kind: str, corr_id: Any, status: int, message: str) -> dict[str, Any]:
    return {"kind": kind, "corrId": corr_id, "status": status, "error": message}
