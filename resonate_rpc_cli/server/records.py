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


def _decode_all[T](decoder: msgspec.msgpack.Decoder[list[T]], blobs: list[bytes]) -> list[T]:
    """Decode many msgpack rows at once: they are the items of one msgpack array."""
    return decoder.decode(b"\xdd" + struct.pack(">I", len(blobs)) + b"".join(blobs))


def load_state(store: Store) -> IndexedServerState:
    """The state the store holds (an empty one for a new store).

    Rows are decoded a chunk at a time and each promise compacted (shared
    strings and empty sets) before the next chunk, so loading does not need
    twice the memory the state will use.
    """
    started = time.perf_counter()
    state = IndexedServerState()
    promises: dict[str, DurablePromise] = {}
    p_timeouts = []
    for blobs in store.load("promises"):
        for r in _decode_all(_promise_rows, blobs):
            p = r.promise
            state.compact(p, promises)
            promises[p.id] = p
            if r.timeout is not None:
                p_timeouts.append(PTimeout(id=p.id, timeout=r.timeout))
    tasks: dict[str, Task] = {}
    t_timeouts = []
    for blobs in store.load("tasks"):
        for t in _decode_all(_task_rows, blobs):
            tasks[t.task.id] = t.task
            if t.timeout is not None and t.typ is not None:
                t_timeouts.append(TTimeout(id=t.task.id, typ=t.typ, timeout=t.timeout))
    schedules = {s.id: s for blobs in store.load("schedules")
                 for s in _decode_all(_schedule_rows, blobs)}
    state.restore(promises, tasks, schedules, p_timeouts, t_timeouts, compacted=True)
    log.info("loaded store %s: %d promises, %d tasks, %d schedules in %.2f s", store.path,
             len(promises), len(tasks), len(schedules), time.perf_counter() - started)
    return state
