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
* **orphans** — processes of ours left after teardown;
* **server invariants** (from the server's transition journal, when it kept
  one: :mod:`.measures`) — a task with two live leases at once, or a
  settled promise that changed.

Coverage (else ``unknown``): at least ``min_faults`` faults landed, every flow
kind of the mix completed at least once, every requested flow was started, and
no flow ended indeterminate (never acknowledged, never re-sent, unknown to the
server).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from resonate_rpc_cli.chaos.history import (
    FaultRecord,
    FlowRecord,
    JournalEvent,
    Op,
    attach,
    flows_from_history,
)
from resonate_rpc_cli.chaos.measures import (
    LEASES,
    SETTLED,
    invariant_summary,
    latency_ms,
    recovery_s,
    step_executions,
)
from resonate_rpc_cli.chaos.report import (
    EXAMPLES,
    ChaosReport,
    FaultSummary,
    FlowCount,
    StepCounts,
    VerdictWord,
)
from resonate_rpc_cli.clients.protocol import PromiseRecord
from resonate_rpc_cli.contracts.flows import FLOWS, expected_value, flow_named
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.contracts.payload import decode_payload


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


def check(
    history: Sequence[Op],
    ledger: Iterable[LedgerEntry],
    promises: Iterable[PromiseRecord],
    faults: Sequence[FaultRecord],
    *,
    options: CheckOptions,
    orphans: int = 0,
    journal: list[JournalEvent] | None = None,
) -> ChaosReport:
    """Judge one run; return the report dict (the ``report.json`` contract).

    Promises and ledger entries of other runs (whose root is not in the
    history) are ignored. Never raises on odd data: an unknown flow name in the
    history is a ``ValueError`` from :func:`flow_named`, which the caller's
    options validation prevents.
    """
    flows = flows_from_history(history)
    records, entries = attach(flows, promises, ledger)

    problems: dict[str, list[str]] = defaultdict(list)
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

    steps = step_executions(entries, records, problems)
    pending = sorted(pid for pid, rec in records.items() if rec.get("state") == "pending")
    problems["pending"] = pending

    invariants, broken = invariant_summary(journal)
    problems.update(broken)

    landed = [f for f in faults if f.landed]
    recovery = recovery_s(landed, flows)
    latency = latency_ms(completed, landed)

    kinds_completed = sorted({f.flow for f in completed})
    kinds_missing = [k for k in (flow_named(m).name for m in options.mix)
                     if k not in kinds_completed]

    reasons = _failures(problems, steps, lost=len(lost), wrong=len(wrong_ids),
                        failed=len(failed), orphans=orphans)
    verdict: VerdictWord = "fail" if reasons else "pass"
    if verdict == "pass":
        reasons = _coverage_gaps(options, len(landed), kinds_missing, len(indeterminate),
                                 len(flows))
        verdict = "unknown" if reasons else "pass"

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
            "by_kind": flows_by_kind((f.flow, f.completed()) for f in flows.values()),
        },
        "detached": {"started": len(detached), "cog_ran": len(cog_ran)},
        "steps": steps,
        "faults": fault_summary(landed, options.planned_faults),
        "recovery_s": recovery,
        "latency_ms": latency,
        "pending_after_heal": len(pending),
        "invariants": invariants,
        "orphans": orphans,
        "orphans_checked": options.orphans_checked,
        "coverage": {
            "min_faults": options.min_faults,
            "kinds_completed": kinds_completed,
            "kinds_missing": kinds_missing,
        },
        "problems": {k: v[:EXAMPLES] for k, v in sorted(problems.items()) if v},
    }


def flows_by_kind(flows: Iterable[tuple[str, bool]]) -> dict[str, FlowCount]:
    """``flows.by_kind``: per flow kind, how many were attempted and completed."""
    by_kind: dict[str, FlowCount] = {}
    for kind, completed in flows:
        row = by_kind.setdefault(kind, {"attempted": 0, "completed": 0})
        row["attempted"] += 1
        row["completed"] += int(completed)
    return by_kind


def fault_summary(landed: Sequence[FaultRecord], planned: int) -> FaultSummary:
    """The report's ``faults`` section: planned, landed, mid-step, by kind and target."""
    return {
        "planned": planned,
        "landed": len(landed),
        "mid_step": sum(1 for f in landed if f.held),
        "by_kind": dict(sorted(Counter(f.kind for f in landed).items())),
        "by_target": dict(sorted(Counter(f.target for f in landed).items())),
    }


def _failures(problems: dict[str, list[str]], steps: StepCounts, *, lost: int,
              wrong: int, failed: int, orphans: int) -> list[str]:
    """Why the verdict is ``fail`` (empty: it is not)."""
    reasons: list[str] = []
    _reason(reasons, lost, "flow(s) lost")
    _reason(reasons, wrong, "flow(s) with a wrong value")
    _reason(reasons, failed, "flow(s) failed")
    _reason(reasons, len(problems["cog_missing"]), "detached chain(s) whose cog never ran")
    _reason(reasons, steps["reexecuted_after_settle"],
            "step execution(s) started after the step had settled")
    _reason(reasons, len(problems["pending"]), "promise(s) still pending after heal")
    _reason(reasons, len(problems["two_live_leases"]),
            f"time(s) a task had two live leases (invariant: {LEASES})")
    _reason(reasons, len(problems["settled_promise_changed"]),
            f"settled promise(s) changed (invariant: {SETTLED})")
    _reason(reasons, orphans, "process(es) left after teardown")
    return reasons


def _coverage_gaps(options: CheckOptions, landed: int, kinds_missing: list[str],
                   indeterminate: int, started: int) -> list[str]:
    """Why a run that found nothing wrong proves too little (``unknown``; empty: ``pass``)."""
    reasons: list[str] = []
    if landed < options.min_faults:
        reasons.append(f"only {landed} fault(s) landed, fewer than {options.min_faults}")
    if kinds_missing:
        reasons.append(f"no {', '.join(kinds_missing)} flow completed")
    _reason(reasons, indeterminate, "flow(s) with no known outcome")
    if options.requested_flows is not None and started < options.requested_flows:
        reasons.append(f"only {started} of {options.requested_flows} flows were "
                       "started before the deadline")
    return reasons


def _reason(reasons: list[str], count: int, what: str) -> None:
    if count:
        reasons.append(f"{count} {what}")


def _wrong_values(
    flows: dict[str, FlowRecord], entries: Sequence[LedgerEntry], problems: dict[str, list[str]]
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


