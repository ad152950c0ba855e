"""Marks: what a row of the store holds, noted when an operation first touches its record.

The state machine reaches every record it *might* change through a tracked lookup
(:mod:`.tracking`), so an operation touches more records than it changes: an acquire
reads its task's promise, a fence or a fulfill checks the task's version. Comparing a
record's mark at its first touch with its mark at the operation's end tells the two
apart, so only changed rows are written (a third of the rows the SDK's flows touched
were unchanged). A mark is cheap: a tuple of the fields, sets frozen only when not
empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from resonate.connections.local import DurablePromise, PTimeout, Task, TTimeout

from resonate_rpc_cli.server.leases import LEASE_TIMEOUT

#: The persisted fields of a promise (with its timeout) or a task (with its timeout).
Mark = tuple[Any, ...]
_NO_IDS: frozenset[str] = frozenset()


def promise_mark(p: DurablePromise, pt: PTimeout | None) -> Mark:
    """What a promise row holds, to tell a changed promise from one only read: values
    compared (sets as frozen copies), except param, value and tags, which are only ever
    replaced, never changed in place (compared by identity in :func:`same_promise`)."""
    return (p.state, p.settled_at, p.timeout_at, pt.timeout if pt is not None else None,
            frozenset(p.awaiters) if p.awaiters else _NO_IDS,
            frozenset(p.subscribers) if p.subscribers else _NO_IDS,
            p.value, p.param, p.tags)


def same_promise(a: Mark, b: Mark) -> bool:
    return a[:6] == b[:6] and a[6] is b[6] and a[7] is b[7] and a[8] is b[8]


def task_mark(t: Task, tt: TTimeout | None) -> Mark:
    """What a task row holds (its timeout's kind and time last)."""
    return (t.state, t.version, t.pid, t.ttl,
            frozenset(t.resumes) if t.resumes else _NO_IDS,
            tt.typ if tt is not None else None, tt.timeout if tt is not None else None)


def same_task(a: Mark, b: Mark, lease_expiry: bool = True) -> bool:
    """Whether two marks hold the same row; with ``lease_expiry=False`` an acquired
    task's lease expiry (and only that) may differ."""
    if a[:6] != b[:6]:
        return False
    return a[6] == b[6] or (not lease_expiry and b[0] == "acquired" and b[3] is not None
                            and b[5] == LEASE_TIMEOUT)


def changed_promises(touched: Iterable[str], marks: dict[str, Mark],
                     promises: dict[str, DurablePromise], timeouts: dict[str, PTimeout],
                     known: set[str]) -> list[str]:
    """The touched promise ids not ``known`` to have changed whose rows changed (one with
    no mark or no record: always)."""
    out = []
    for pid in touched:
        if pid in known:
            continue
        before = marks.get(pid)
        p = dict.get(promises, pid)
        if before is None or p is None or not same_promise(
                before, promise_mark(p, timeouts.get(pid))):
            out.append(pid)
    return out


def changed_tasks(touched: Iterable[str], marks: dict[str, Mark], tasks: dict[str, Task],
                  timeouts: dict[str, TTimeout], lease_expiry: bool,
                  known: set[str]) -> list[str]:
    """As :func:`changed_promises`, for tasks (see :func:`same_task`)."""
    out = []
    for tid in touched:
        if tid in known:
            continue
        before = marks.get(tid)
        t = dict.get(tasks, tid)
        if before is None or t is None or not same_task(
                before, task_mark(t, timeouts.get(tid)), lease_expiry):
            out.append(tid)
    return out
