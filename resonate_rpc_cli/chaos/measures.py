"""What a chaos run measured: step executions, recovery after each fault, latency.

Pure functions of the flows (``outcomes.py``), ledger entries and the fault log;
each returns its section of ``report.json`` (a TypedDict: the section's JSON shape).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from resonate_rpc_cli.chaos.faults import FaultRecord
from resonate_rpc_cli.chaos.outcomes import FlowRecord
from resonate_rpc_cli.clients.protocol import PromiseRecord
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry


class StepCounts(TypedDict):
    """The report's ``steps``: step executions from the ledgers, and re-executions."""

    executions: int
    distinct: int
    max_starts_per_step: int
    reexecuted_by_func: dict[str, int]
    reexecuted_before_settle: int
    reexecuted_after_settle: int
    unverified: int


class FaultRecovery(TypedDict):
    """One landed fault's recovery (``None``: not measured or never recovered)."""

    index: int
    recovery_s: float | None


class Recovery(TypedDict):
    """The report's ``recovery_s``."""

    p50: float | None
    max: float | None
    measured: int
    unrecovered: int
    per_fault: list[FaultRecovery]


class LatencySummary(TypedDict):
    count: int
    p50: float | None
    p99: float | None


class Latency(TypedDict):
    """The report's ``latency_ms``: every completed flow, and split by fault overlap."""

    all: LatencySummary
    with_faults: LatencySummary
    without_faults: LatencySummary


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def step_executions(
    entries: Sequence[LedgerEntry],
    records: Mapping[str, PromiseRecord],
    problems: dict[str, list[Any]],
) -> StepCounts:
    starts: dict[str, list[LedgerEntry]] = defaultdict(list)
    for e in entries:
        if e.phase == "start":
            starts[e.step_id].append(e)
    before = after = unverified = 0
    for step_id, runs in starts.items():
        runs.sort(key=lambda e: e.ts)
        rec = records.get(step_id) or records.get(runs[0].promise_id)
        settled = rec.get("settledAt") if rec else None
        for n, e in enumerate(runs):
            if isinstance(settled, int) and math.floor(e.ts * 1000) > settled:
                after += 1
                problems["reexecuted_after_settle"].append(
                    f"{step_id}: {e.func} started on {e.node} at {math.floor(e.ts * 1000)} ms, "
                    f"settled at {settled} ms"
                )
            elif n > 0:
                before += 1
        if not isinstance(settled, int):
            unverified += len(runs)
    by_func = Counter(runs[0].func for runs in starts.values() for _ in runs[1:])
    return {
        "executions": sum(len(r) for r in starts.values()),
        "distinct": len(starts),
        "max_starts_per_step": max((len(r) for r in starts.values()), default=0),
        "reexecuted_by_func": dict(sorted(by_func.items())),
        "reexecuted_before_settle": before,
        "reexecuted_after_settle": after,
        "unverified": unverified,
    }


def recovery_s(landed: Sequence[FaultRecord], flows: dict[str, FlowRecord]) -> Recovery:
    """Per fault: time from landing until the flows it hit (or, if none, any flow) finished.

    A fault whose victim held tasks recovers when every flow owning those tasks
    has finished; otherwise when the first flow in flight at that moment
    finishes. A fault with neither is not measured.
    """
    times: list[float] = []
    per_fault: list[FaultRecovery] = []
    unrecovered = 0
    for fault in landed:
        if fault.at_ms is None:
            continue
        took = _recovery_of(fault, fault.at_ms, flows)
        if took is _UNRECOVERED:
            unrecovered += 1
        elif isinstance(took, float):
            times.append(took)
        per_fault.append({"index": fault.index,
                          "recovery_s": _round(took) if isinstance(took, float) else None})
    return {
        "p50": _round(percentile(times, 50)),
        "max": _round(max(times) if times else None),
        "measured": len(times),
        "unrecovered": unrecovered,
        "per_fault": per_fault,
    }


_UNRECOVERED = "unrecovered"


def _recovery_of(fault: FaultRecord, at_ms: int,
                 flows: dict[str, FlowRecord]) -> float | str | None:
    """Seconds until ``fault`` recovered; :data:`_UNRECOVERED`, or ``None`` if not measurable."""
    hit = {origin_of(t) for t in fault.held} & flows.keys()
    if hit:
        ends = [flows[r].finished_ms() for r in hit]
        if any(e is None for e in ends):
            return _UNRECOVERED
        return max(0, max(e for e in ends if e is not None) - at_ms) / 1000
    later = [
        end for f in flows.values()
        if f.first_invoke_ms <= at_ms
        and (end := f.finished_ms()) is not None and end > at_ms
    ]
    return (min(later) - at_ms) / 1000 if later else None


def latency_ms(completed: Sequence[FlowRecord], landed: Sequence[FaultRecord]) -> Latency:
    """Flow latency (first invoke to finished) p50/p99, split by overlap with a fault."""
    return span_latency_ms([(f.first_invoke_ms, end) for f in completed
                            if (end := f.finished_ms()) is not None], landed)


def span_latency_ms(spans: Sequence[tuple[int, int]],
                    landed: Sequence[FaultRecord]) -> Latency:
    """Latency of each ``(start_ms, end_ms)`` p50/p99, split by overlap with a fault."""
    windows = [
        (f.at_ms, f.healed_ms if f.healed_ms is not None else f.at_ms)
        for f in landed if f.at_ms is not None
    ]
    all_: list[float] = []
    hit: list[float] = []
    clean: list[float] = []
    for start, end in spans:
        lat = float(max(0, end - start))
        all_.append(lat)
        overlaps = any(lo <= end and start <= hi for lo, hi in windows)
        (hit if overlaps else clean).append(lat)

    def summary(values: list[float]) -> LatencySummary:
        return {"count": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99)}

    return {"all": summary(all_), "with_faults": summary(hit), "without_faults": summary(clean)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
