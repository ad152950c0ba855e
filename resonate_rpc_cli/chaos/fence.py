"""Stale holders behind a partition: counted, and held to the version fence.

A node cut off from the server by a ``partition`` keeps running the step it
holds, but its lease lapses and the step runs again elsewhere (or on the
same node after the heal). When the link
heals, the old holder's settle carries a stale task version and the server
refuses it: the step's promise settles exactly once, with the value of the
run that held the lease. This module counts those stale executions from the
ledgers and the fault log (a pure function); the value and re-execution
rules of :mod:`.checker` already fail the run if a stale settle got through
(a second settle of a settled promise cannot change it, and every step's
value is checked against the oracle).

A stale execution is a step execution (ledger ``start`` to ``end``, or never
ended) on a node that was still running when a landed ``partition`` cut that
node's link, or began during it, of a step that started again later: on
another node, or on the same one once its link healed and it took the task
again under a new version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TypedDict

from resonate_rpc_cli.chaos.faults import FaultRecord
from resonate_rpc_cli.contracts.ledger import LedgerEntry


def _windows(faults: Sequence[FaultRecord]) -> dict[str, list[tuple[int, int]]]:
    """Node name → the (start, end) wall-ms windows its link was partitioned."""
    out: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for f in faults:
        if f.kind != "partition" or not f.landed or f.at_ms is None:
            continue
        end = f.healed_ms if f.healed_ms is not None else f.at_ms + int(f.down_s * 1000)
        for name in f.targets or [f.target]:
            out[name].append((f.at_ms, end))
    return out


class Fenced(TypedDict):
    """The report's ``network`` section."""

    #: landed partition faults, and those whose victim held a task
    partitions: int
    partitioned_holders: int
    #: stale executions, and those whose body still finished
    fenced: int
    stale_ends: int
    examples: list[str]


def fenced_executions(
    ledger: Iterable[LedgerEntry], faults: Sequence[FaultRecord]
) -> Fenced:
    """Count stale executions (see the module docstring) and how many still reached ``end``."""
    windows = _windows(faults)
    by_step: dict[str, list[LedgerEntry]] = defaultdict(list)
    ends: dict[tuple[str, str], float] = {}
    for e in ledger:
        if e.phase == "start":
            by_step[e.step_id].append(e)
        elif e.phase == "end":
            ends[(e.step_id, e.node_id)] = e.ts
    fenced: list[LedgerEntry] = []
    for runs in by_step.values():
        runs.sort(key=lambda e: e.ts)
        for n, e in enumerate(runs):
            end = ends.get((e.step_id, e.node_id))
            if n + 1 < len(runs) and _partitioned(windows.get(e.node, []), e.ts, end):
                fenced.append(e)
    partitions = [f for f in faults if f.kind == "partition" and f.landed]
    return {
        "partitions": len(partitions),
        "partitioned_holders": sum(1 for f in partitions if f.held),
        "fenced": len(fenced),
        "stale_ends": sum(1 for e in fenced if (e.step_id, e.node_id) in ends),
        "examples": [f"{e.step_id}: {e.func} on {e.node}" for e in fenced[:10]],
    }


def _partitioned(windows: Sequence[tuple[int, int]], start: float, end: float | None) -> bool:
    """Whether an execution from ``start`` to ``end`` (``None``: never ended) ran into a window."""
    lo = int(start * 1000)
    hi = None if end is None else int(end * 1000)
    return any(lo <= w_end and (hi is None or hi >= w_start) for w_start, w_end in windows)
