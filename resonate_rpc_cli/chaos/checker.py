"""The checker: a pure function from what happened to a verdict.

Inputs are the workload's history, the ledger entries of every node, the
server's promise records, and the fault log; nothing is read from the outside
world, so every rule below is unit-tested on synthetic histories.

Rules (each turns the verdict to ``fail``):

* **lost** — a flow acknowledged by the gateway, or re-sent, or known to the
  server, whose root promise never resolved (still pending, or unknown to the
  server — even if the gateway had answered with its value);
* **wrong** — a settled value (the gateway's answer, the root promise's value,
  or any step's ``end`` value in the ledger, or a step's argument) that
  differs from the oracle in :mod:`resonate_rpc_cli.contracts.flows`;
* **failed** — a root promise rejected, or a definite error from the gateway;
* **cog missing** — a detached chain whose root resolved but whose ``cog``
  never finished;
* **re-executed after settle** — a ledger ``start`` of a step whose promise
  (the ``ctx.run`` checkpoint; else the function's own promise) had already
  settled: ``floor(ts * 1000) > settledAt``, both wall-clock ms on one machine;
* **pending after heal** — any promise of the run still pending;
* **orphans** — processes of ours left after teardown.

Coverage (else ``unknown``): at least ``min_faults`` faults landed, every flow
kind of the mix completed at least once, every requested flow was started, and
no flow ended indeterminate (never acknowledged, never re-sent, unknown to the
server).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from resonate_rpc_cli.chaos.faults import FaultRecord
from resonate_rpc_cli.chaos.history import Op
from resonate_rpc_cli.contracts.flows import FLOWS, expected_value, flow_named
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.contracts.payload import decode_payload

#: How many example ids each problem list in the report keeps.
EXAMPLES = 20


@dataclass(frozen=True)
class CheckOptions:
    """What the run asked for: the seed, the flow mix, the coverage bar."""

    seed: int
    mix: tuple[str, ...] = tuple(FLOWS)
    min_faults: int = 3
    planned_faults: int = 0
    orphans_checked: bool = False
    #: Flows the workload meant to run (``None``: whatever the history holds).
    requested_flows: int | None = None


@dataclass
class _Flow:
    """Everything known about one flow (one root promise id)."""

    promise_id: str
    flow: str
    arg: int
    first_invoke_ms: int
    attempts: int = 0
    ok_ms: int | None = None
    ok_value: Any = None
    acknowledged: bool = False
    failed_error: str | None = None
    last_type: str = "invoke"
    root: dict[str, Any] | None = None
    promises: list[dict[str, Any]] = field(default_factory=list)
    cog_end: LedgerEntry | None = None

    @property
    def awaited(self) -> bool:
        return flow_named(self.flow).awaited

    @property
    def root_state(self) -> str | None:
        return None if self.root is None else str(self.root.get("state"))

    def completed(self) -> bool:
        """The root promise resolved on the server.

        A gateway answer alone is not enough: a root the server no longer
        knows is a durable promise lost, even if its value reached the client.
        """
        return self.root_state == "resolved"

    def failed(self) -> bool:
        state = self.root_state
        if state is not None and state.startswith("rejected"):
            return True
        return self.root is None and self.failed_error is not None and not self.acknowledged

    def finished_ms(self) -> int | None:
        """When the flow was done, in wall ms; ``None`` if it never finished.

        An awaited flow is done when the gateway answered; a detached chain
        when every promise of its tree (down to ``cog``) had settled.
        """
        if self.awaited and self.ok_ms is not None:
            return self.ok_ms
        settled = [p.get("settledAt") for p in self.promises]
        if not settled or not all(isinstance(s, int) for s in settled):
            return None
        return max(int(s) for s in settled if s is not None)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def check(
    history: Sequence[Op],
    ledger: Iterable[LedgerEntry],
    promises: Iterable[dict[str, Any]],
    faults: Sequence[FaultRecord],
    *,
    options: CheckOptions,
    orphans: int = 0,
) -> dict[str, Any]:
    """Judge one run; return the report dict (the ``report.json`` contract).

    Promises and ledger entries of other runs (whose root is not in the
    history) are ignored. Never raises on odd data: an unknown flow name in the
    history is a ``ValueError`` from :func:`flow_named`, which the caller's
    options validation prevents.
    """
    flows = _flows_from_history(history)
    records = {str(p["id"]): p for p in promises if origin_of(str(p["id"])) in flows}
    for pid, rec in records.items():
        flow = flows[origin_of(pid)]
        flow.promises.append(rec)
        if pid == flow.promise_id:
            flow.root = rec
    entries = [e for e in ledger if origin_of(e.promise_id) in flows]
    for e in entries:
        if e.func == "cog" and e.phase == "end":
            flows[origin_of(e.promise_id)].cog_end = e

    problems: dict[str, list[Any]] = defaultdict(list)
    completed = [f for f in flows.values() if f.completed()]
    failed = [f for f in flows.values() if not f.completed() and f.failed()]
    lost = [
        f for f in flows.values()
        if not f.completed() and not f.failed()
        and (f.acknowledged or f.attempts > 1 or f.root is not None)
    ]
    indeterminate = [
        f for f in flows.values()
        if not f.completed() and not f.failed() and f not in lost
    ]
    wrong_ids = _wrong_values(flows, entries, problems)
    problems["lost"] = [f.promise_id for f in lost]
    problems["failed"] = [f"{f.promise_id}: {f.failed_error or f.root_state}" for f in failed]
    problems["unknown"] = [f.promise_id for f in indeterminate]

    detached = [
        f for f in flows.values()
        if f.flow == "detached-chain" and (f.acknowledged or f.root is not None)
    ]
    cog_ran = [f for f in detached if f.cog_end is not None]
    problems["cog_missing"] = [
        f.promise_id for f in detached if f.cog_end is None and f.root_state == "resolved"
    ]

    steps = _step_executions(entries, records, problems)
    pending = sorted(pid for pid, rec in records.items() if rec.get("state") == "pending")
    problems["pending"] = pending

    landed = [f for f in faults if f.landed]
    recovery = _recovery_s(landed, flows)
    latency = _latency_ms(completed, landed)

    kinds_completed = sorted({f.flow for f in completed})
    kinds_missing = [k for k in (flow_named(m).name for m in options.mix)
                     if k not in kinds_completed]

    reasons: list[str] = []
    _reason(reasons, len(lost), "flow(s) lost")
    _reason(reasons, len(wrong_ids), "flow(s) with a wrong value")
    _reason(reasons, len(failed), "flow(s) failed")
    _reason(reasons, len(problems["cog_missing"]), "detached chain(s) whose cog never ran")
    _reason(reasons, steps["reexecuted_after_settle"],
            "step execution(s) started after the step had settled")
    _reason(reasons, len(pending), "promise(s) still pending after heal")
    _reason(reasons, orphans, "process(es) left after teardown")
    verdict = "fail" if reasons else "pass"
    if verdict == "pass":
        if len(landed) < options.min_faults:
            reasons.append(f"only {len(landed)} fault(s) landed, fewer than {options.min_faults}")
        if kinds_missing:
            reasons.append(f"no {', '.join(kinds_missing)} flow completed")
        _reason(reasons, len(indeterminate), "flow(s) with no known outcome")
        if options.requested_flows is not None and len(flows) < options.requested_flows:
            reasons.append(f"only {len(flows)} of {options.requested_flows} flows were "
                           "started before the deadline")
        verdict = "unknown" if reasons else "pass"

    by_kind_flows: dict[str, dict[str, int]] = {}
    for f in flows.values():
        row = by_kind_flows.setdefault(f.flow, {"attempted": 0, "completed": 0})
        row["attempted"] += 1
        row["completed"] += int(f.completed())

    return {
        "verdict": verdict,
        "seed": options.seed,
        "reasons": reasons,
        "flows": {
            "requested": options.requested_flows if options.requested_flows is not None
            else len(flows),
            "attempted": len(flows),
            "completed": len(completed),
            "lost": len(lost),
            "wrong": len(wrong_ids),
            "unknown": len(indeterminate),
            "failed": len(failed),
            "resent": sum(1 for f in flows.values() if f.attempts > 1),
            # awaited flows that completed on the server but whose answer never reached us
            "unanswered": sum(1 for f in completed if f.awaited and not f.acknowledged),
            "by_kind": by_kind_flows,
        },
        "detached": {"started": len(detached), "cog_ran": len(cog_ran)},
        "steps": steps,
        "faults": {
            "planned": options.planned_faults,
            "landed": len(landed),
            "mid_step": sum(1 for f in landed if f.held),
            "by_kind": dict(sorted(Counter(f.kind for f in landed).items())),
            "by_target": dict(sorted(Counter(f.target for f in landed).items())),
        },
        "recovery_s": recovery,
        "latency_ms": latency,
        "pending_after_heal": len(pending),
        "orphans": orphans,
        "orphans_checked": options.orphans_checked,
        "coverage": {
            "min_faults": options.min_faults,
            "kinds_completed": kinds_completed,
            "kinds_missing": kinds_missing,
        },
        "problems": {k: v[:EXAMPLES] for k, v in sorted(problems.items()) if v},
    }


def _reason(reasons: list[str], count: int, what: str) -> None:
    if count:
        reasons.append(f"{count} {what}")


def _flows_from_history(history: Sequence[Op]) -> dict[str, _Flow]:
    flows: dict[str, _Flow] = {}
    for op in sorted(history, key=lambda o: o.index):
        flow = flows.get(op.promise_id)
        if flow is None:
            flow = flows[op.promise_id] = _Flow(
                op.promise_id, flow_named(op.flow).name, op.arg, op.time_ms
            )
        flow.last_type = op.type
        if op.type == "invoke":
            flow.attempts += 1
        elif op.type == "ok":
            flow.acknowledged = True
            if flow.ok_ms is None:
                flow.ok_ms = op.time_ms
                flow.ok_value = op.value
        elif op.type == "fail":
            flow.failed_error = op.error or "failed"
    return flows


def _wrong_values(
    flows: dict[str, _Flow], entries: Sequence[LedgerEntry], problems: dict[str, list[Any]]
) -> set[str]:
    """Flows with any value or argument that differs from the oracle."""
    wrong: set[str] = set()
    for f in flows.values():
        spec = flow_named(f.flow)
        want = spec.expected(f.arg)
        if f.awaited and f.acknowledged and f.ok_value != want:
            wrong.add(f.promise_id)
            problems["wrong"].append(f"{f.promise_id}: gateway said {f.ok_value!r}, want {want}")
        if f.root_state == "resolved":
            got = decode_payload(f.root.get("value") if f.root else None)
            if got != want:
                wrong.add(f.promise_id)
                problems["wrong"].append(f"{f.promise_id}: root resolved {got!r}, want {want}")
    for e in entries:
        f = flows[origin_of(e.promise_id)]
        args = flow_named(f.flow).step_args(f.arg)
        if e.func not in args:
            wrong.add(f.promise_id)
            problems["wrong"].append(f"{e.promise_id}: {e.func} is not a step of {f.flow}")
            continue
        if e.arg != args[e.func]:
            wrong.add(f.promise_id)
            problems["wrong"].append(
                f"{e.promise_id}: {e.func} got arg {e.arg!r}, want {args[e.func]}"
            )
        elif e.phase == "end" and e.value != expected_value(e.func, args[e.func]):
            wrong.add(f.promise_id)
            problems["wrong"].append(
                f"{e.promise_id}: {e.func} returned {e.value!r}, "
                f"want {expected_value(e.func, args[e.func])}"
            )
    return wrong


def _step_executions(
    entries: Sequence[LedgerEntry],
    records: dict[str, dict[str, Any]],
    problems: dict[str, list[Any]],
) -> dict[str, Any]:
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


def _recovery_s(landed: Sequence[FaultRecord], flows: dict[str, _Flow]) -> dict[str, Any]:
    """Per fault: time from landing until the flows it hit (or, if none, any flow) finished.

    A fault whose victim held tasks recovers when every flow owning those tasks
    has finished; otherwise when the first flow in flight at that moment
    finishes. A fault with neither is not measured.
    """
    times: list[float] = []
    per_fault: list[dict[str, Any]] = []
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


def _recovery_of(fault: FaultRecord, at_ms: int, flows: dict[str, _Flow]) -> float | str | None:
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


def _latency_ms(completed: Sequence[_Flow], landed: Sequence[FaultRecord]) -> dict[str, Any]:
    """Flow latency (first invoke to finished) p50/p99, split by overlap with a fault."""
    windows = [
        (f.at_ms, f.healed_ms if f.healed_ms is not None else f.at_ms)
        for f in landed if f.at_ms is not None
    ]
    all_: list[float] = []
    hit: list[float] = []
    clean: list[float] = []
    for f in completed:
        end = f.finished_ms()
        if end is None:
            continue
        lat = float(max(0, end - f.first_invoke_ms))
        all_.append(lat)
        overlaps = any(lo <= end and f.first_invoke_ms <= hi for lo, hi in windows)
        (hit if overlaps else clean).append(lat)

    def summary(values: list[float]) -> dict[str, Any]:
        return {"count": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99)}

    return {"all": summary(all_), "with_faults": summary(hit), "without_faults": summary(clean)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
