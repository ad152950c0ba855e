"""Retention: dropping call trees that settled long ago, a small batch at a time.

A call tree (the promises sharing a ``resonate:origin``, see :mod:`.census`)
is collectable when every promise in it has settled, the latest of them
before the cutoff, and nothing still refers to it: no promise of the tree has
a task that is not fulfilled, and no live task awaits or was resumed by one of
its promises. Pending promises, trees with anything pending and promises a
live task refers to are never dropped. :func:`collect` takes at most
``budget`` trees from the census's heap of settled trees (oldest first), so the
caller can yield to the event loop between batches; a tree skipped because
something refers to it is looked at again on the next pass.

A re-sent request with the id of a collected promise finds nothing and starts
afresh: that is why retention is off unless asked for.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TypedDict

import msgspec

from resonate_rpc_cli.server.census import ORIGIN_TAG
from resonate_rpc_cli.server.state import IndexedServerState

_encode = msgspec.msgpack.Encoder().encode


class CollectedJson(TypedDict):
    """What ``/rpcdemo/gc`` and ``/rpcdemo/info``'s ``collected`` say was dropped."""

    trees: int
    promises: int
    tasks: int
    bytes: int


@dataclass
class Collected:
    """What one or more passes dropped (or, dry, would drop)."""

    trees: int = 0
    promises: int = 0
    tasks: int = 0
    bytes: int = 0
    more: bool = False

    def add(self, other: Collected) -> None:
        self.trees += other.trees
        self.promises += other.promises
        self.tasks += other.tasks
        self.bytes += other.bytes
        self.more = other.more

    def to_json(self) -> CollectedJson:
        return {"trees": self.trees, "promises": self.promises, "tasks": self.tasks,
                "bytes": self.bytes}


def collect(state: IndexedServerState, cutoff_ms: int, budget: int, refs: set[str],
            dry_run: bool = False) -> Collected:
    """Drop (or, ``dry_run``, count) up to ``budget`` trees settled by ``cutoff_ms``.

    ``refs`` is :meth:`IndexedServerState.referenced`, taken once per pass (no
    new reference to a tree settled before the cutoff can appear: a task
    refers only to promises it awaits while they are pending, or that resumed
    it as they settled). ``more`` in the result says whether collectable trees
    may remain. The caller persists the drops (they are the state's dirty records).
    """
    if dry_run:
        return _count(state, cutoff_ms, refs)
    heap = state.census.settled
    done = Collected()
    deferred: list[tuple[int, str]] = []
    while heap and heap[0][0] <= cutoff_ms and done.trees < budget:
        last, origin = heapq.heappop(heap)
        members = _collectable(state, origin, last, refs)
        if members is None:
            continue
        if not members:
            deferred.append((last, origin))
            continue
        _drop(state, origin, members, done)
    for entry in deferred:
        heapq.heappush(heap, entry)
    state.end_op()
    done.more = bool(heap) and heap[0][0] <= cutoff_ms and done.trees >= budget
    return done


def _count(state: IndexedServerState, cutoff_ms: int, refs: set[str]) -> Collected:
    out = Collected()
    seen: set[str] = set()
    for last, origin in list(state.census.settled):
        if last > cutoff_ms or origin in seen:
            continue
        seen.add(origin)
        members = _collectable(state, origin, last, refs)
        if members:
            out.trees += 1
            for pid in members:
                out.promises += 1
                out.bytes += _row_bytes(state, pid)
                out.tasks += dict.__contains__(state.tasks, pid)
    return out


def _collectable(state: IndexedServerState, origin: str, last: int,
                 refs: set[str]) -> list[str] | None:
    """The tree's ids if it can go; ``[]`` if not yet (referred to); ``None`` if stale."""
    tree = state.census.trees.get(origin)
    if tree is None or tree.pending > 0 or tree.last_settled != last:
        return None  # gone, pending again, or a newer heap entry stands for it
    members = list(state.index.origin_ids(origin))
    root = dict.get(state.promises, origin)
    if root is not None and ORIGIN_TAG not in root.tags:
        members.append(origin)
    for pid in members:
        t = dict.get(state.tasks, pid)
        if pid in refs or (t is not None and t.state != "fulfilled"):
            return []
    return members


def _drop(state: IndexedServerState, origin: str, members: list[str], done: Collected) -> None:
    done.trees += 1
    for pid in members:
        done.bytes += _row_bytes(state, pid)
        done.tasks += dict.__contains__(state.tasks, pid)
        done.promises += 1
        state.forget(pid)
    state.census.forget_tree(origin)


def _row_bytes(state: IndexedServerState, pid: str) -> int:
    """The stored size of a promise's rows (its record and its task's), near enough."""
    size = len(_encode(dict.get(state.promises, pid))) + len(pid)
    t = dict.get(state.tasks, pid)
    if t is not None:
        size += len(_encode(t)) + len(pid)
    return size
