"""``Census``: counts kept as records change, and which call trees are fully settled.

Fed with every record an operation touched (its state before and the record
now), it keeps, in O(1) per change:

* promises and tasks per state (``/rpcdemo/info`` and the live view read these
  instead of walking every promise);
* the tasks that are not fulfilled (``live_tasks``: the only tasks that can be
  re-sent, and the only ones that can still refer to other promises);
* per call tree (promises sharing a ``resonate:origin``, or a promise alone):
  how many of its promises are pending and when the latest one settled, and a
  heap of the trees with nothing pending, oldest last settle first, for
  retention to take from.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass

from resonate.connections.local import DurablePromise, Task

from resonate_rpc_cli.contracts import tags as tag

ORIGIN_TAG = tag.ORIGIN


def origin_of(p: DurablePromise) -> str:
    """The call tree a promise belongs to: its ``resonate:origin`` tag, else itself."""
    return p.tags.get(ORIGIN_TAG) or p.id


@dataclass(slots=True)
class Tree:
    pending: int = 0
    size: int = 0
    last_settled: int = 0
    #: A heap entry with the current ``last_settled`` exists.
    queued: bool = False


class Census:
    """Per-state counts, live tasks and settled trees, updated per changed record."""

    def __init__(self) -> None:
        self.promises: Counter[str] = Counter()
        self.tasks: Counter[str] = Counter()
        self.live_tasks: set[str] = set()
        self.trees: dict[str, Tree] = {}
        #: ``(last settle ms, origin)`` of trees with nothing pending (may be stale:
        #: check the tree when taking one).
        self.settled: list[tuple[int, str]] = []

    def promise(self, before: str | None, p: DurablePromise | None) -> None:
        """Record a promise that went from state ``before`` (``None``: new) to ``p``."""
        if p is None:
            if before is not None:
                self.promises[before] -= 1
            return
        now = p.state
        if before is not None:
            self.promises[before] -= 1
        self.promises[now] += 1
        origin = origin_of(p)
        tree = self.trees.get(origin)
        if tree is None:
            tree = self.trees[origin] = Tree()
        if before is None:
            tree.size += 1
            if now == "pending":
                tree.pending += 1
        elif before == "pending":
            tree.pending -= 1
            if tree.pending == 0:
                tree.queued = False  # its heap entry (if any) is stale: push a fresh one
        if now != "pending":
            settled_at = p.settled_at or 0
            if settled_at > tree.last_settled:
                tree.last_settled = settled_at
                tree.queued = False
            if tree.pending == 0 and not tree.queued:
                heapq.heappush(self.settled, (tree.last_settled, origin))
                tree.queued = True

    def task(self, before: str | None, t: Task | None, tid: str) -> None:
        """Record a task that went from state ``before`` (``None``: new) to ``t``."""
        now = t.state if t is not None else None
        if before == now:
            return
        if before is not None:
            self.tasks[before] -= 1
        if now is None:
            self.live_tasks.discard(tid)
            return
        self.tasks[now] += 1
        if now == "fulfilled":
            self.live_tasks.discard(tid)
        else:
            self.live_tasks.add(tid)

    def forget_tree(self, origin: str) -> None:
        self.trees.pop(origin, None)

    def counts(self) -> dict[str, int]:
        """Promises per state (states with none left out)."""
        return {k: v for k, v in self.promises.items() if v}
