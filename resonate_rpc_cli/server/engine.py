"""The server's state machine made safe and durable: ServerState + search + store.

:class:`Engine` is the only thing that touches the :class:`ServerState` (an
:class:`IndexedServerState`, the same machine with indexes). It

* answers every request with a flat response (:meth:`Engine.apply`), or in the
  Rust server's envelope (:meth:`Engine.serve`, what the HTTP face sends; the
  common case of the SDK flows' kinds is answered there by :mod:`.fastpath`,
  directly in that shape), and never raises for bad input: any exception from a
  malformed request becomes a 400 response;
* adds ``promise.search``, ``task.search``, ``task.get`` (``search.py``) and the
  ``release`` extra (every lease a dead pid holds goes back to pending);
* when it has a :class:`Store`, writes the records each state-changing request
  (or tick, release, restart grace, retention pass) changed, and nothing else,
  and commits them *before* returning (or, with ``defer_commit``, before the
  caller acknowledges: group commit). A restart reads the tables: there is no
  log to replay and no snapshot of the whole state, ever; :meth:`Engine.open`
  serves at once and reads the records while serving (:mod:`.loader`).

It returns the outgoing messages each call produced; delivering them is the
caller's job. :class:`StoreError` from the store propagates: a server that can
no longer persist must stop rather than acknowledge what it cannot keep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
from resonate.connections.local import OutgoingMessage
from resonate.error import ServerError

from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.server import wire
from resonate_rpc_cli.server.fastpath import FAST_KINDS, fast_apply
from resonate_rpc_cli.server.journal import TransitionJournal
from resonate_rpc_cli.server.loader import PAGE, Loader, load_state
from resonate_rpc_cli.server.progress import TaskProgress
from resonate_rpc_cli.server.records import changed_rows
from resonate_rpc_cli.server.request import (
    INDEX_READS,
    KNOWN_KINDS,
    MUTATING_KINDS,
    READ_KINDS,
    SEARCHES,
    Request,
)
from resonate_rpc_cli.server.response import FlatResponse, error_response
from resonate_rpc_cli.server.retention import Collected, collect
from resonate_rpc_cli.server.search import promise_search, task_get, task_search
from resonate_rpc_cli.server.state import IndexedServerState
from resonate_rpc_cli.server.store import Store
from resonate_rpc_cli.server.transitions import apply_request, extend_leases, release_leases
from resonate_rpc_cli.server.validation import validate
from resonate_rpc_cli.server.wire import Envelope

__all__ = ["Engine", "apply_request", "error_response", "extend_leases", "release_leases"]

log = logging.getLogger("rpcdemo.server")

def now_ms() -> int:
    return int(time.time() * 1000)


class Engine:
    """ServerState behind a safe, persisted ``apply``/``tick``/``release``."""

    def __init__(self, state: IndexedServerState | None = None,
                 store: Store | None = None) -> None:
        self.state = state if state is not None else IndexedServerState()
        self.state.keeps_rows = store is not None  # no store: nothing to mark dirty
        self.store = store
        #: lease expiry, acquire counts, last change per task (extras on task.search)
        self.progress = TaskProgress()
        #: the transition journal (journal.py), when asked for one
        self.journal: TransitionJournal | None = None
        self._encoder = msgspec.msgpack.Encoder()
        #: Reads the store's records while serving (``None`` once all are in).
        self.loader: Loader | None = None
        #: Whether the hot kinds' common cases take :mod:`.fastpath` (tests turn it off).
        self.fast_path = True

    @property
    def durable(self) -> bool:
        return self.store is not None

    @classmethod
    def load(cls, store: Store) -> Engine:
        """The engine on the state ``store`` holds, all of it read now."""
        state = load_state(store)
        return cls(state, store)

    @classmethod
    def open(cls, store: Store, *, page: int = PAGE,
             clock: Callable[[], int] = now_ms) -> Engine:
        """The engine on ``store``, ready to serve before its records are read.

        Call :meth:`load_step` until it returns ``True`` (between requests);
        meanwhile a record a request needs is read by id. Each acquired task
        gets a full TTL from when it is read (``clock()``, :meth:`restart_grace`).
        """
        loader = Loader.open(store, page=page, grace_at=clock)
        engine = cls(loader.state, store)
        engine.loader = loader
        return engine

    @property
    def loading(self) -> bool:
        return self.loader is not None

    def load_step(self) -> bool:
        """Read the next page of the store and commit what that changed; ``True`` when done."""
        if self.loader is None:
            return True
        done = self.loader.step()
        self.commit()
        if done:
            self.loader = None
        return done

    def finish_loading(self) -> None:
        """Read every record not read yet, now (what needs them all calls this first)."""
        while not self.load_step():
            pass

    # -- requests --------------------------------------------------------------

    def apply(
        self, req: object, now: int | None = None, defer_commit: bool = False
    ) -> tuple[FlatResponse, list[OutgoingMessage]]:
        """Apply one flat request; return the flat response and the messages to deliver.

        What the request changed is committed to the store before this returns,
        unless ``defer_commit``: then the caller must call :meth:`commit` before
        it acknowledges the request or delivers its messages (group commit).

        Malformed requests get a 4xx response and change nothing, except that a
        request ServerState partly applied before failing keeps (and persists)
        that partial effect, as it did live. (:meth:`serve` is the same answered in
        the wire's shape, and takes the fast path.)
        """
        now = now_ms() if now is None else now
        typed, refused = self._admit(req)
        if typed is None:
            assert refused is not None
            return refused, []
        return self._apply_typed(typed, now, defer_commit)

    def serve(
        self, req: object, now: int | None = None, defer_commit: bool = False
    ) -> tuple[Envelope, list[OutgoingMessage]]:
        """:meth:`apply`, answered as the HTTP face sends it: :func:`.wire.envelope` of
        :meth:`apply`'s response, or, for the common case of a hot kind, the same envelope
        made directly by :mod:`.fastpath` (``tests/unit/test_server_fastpath.py``)."""
        now = now_ms() if now is None else now
        typed, refused = self._admit(req)
        if typed is None:
            assert refused is not None
            return wire.envelope(refused), []
        if typed["kind"] in FAST_KINDS and self._fast_ready():
            fast = self._apply_fast(typed, now, defer_commit)
            if fast is not None:
                return fast
        resp, outgoing = self._apply_typed(typed, now, defer_commit)
        action = typed.get("action")
        return wire.envelope(resp, action.get("kind") if isinstance(action, dict) else None), \
            outgoing

    def _admit(self, req: object) -> tuple[Request, None] | tuple[None, FlatResponse]:
        """``req`` typed (:mod:`.validation`), or the refusal (4xx) of a request that is
        malformed, of an unknown kind, refused by validation or unstorable; nothing changed."""
        if not isinstance(req, dict):
            return None, error_response(None, None, 400, "request must be a JSON object")
        kind = req.get("kind")
        corr_id = req.get("corrId")
        if not isinstance(kind, str) or kind not in KNOWN_KINDS:
            return None, error_response(kind, corr_id, 400, f"unknown request kind: {kind!r}")
        typed = validate(self.state, req)  # before anything is applied
        if isinstance(typed, tuple):
            self.state.end_op(persist=False)
            log.info("refused %s request: %d %s", kind, *typed)
            return None, error_response(kind, corr_id, *typed)
        unstorable = self._unstorable(kind, req)  # one rule, whichever path serves it
        if unstorable is not None:
            self.state.end_op(persist=False)
            return None, error_response(kind, corr_id, 400, f"unstorable value: {unstorable}")
        return typed, None

    def _apply_typed(self, typed: Request, now: int,
                     defer_commit: bool) -> tuple[FlatResponse, list[OutgoingMessage]]:
        """The general path of an admitted request (ServerState's handlers, the indexes)."""
        kind = typed["kind"]
        corr_id = typed.get("corrId")
        if kind in INDEX_READS:
            return self._index_read(corr_id, typed), []
        self.state.outgoing = []
        try:
            resp = apply_request(self.state, now, typed)
        except ServerError as exc:
            resp = error_response(kind, corr_id, exc.code, exc.message)
        except Exception as exc:  # malformed input must never take the server down
            log.info("rejected malformed %s request: %s: %s", kind, type(exc).__name__, exc)
            resp = error_response(kind, corr_id, 400, f"malformed {kind} request: {exc}")
        outgoing = self._take_outgoing()
        self.progress.observe(self.state, typed, resp["status"], now)
        self.state.end_op(persist=None if kind in READ_KINDS else True)
        if self.journal is not None and kind in ("task.acquire", "task.create") \
                and resp["status"] < 300:
            self.journal.granted(kind, resp.get("task"))
        if not defer_commit:
            self.commit()
        return resp, outgoing

    def _unstorable(self, kind: str, req: object) -> str | None:
        """Why a mutating request holds a value the store cannot encode, if it does (a durable
        engine refuses it rather than fail its commit later)."""
        if self.store is None or kind not in MUTATING_KINDS:
            return None
        try:
            self._encoder.encode(req)
        except (OverflowError, TypeError, msgspec.EncodeError) as exc:
            return str(exc)
        return None

    def _index_read(self, corr_id: object, typed: Request) -> FlatResponse:
        """The answer to a search or ``task.get`` (:mod:`.search`)."""
        if typed["kind"] == "promise.search":
            search = typed
            return self._read(corr_id, typed, lambda: promise_search(
                self.state, self.state.index, corr_id, search))
        if typed["kind"] == "task.search":
            tasks = typed
            resp = self._read(corr_id, typed, lambda: task_search(
                self.state, self.state.index, corr_id, tasks))
        elif typed["kind"] == "task.get":
            get = typed
            resp = self._read(corr_id, typed, lambda: task_get(self.state, corr_id, get))
        else:
            raise AssertionError(typed["kind"])
        self.progress.annotate(self.state, resp)
        return resp

    def _fast_ready(self) -> bool:
        """Whether :mod:`.fastpath` may answer: every record loaded, nothing touched."""
        return (self.fast_path and self.loader is None
                and not self.state.tasks.touched and not self.state.promises.touched)

    def _apply_fast(self, req: Request, now: int,
                    defer_commit: bool) -> tuple[Envelope, list[OutgoingMessage]] | None:
        """:meth:`serve` by :func:`.fastpath.fast_apply`, or ``None`` (nothing changed) if
        it is not the common case its kind's fast path takes."""
        self.state.outgoing = []
        resp = fast_apply(self.state, now, req)
        if resp is None:
            return None
        outgoing = self._take_outgoing()
        self.progress.observe(self.state, req, 200, now)
        if self.journal is not None and req["kind"] == "task.acquire":
            self.journal.granted("task.acquire", resp["data"]["task"])
        if not defer_commit:
            self.commit()
        return resp, outgoing

    def tick(self, now: int | None = None) -> list[OutgoingMessage]:
        """Fire due timeouts (at most ``state.tick_limit`` per call) and persist what changed.

        Also folds the store's redo log into its tables once it has waited long enough."""
        now = now_ms() if now is None else now
        if self.store is not None:
            self.store.idle_flush()
        if not self.state.due(now):
            return []
        self.state.outgoing = []
        self.state.tick(now)
        for task_id in self.state.lapsed:
            self.progress.touch(self.state, task_id, now, "lapse")
        self.state.end_op()
        outgoing = self._take_outgoing()
        self.commit()
        return outgoing

    def backlog(self, now: int | None = None) -> bool:
        """Whether timeouts are still due (the last tick hit its limit)."""
        return self.state.due(now_ms() if now is None else now)

    def release(self, pid: str, now: int | None = None) -> tuple[list[str], list[OutgoingMessage]]:
        """Release every lease ``pid`` holds; return the task ids and the execute messages."""
        now = now_ms() if now is None else now
        self.finish_loading()
        self.state.outgoing = []
        released = release_leases(self.state, now, pid)
        for task_id in released:
            self.progress.touch(self.state, task_id, now, "release")
        outgoing = self._take_outgoing()
        self.state.end_op()
        self.commit()
        return released, outgoing

    def restart_grace(self, now: int | None = None) -> int:
        """Give every held lease a full TTL from ``now``; return how many were extended.

        For an engine made by :meth:`load` (a served store gets the same grace
        per task as the loader reads it, :meth:`open`): while the server was down no holder
        could heartbeat, so a lease that lapsed during the outage says nothing
        about its holder. Without this, a restart releases every lease older
        than its TTL and live nodes redo steps they are about to finish.
        (Holders that really died are released by the supervisor, or lapse one
        TTL later.) Persisted like any change.
        """
        now = now_ms() if now is None else now
        extended = extend_leases(self.state, now)
        self.state.end_op()
        self.commit()
        return extended

    def pending_tasks(self) -> list[tuple[str, int, str]]:
        """``(task id, version, target address)`` of every pending task with a target."""
        out = []
        for tid in self.state.census.live_tasks:
            t = dict.get(self.state.tasks, tid)
            if t is not None and t.state == "pending":
                p = dict.get(self.state.promises, tid)
                target = p.tags.get(tag.TARGET) if p is not None else None
                if target is not None:
                    out.append((tid, t.version, target))
        return out

    def collect(self, older_than_ms: int, budget: int, refs: set[str],
                dry_run: bool = False, now: int | None = None) -> Collected:
        """One retention batch: drop up to ``budget`` trees settled ``older_than_ms`` ago."""
        now = now_ms() if now is None else now
        self.finish_loading()
        done = collect(self.state, now - older_than_ms, budget, refs, dry_run)
        self.commit()
        return done

    def counts(self) -> dict[str, int]:
        """Promises per state, kept as they change (O(1) to read once loaded)."""
        self.finish_loading()
        return self.state.census.counts()

    def keep_journal(self, path: Path) -> None:
        """Append every lease and settlement to ``path`` from now on (journal.py)."""
        self.journal = TransitionJournal(path)
        self.state.journal = self.journal

    def close(self) -> None:
        """Commit what is left and close the store (and the journal)."""
        if self.journal is not None:
            self.journal.close()
        if self.store is not None:
            self.commit()
            self.store.close()
            self.store = None

    # -- internals -------------------------------------------------------------

    def _read(self, corr_id: object, req: Request,
              answer: Callable[[], FlatResponse]) -> FlatResponse:
        """``answer()`` of a read-only request, or its error response."""
        if req["kind"] in SEARCHES:
            self.finish_loading()  # a search must see every record
        try:
            resp = answer()
        except ServerError as exc:
            return error_response(req["kind"], corr_id, exc.code, exc.message)
        except Exception as exc:
            return error_response(req["kind"], corr_id, 400, f"malformed request: {exc}")
        finally:
            self.state.end_op(persist=False)
        return resp

    def _take_outgoing(self) -> list[OutgoingMessage]:
        outgoing = self.state.outgoing
        self.state.outgoing = []
        return outgoing

    @property
    def uncommitted(self) -> bool:
        return self.store is not None and any(self.state.dirty.values())

    def commit(self) -> None:
        """Write every record changed since the last commit, in one transaction; then the
        journal's lines for them, so the journal testifies only to what the store kept (a
        server killed between the two leaves a kept change unjournaled, never a journaled
        grant the store lost and a restarted server hands out again)."""
        if self.store is not None and self.uncommitted:
            self.store.append(changed_rows(self.state))
        elif self.store is None:
            self.state.take_dirty()
        if self.journal is not None:
            self.journal.flush()
