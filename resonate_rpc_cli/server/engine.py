"""The server's state machine made safe and durable: ServerState + search + command log.

:class:`Engine` is the only thing that touches the :class:`ServerState` (an
:class:`IndexedServerState`, the same machine with indexes). It

* answers every request with a flat response and never raises for bad input:
  any exception from a malformed request becomes a 400 response;
* adds ``promise.search``, ``task.search``, ``task.get`` (``search.py``) and the
  ``release`` extra (every lease a dead pid holds goes back to pending);
* when it has a :class:`CommandLog`, logs every state-changing request (with the
  ``now`` it was applied at) and commits it *before* returning, and logs ticks
  only when they change something. Replaying the log after the latest snapshot
  with the logged ``now`` values rebuilds the same state, because ServerState is
  deterministic given ``(state, now, request)``.

It returns the outgoing messages each call produced; delivering them is the
caller's job. :class:`StoreError` from the log propagates: a server that can
no longer persist must stop rather than acknowledge what it cannot keep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
from resonate.connections.local import (
    PENDING_RETRY_TTL,
    DurablePromise,
    OutgoingMessage,
    PTimeout,
    ServerState,
    Task,
    TTimeout,
)
from resonate.error import ServerError

from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.server.kinds import apply_extra
from resonate_rpc_cli.server.progress import TaskProgress
from resonate_rpc_cli.server.schedules import ScheduleRecord, as_records, schedules_due
from resonate_rpc_cli.server.search import SearchIndex, promise_search, task_get, task_search
from resonate_rpc_cli.server.state import LEASE_TIMEOUT, RETRY_TIMEOUT, IndexedServerState
from resonate_rpc_cli.server.store import CommandLog
from resonate_rpc_cli.server.validation import validate

log = logging.getLogger("rpcdemo.server")

#: Kinds ServerState applies and that may change state: always logged.
MUTATING_KINDS = frozenset(
    {
        "promise.create",
        "promise.settle",
        "promise.register_listener",
        "task.create",
        "task.acquire",
        "task.release",
        "task.fulfill",
        "task.fence",
        "task.suspend",
        "task.heartbeat",
        "promise.register_callback",
        "task.halt",
        "task.continue",
        "schedule.create",
        "schedule.delete",
    }
)
#: Read-only kinds: never logged (``promise.get`` only when it times a promise out).
READ_KINDS = frozenset(
    {"promise.get", "promise.search", "task.search", "task.get", "schedule.get", "schedule.search"}
)
KNOWN_KINDS = MUTATING_KINDS | READ_KINDS

#: Log-only kinds for the engine's own state changes.
TICK = "rpcdemo.tick"
RELEASE = "rpcdemo.release"
GRACE = "rpcdemo.restart_grace"


class Snapshot(msgspec.Struct, kw_only=True):
    """Everything of a ServerState except its (transient) outgoing queue."""

    promises: dict[str, DurablePromise]
    tasks: dict[str, Task]
    schedules: dict[str, ScheduleRecord]
    p_timeouts: list[PTimeout]
    t_timeouts: list[TTimeout]


def now_ms() -> int:
    return int(time.time() * 1000)


def error_response(kind: Any, corr_id: Any, status: int, message: str) -> dict[str, Any]:
    """A flat error response; ``kind``/``corrId`` echoed only when they are strings/scalars."""
    return {
        "kind": kind if isinstance(kind, str) else None,
        "corrId": corr_id if isinstance(corr_id, str | int) else None,
        "status": status,
        "error": message,
    }


class Engine:
    """ServerState behind a safe, logged ``apply``/``tick``/``release``."""

    def __init__(self, state: ServerState | None = None, store: CommandLog | None = None,
                 snapshot_every: int = 5_000) -> None:
        self.state = state if state is not None else IndexedServerState()
        self.store = store
        self.snapshot_every = snapshot_every
        self.index = SearchIndex()
        self.index.sync(self.state.promises)
        #: lease expiry, acquire counts, last change per task (extras on task.search)
        self.progress = TaskProgress()
        self._encoder = msgspec.msgpack.Encoder()

    @property
    def durable(self) -> bool:
        return self.store is not None

    # -- loading -------------------------------------------------------------

    @classmethod
    def load(cls, store: CommandLog, snapshot_every: int = 5_000) -> Engine:
        """Rebuild the state from the store's snapshot and the log after it."""
        loaded = store.load()
        state = IndexedServerState()
        if loaded.snapshot is not None:
            snap = msgspec.msgpack.decode(loaded.snapshot, type=Snapshot)
            state.restore(snap.promises, snap.tasks, snap.schedules, snap.p_timeouts,
                          snap.t_timeouts)
        for entry in loaded.entries:
            replay(state, entry.now, msgspec.msgpack.decode(entry.req))
        state.outgoing = []
        log.info(
            "loaded store %s: snapshot at seq %d, %d log entries replayed, %d promises, %d tasks",
            store.path, loaded.snapshot_seq, len(loaded.entries), len(state.promises),
            len(state.tasks),
        )
        return cls(state, store, snapshot_every)

    # -- requests --------------------------------------------------------------

    def apply(
        self, req: Any, now: int | None = None, defer_commit: bool = False
    ) -> tuple[dict[str, Any], list[OutgoingMessage]]:
        """Apply one flat request; return the flat response and the messages to deliver.

        The request is committed to the store before this returns, unless
        ``defer_commit``: then the caller must call :meth:`commit` before it
        acknowledges the request or delivers its messages (group commit).

        Malformed requests get a 4xx response and change nothing, except that a
        request ServerState partly applied before failing is still logged, so
        replay reproduces exactly what happened.
        """
        now = now_ms() if now is None else now
        if not isinstance(req, dict):
            return error_response(None, None, 400, "request must be a JSON object"), []
        kind = req.get("kind")
        corr_id = req.get("corrId")
        if not isinstance(kind, str) or kind not in KNOWN_KINDS:
            return error_response(kind, corr_id, 400, f"unknown request kind: {kind!r}"), []
        refused = validate(self.state, req)  # before anything is logged or applied
        if refused is not None:
            log.info("refused %s request: %d %s", kind, *refused)
            return error_response(kind, corr_id, *refused), []
        if kind == "promise.search":
            return self._read(corr_id, req, lambda: promise_search(
                self.state, self.index, corr_id, req)), []
        if kind in ("task.search", "task.get"):
            resp = self._read(corr_id, req, lambda: task_search(
                self.state, self.index, corr_id, req) if kind == "task.search"
                else task_get(self.state, corr_id, req))
            self.progress.annotate(self.state, resp)
            return resp, []
        logged = kind in MUTATING_KINDS or (kind == "promise.get" and self._times_out(req, now))
        encoded = b""
        if logged and self.store is not None:
            try:
                encoded = self._encoder.encode(req)
            except (OverflowError, TypeError, msgspec.EncodeError) as exc:
                return error_response(kind, corr_id, 400, f"unstorable value: {exc}"), []
        self.state.outgoing = []
        try:
            resp = apply_request(self.state, now, req)
        except ServerError as exc:
            resp = error_response(kind, corr_id, exc.code, exc.message)
        except Exception as exc:  # malformed input must never take the server down
            log.info("rejected malformed %s request: %s: %s", kind, type(exc).__name__, exc)
            resp = error_response(kind, corr_id, 400, f"malformed {kind} request: {exc}")
        outgoing = self._take_outgoing()
        self.progress.observe(self.state, req, resp, now)
        if logged:
            self._log(now, encoded, commit=not defer_commit)
        return resp, outgoing

    def tick(self, now: int | None = None) -> list[OutgoingMessage]:
        """Fire due timeouts; logged only when one is due (mirrors ``ServerState.tick``)."""
        now = now_ms() if now is None else now
        if not tick_due(self.state, now):
            return []
        self.state.outgoing = []
        lapsing = self.progress.lapsing(self.state, now)
        self.state.tick(now)
        for task_id in lapsing:
            self.progress.touch(self.state, task_id, now)
        outgoing = self._take_outgoing()
        self._log(now, self._encoder.encode({"kind": TICK}))
        return outgoing

    def release(self, pid: str, now: int | None = None) -> tuple[list[str], list[OutgoingMessage]]:
        """Release every lease ``pid`` holds; return the task ids and the execute messages."""
        now = now_ms() if now is None else now
        self.state.outgoing = []
        released = release_leases(self.state, now, pid)
        for task_id in released:
            self.progress.touch(self.state, task_id, now)
        outgoing = self._take_outgoing()
        if released:
            self._log(now, self._encoder.encode({"kind": RELEASE, "pid": pid}))
        return released, outgoing

    def restart_grace(self, now: int | None = None) -> int:
        """Give every held lease a full TTL from ``now``; return how many were extended.

        Called once after loading a store: while the server was down no holder
        could heartbeat, so a lease that lapsed during the outage says nothing
        about its holder. Without this, a restart releases every lease older
        than its TTL and live nodes redo steps they are about to finish.
        (Holders that really died are released by the supervisor, or lapse one
        TTL later.) Logged, so replay extends the same leases.
        """
        now = now_ms() if now is None else now
        extended = extend_leases(self.state, now)
        if extended:
            self._log(now, self._encoder.encode({"kind": GRACE}))
        return extended

    def pending_tasks(self) -> list[tuple[str, int, str]]:
        """``(task id, version, target address)`` of every pending task with a target."""
        out = []
        for t in self.state.tasks.values():
            if t.state == "pending":
                p = self.state.promises.get(t.id)
                target = p.tags.get(tag.TARGET) if p is not None else None
                if target is not None:
                    out.append((t.id, t.version, target))
        return out

    def close(self) -> None:
        """Snapshot (so the next start replays nothing) and close the store."""
        if self.store is not None:
            self.store.write_snapshot(self._encode_snapshot())
            self.store.close()
            self.store = None

    # -- internals -------------------------------------------------------------

    def _read(self, corr_id: Any, req: dict[str, Any],
              answer: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``answer()`` of a read-only request, or its error response."""
        try:
            return answer()
        except ServerError as exc:
            return error_response(req.get("kind"), corr_id, exc.code, exc.message)
        except Exception as exc:
            return error_response(req.get("kind"), corr_id, 400, f"malformed request: {exc}")

    def _times_out(self, req: dict[str, Any], now: int) -> bool:
        pid = req.get("id")
        p = self.state.promises.get(pid) if isinstance(pid, str) else None
        return p is not None and p.state == "pending" and now >= p.timeout_at

    def _take_outgoing(self) -> list[OutgoingMessage]:
        outgoing = self.state.outgoing
        self.state.outgoing = []
        return outgoing

    @property
    def uncommitted(self) -> bool:
        return self.store is not None and self.store.uncommitted

    def commit(self) -> None:
        """Make every logged request durable; snapshot when the log has grown long."""
        if self.store is None:
            return
        self.store.commit()
        if self.store.entries_since_snapshot >= self.snapshot_every:
            started = time.perf_counter()
            self.store.write_snapshot(self._encode_snapshot())
            log.info(
                "snapshot at seq %d (%d promises) in %.1f ms", self.store.last_seq,
                len(self.state.promises), (time.perf_counter() - started) * 1000,
            )

    def _log(self, now: int, encoded: bytes, commit: bool = True) -> None:
        if self.store is None:
            return
        self.store.append(now, encoded)
        if commit:
            self.commit()

    def _encode_snapshot(self) -> bytes:
        s = self.state
        return msgspec.msgpack.encode(
            Snapshot(promises=s.promises, tasks=s.tasks, schedules=as_records(s.schedules),
                     p_timeouts=s.p_timeouts, t_timeouts=s.t_timeouts)
        )


def replay(state: ServerState, now: int, req: Any) -> None:
    """Re-apply one logged entry exactly as it was applied live."""
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


def tick_due(state: ServerState, now: int) -> bool:
    """Whether ``state.tick(now)`` would change anything (the conditions of ``tick``)."""
    if schedules_due(state, now):
        return True
    if isinstance(state, IndexedServerState):
        p_timeouts, t_timeouts = state.timeouts()
    else:
        p_timeouts, t_timeouts = state.p_timeouts, state.t_timeouts
    for pt in p_timeouts:
        if now >= pt.timeout:
            p = state.promises.get(pt.id)
            if p is not None and p.state == "pending":
                return True
    for tt in t_timeouts:
        if now >= tt.timeout:
            t = state.tasks.get(tt.id)
            if t is None:
                continue
            if (tt.typ == 1 and t.state == "acquired") or (tt.typ == 0 and t.state == "pending"):
                return True
    return False


def release_leases(state: ServerState, now: int, pid: str) -> list[str]:
    """Put every task leased by ``pid`` back to pending (version + 1) and re-send ``execute``.

    The same transition as ``task.release`` and as a lapsed lease in ``tick``.
    """
    released = []
    for t in state.tasks.values():
        if t.state != "acquired" or t.pid != pid:
            continue
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
    return released


def extend_leases(state: ServerState, now: int) -> int:
    """Push every acquired task's lease expiry to at least ``now + ttl``."""
    extended = 0
    for t in state.tasks.values():
        if t.state == "acquired" and t.ttl is not None:
            state.set_t_timeout(t.id, LEASE_TIMEOUT, now + t.ttl)
            extended += 1
    return extended
