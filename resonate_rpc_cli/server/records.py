"""What one row of the store holds, and moving records between the state and the store.

A promise row is ``[promise, timeout or nil]``, a task row
``[task, timeout type or nil, timeout or nil]``, a schedule row the schedule:
each row is everything the state keeps about one id, so persisting a request
means rewriting the rows of exactly the ids it touched (:func:`changed_rows`),
and loading means decoding rows (:mod:`.loader`), a page of them in one msgpack
call.
"""

from __future__ import annotations

import struct

import msgspec
from resonate.connections.local import DurablePromise, Task

from resonate_rpc_cli.server.redolog import Change
from resonate_rpc_cli.server.schedules import ScheduleRecord, as_records
from resonate_rpc_cli.server.state import IndexedServerState


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


def changed_rows(state: IndexedServerState) -> list[Change]:
    """The rows changed since the last call (the dirty sets, emptied), as the store logs
    them: ``(table, id, row)``, ``row`` ``None`` for an id dropped. A row is encoded from a
    plain tuple, the same msgpack array its :class:`PromiseRow`/:class:`TaskRow` decodes
    (no struct per row)."""
    dirty = state.dirty  # read, then emptied (no new sets per commit)
    out: list[Change] = []
    ids = dirty["promises"]
    if ids:
        promises, p_timeout = state.promises, state.p_timeout
        for pid in ids:
            p = dict.get(promises, pid)
            out.append(("promises", pid, None if p is None else _encode((p, p_timeout(pid)))))
    ids = dirty["tasks"]
    if ids:
        tasks, t_timeout = state.tasks, state.t_timeout
        for tid in ids:
            t = dict.get(tasks, tid)
            if t is None:
                out.append(("tasks", tid, None))
            else:
                typ, at = t_timeout(tid) or (None, None)
                out.append(("tasks", tid, _encode((t, typ, at))))
    for sid in dirty["schedules"]:
        s = dict.get(state.schedules, sid)
        out.append(("schedules", sid,
                    None if s is None else _encode(as_records({sid: s})[sid])))
    for ids in dirty.values():
        ids.clear()
    return out


def _decode_all[T](decoder: msgspec.msgpack.Decoder[list[T]], blobs: list[bytes]) -> list[T]:
    """Decode many msgpack rows at once: they are the items of one msgpack array."""
    return decoder.decode(b"\xdd" + struct.pack(">I", len(blobs)) + b"".join(blobs))


def decode_promise_rows(blobs: list[bytes]) -> list[PromiseRow]:
    return _decode_all(_promise_rows, blobs)


def decode_task_rows(blobs: list[bytes]) -> list[TaskRow]:
    return _decode_all(_task_rows, blobs)


def decode_schedule_rows(blobs: list[bytes]) -> list[ScheduleRecord]:
    return _decode_all(_schedule_rows, blobs)
