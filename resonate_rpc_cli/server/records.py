"""What one row of the store holds, and moving records between the state and the store.

A promise row is ``[promise, timeout or nil]``, a task row
``[task, timeout type or nil, timeout or nil]``, a schedule row the schedule:
each row is everything the state keeps about one id, so persisting a request
means rewriting the rows of exactly the ids it touched (:func:`changed_rows`),
and loading means decoding every row (:func:`load_state`), all rows of a table
decoded in one msgpack call.
"""

from __future__ import annotations

import logging
import struct
import time

import msgspec
from resonate.connections.local import DurablePromise, PTimeout, Task, TTimeout

from resonate_rpc_cli.server.schedules import ScheduleRecord, as_records
from resonate_rpc_cli.server.state import IndexedServerState
from resonate_rpc_cli.server.store import Store

log = logging.getLogger("rpcdemo.server")


class PromiseRow(msgspec.Struct, array_like=True):
    promise: DurablePromise
    timeout: int | None = None


class TaskRow(msgspec.Struct, array_like=True):
    task: Task
    typ: int | None = None
    timeout: int | None = None


_encode = msgspec.msgpack.Encoder().encode
_promise_rows = msgspec.msgpack.Decoder(list[PromiseRow])
_task_rows = msgspec.msgpack.Decoder(list[TaskRow])
_schedule_rows = msgspec.msgpack.Decoder(list[ScheduleRecord])


Changes = tuple[dict[str, list[tuple[str, bytes]]], dict[str, list[str]]]


def changed_rows(state: IndexedServerState) -> Changes:
    """The rows to upsert and the ids to delete for everything changed since the last call."""
    dirty = state.take_dirty()
    upserts: dict[str, list[tuple[str, bytes]]] = {"promises": [], "tasks": [], "schedules": []}
    deletes: dict[str, list[str]] = {"promises": [], "tasks": [], "schedules": []}
    for pid in dirty["promises"]:
        p = dict.get(state.promises, pid)
        if p is None:
            deletes["promises"].append(pid)
        else:
            upserts["promises"].append((pid, _encode(PromiseRow(p, state.p_timeout(pid)))))
    for tid in dirty["tasks"]:
        t = dict.get(state.tasks, tid)
        if t is None:
            deletes["tasks"].append(tid)
        else:
            typ, at = state.t_timeout(tid) or (None, None)
            upserts["tasks"].append((tid, _encode(TaskRow(t, typ, at))))
    for sid in dirty["schedules"]:
        s = dict.get(state.schedules, sid)
        if s is None:
            deletes["schedules"].append(sid)
        else:
            upserts["schedules"].append((sid, _encode(as_records({sid: s})[sid])))
    return upserts, deletes


def all_rows(state: IndexedServerState) -> dict[str, list[tuple[str, bytes]]]:
    """Every row of the state (for rewriting a store whole, e.g. a migration)."""
    for table in ("promises", "tasks", "schedules"):
        state.dirty[table].update(getattr(state, table))
    return changed_rows(state)[0]


def _decode_all[T](decoder: msgspec.msgpack.Decoder[list[T]], blobs: list[bytes]) -> list[T]:
    """Decode many msgpack rows at once: they are the items of one msgpack array."""
    return decoder.decode(b"\xdd" + struct.pack(">I", len(blobs)) + b"".join(blobs))


def load_state(store: Store) -> IndexedServerState:
    """The state the store holds (an empty one for a new store)."""
    started = time.perf_counter()
    promise_rows = _decode_all(_promise_rows, store.load("promises"))
    task_rows = _decode_all(_task_rows, store.load("tasks"))
    schedules = _decode_all(_schedule_rows, store.load("schedules"))
    state = IndexedServerState()
    state.restore(
        {r.promise.id: r.promise for r in promise_rows},
        {r.task.id: r.task for r in task_rows},
        {s.id: s for s in schedules},
        [PTimeout(id=r.promise.id, timeout=r.timeout) for r in promise_rows
         if r.timeout is not None],
        [TTimeout(id=r.task.id, typ=r.typ, timeout=r.timeout) for r in task_rows
         if r.timeout is not None and r.typ is not None],
    )
    log.info("loaded store %s: %d promises, %d tasks, %d schedules in %.2f s", store.path,
             len(promise_rows), len(task_rows), len(schedules), time.perf_counter() - started)
    return state
