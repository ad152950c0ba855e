"""What a chaos run measured: step executions, recovery, latency, stale holders, invariants.

Pure functions of the flows (:class:`~.history.FlowRecord`), ledger entries, the fault log and
the server's journal; each returns its section of ``report.json`` (a TypedDict:
the section's JSON shape).

**Stale holders behind a partition** (:func:`fenced_executions`, the report's
``network``): a node cut off from the server by a ``partition`` keeps running
the step it holds, but its lease lapses and the step runs again elsewhere (or
on the same node after the heal). When the link heals, the old holder's settle
carries a stale task version and the server refuses it: the step's promise
settles exactly once, with the value of the run that held the lease. A stale
execution is a step execution (ledger ``start`` to ``end``, or never ended) on
a node that was still running when a landed ``partition`` cut that node's link,
or began during it, of a step that started again later: on another node, or
on the same one once its link healed and it took the task again under a new
version. Counted only: the value and re-execution rules of :mod:`.checker`
already fail the run if a stale settle got through.

**Server-side invariants** (:func:`invariant_summary`, the report's
``invariants``), judged from the server's own transition journal
(``server/journal.py``, read by :func:`~.history.read_journal`; the ledgers
show a completed step run twice only after the fact and only for steps that
log, the journal shows the cause). Each is a failed verdict when broken:

* **one live lease per task** (:data:`LEASES`): a lease is granted (a
  ``grant`` line) while the task's previous lease has not ended (no line
  moving it out of ``acquired`` since), or a task moves from one holder to
  another without leaving ``acquired``;
* **a settled promise never changes** (:data:`SETTLED`): a promise settled
  twice with a different state or value, or a line marking a settled promise
  ``changed``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resonate_rpc_cli.chaos.history import FaultRecord, FlowRecord, JournalEvent
from resonate_rpc_cli.chaos.report import (
    FaultRecovery,
    Fenced,
    InvariantCounts,
    Latency,
    LatencySummary,
    Recovery,
    StepCounts,
)
from resonate_rpc_cli.clients.protocol import PromiseRecord
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry


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
    problems: dict[str, list[str]],
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


LEASES = "one live lease per task"
SETTLED = "a settled promise never changes"


@dataclass(frozen=True)
class Violation:
    """One broken invariant: which, about what (a task or promise id), and how."""

    invariant: str
    subject: str
    detail: str



def violations(events: Iterable[JournalEvent]) -> list[Violation]:
    """Every moment the events break :data:`LEASES` or :data:`SETTLED`, in order."""
    live: dict[str, tuple[Any, Any]] = {}
    settled: dict[str, tuple[Any, Any]] = {}
    found: list[Violation] = []
    for e in events:
        if "task" in e:
            _lease_event(e, live, found)
        elif "promise" in e:
            _settle_event(e, settled, found)
    return found


def _lease_event(e: JournalEvent, live: dict[str, tuple[Any, Any]],
                 found: list[Violation]) -> None:
    task = str(e["task"])
    holder = (e.get("pid"), e.get("version"))
    if "grant" in e:
        if task in live:
            found.append(Violation(LEASES, task, (
                f"{task}: lease granted to {holder[0]} at version {holder[1]} at {e.get('t')} "
                f"while {live[task][0]}'s (version {live[task][1]}) was live")))
        live[task] = holder
    elif e.get("from") == "acquired" and e.get("to") != "acquired":
        live.pop(task, None)
    elif e.get("from") == e.get("to") == "acquired" and e.get("was") != e.get("pid"):
        found.append(Violation(LEASES, task, (
            f"{task}: lease moved from {e.get('was')} to {e.get('pid')} at {e.get('t')} "
            "without ending")))


def _settle_event(e: JournalEvent, settled: dict[str, tuple[Any, Any]],
                  found: list[Violation]) -> None:
    promise = str(e["promise"])
    now = (e.get("to"), e.get("value"))
    first = settled.setdefault(promise, now)
    if e.get("changed") or first != now:
        found.append(Violation(SETTLED, promise, (
            f"{promise}: settled {first[0]} ({first[1]}), then {now[0]} ({now[1]}) "
            f"at {e.get('t')}")))


def invariant_summary(events: list[JournalEvent] | None
            ) -> tuple[InvariantCounts, dict[str, list[str]]]:
    """The report's ``invariants`` section and the problem lists of :func:`violations`."""
    if events is None:
        return {"checked": False, "events": 0, "two_live_leases": 0,
                "settled_promise_changed": 0}, {}
    found = violations(events)
    leases = [v.detail for v in found if v.invariant == LEASES]
    changed = [v.detail for v in found if v.invariant == SETTLED]
    return ({"checked": True, "events": len(events), "two_live_leases": len(leases),
             "settled_promise_changed": len(changed)},
            {"two_live_leases": leases, "settled_promise_changed": changed})
