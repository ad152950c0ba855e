"""The checker for code we did not write: a typed history of a declared topology's run in,
a typed :class:`Verdict` out (pure; the seed's own checker is :mod:`.checker`).

Without a ledger inside the application, what can still be proven is judged per flow
instance (:class:`FlowRun`) and from the server's side. Each check says whether it
applied and, when not, why:

* **lost** — an accepted flow (the server knew its root, or the flow answered) whose
  root never settled after heal; an HTTP flow chaos could not name is lost when it was
  never answered;
* **wrong** — a settled outcome that differs from the flow's declared ``expect``, or,
  when none is declared, from the outcome of the same flow and arguments in the
  fault-free baseline run made first (a flow with neither is counted unjudged);
* **stuck** — promises of the run pending after heal, each with doctor's cause;
* **two live leases** and **settled promise changed** — the server's journal
  (:mod:`.measures`), when the server kept one;
* **re-executed steps** — where the application records its steps with rpcdemo's step
  helper (``contracts/step_record.py``/``.mjs``): a step started after its promise had
  settled fails the run; steps started again before they settled are counted (a crash
  mid-step does that, rightly).

The verdict is ``fail`` when an applied check found something, ``unknown`` when no flow
settled or some flow's outcome is not known (never accepted), else ``pass``.
:func:`history_of` makes the typed history of a run's operations and records (pure too).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from resonate_rpc_cli.chaos.history import JournalEvent, Op
from resonate_rpc_cli.chaos.measures import invariant_summary, step_executions
from resonate_rpc_cli.chaos.options import FlowPlan
from resonate_rpc_cli.chaos.report import EXAMPLES, CheckDoc, JsonValue, StepCounts, VerdictWord
from resonate_rpc_cli.chaos.workload import call_args, flow_key
from resonate_rpc_cli.clients.app_flows import ID_MARK, fill_id
from resonate_rpc_cli.clients.protocol import PromiseRecord
from resonate_rpc_cli.contracts.app_topology import HTTP_FLOW, AppTopology, FlowSpec
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.contracts.payload import decode_payload

SETTLED_STATES = ("resolved", "rejected", "rejected_canceled", "rejected_timedout")

CheckName = Literal["lost", "wrong", "stuck", "two_live_leases", "settled_promise_changed",
                    "reexecuted_steps"]


@dataclass(frozen=True)
class FlowRun:
    """One instance of a declared flow as the run saw it.

    ``promise_id`` is its root (``None``: an HTTP flow chaos could not name);
    ``answered``/``answer`` what the workload was told; ``state``/``value`` the root
    promise on the server after heal (``state`` ``None``: unknown to the server).
    ``by_answer``: the flow's value is its answer (an HTTP flow's response), not the
    root's value; it is judged only when answered.
    """

    flow: str
    args: Any
    promise_id: str | None
    answered: bool = False
    answer: Any = None
    state: str | None = None
    value: Any = None
    by_answer: bool = False

    @property
    def judgeable(self) -> bool:
        """Settled, with a value to compare (an HTTP flow's answer came)."""
        return self.settled and (self.answered or not self.by_answer)

    @property
    def settled(self) -> bool:
        if self.promise_id is None:
            return self.answered
        return self.state in SETTLED_STATES

    @property
    def accepted(self) -> bool:
        """The flow certainly began: the server knows its root, or it answered."""
        return self.state is not None or self.answered

    def outcome(self) -> Any:
        """What the flow came to: the resolved value, ``{"rejected": value}``, or the
        answer of a flow chaos could not name (``None`` while unsettled)."""
        if self.promise_id is None or self.by_answer:
            return self.answer if self.answered else None
        if self.state == "resolved":
            return self.value
        if self.state in SETTLED_STATES:
            return {self.state: self.value}
        return None


@dataclass(frozen=True)
class StuckPromise:
    """A promise of the run still pending after heal, and why (``rpcdemo doctor``'s cause)."""

    promise_id: str
    cause: str


@dataclass(frozen=True)
class RunHistory:
    """Everything the checker needs, gathered by the run.

    ``expected`` maps a flow to its declared ``expect`` (only flows that declare one);
    ``baseline`` maps :func:`flow_key` to the outcome of the fault-free run (``None``:
    none was made). ``stuck`` is ``None`` when pending promises were not diagnosed,
    ``journal`` when the server kept no journal, ``steps`` when no step helper line of
    this run exists. ``promises`` are the run's promise records by id (step settle times).
    """

    runs: Sequence[FlowRun]
    expected: Mapping[str, JsonValue] = field(default_factory=dict)
    baseline: Mapping[str, JsonValue] | None = None
    stuck: Sequence[StuckPromise] | None = None
    journal: list[JournalEvent] | None = None
    steps: Sequence[LedgerEntry] | None = None
    promises: Mapping[str, PromiseRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    """One check: whether it applied, what it covered (or why not), what it found."""

    name: CheckName
    applied: bool
    note: str
    failures: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.applied and bool(self.failures)


@dataclass(frozen=True)
class Verdict:
    """The judgement: ``pass``/``fail``/``unknown``, its reasons, each check, the counts."""

    verdict: VerdictWord
    reasons: tuple[str, ...]
    checks: tuple[CheckResult, ...]
    counts: Mapping[str, int]
    steps: StepCounts | None = None

    def check(self, name: CheckName) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> VerdictDoc:
        return {"verdict": self.verdict, "reasons": list(self.reasons),
                "checks": [{"name": c.name, "applied": c.applied, "note": c.note,
                            "failures": list(c.failures[:EXAMPLES]), "found": len(c.failures)}
                           for c in self.checks],
                "counts": dict(self.counts), "steps": None if self.steps is None
                else self.steps.copy()}


class VerdictDoc(TypedDict):
    """A :class:`Verdict` as JSON (each check's failures cut to :data:`EXAMPLES`)."""

    verdict: VerdictWord
    reasons: list[str]
    checks: list[CheckDoc]
    counts: dict[str, int]
    steps: StepCounts | None


def judge_runs(history: RunHistory) -> Verdict:
    """Judge one run of a declared topology; see the module docstring. Never raises."""
    runs = list(history.runs)
    steps_check, steps = _reexecuted(history)
    checks = (_lost(runs), _wrong(runs, history), _stuck(history.stuck),
              *_invariants(history.journal), steps_check)
    unknown = [r for r in runs if not r.accepted]
    counts = {"attempted": len(runs), "settled": sum(r.settled for r in runs),
              "lost": len(checks[0].failures), "wrong": len(checks[1].failures),
              "stuck": len(checks[2].failures), "unknown": len(unknown)}
    reasons = [f"{c.name.replace('_', ' ')}: {len(c.failures)} ({c.failures[0]})"
               for c in checks if c.failed]
    if reasons:
        return Verdict("fail", tuple(reasons), checks, counts, steps)
    gaps = []
    if not counts["settled"]:
        gaps.append("no flow settled")
    if unknown:
        gaps.append(f"{len(unknown)} flow(s) with no known outcome (never accepted)")
    return Verdict("unknown" if gaps else "pass", tuple(gaps), checks, counts, steps)


def _lost(runs: list[FlowRun]) -> CheckResult:
    lost = [f"{r.promise_id or r.flow}: {r.state or 'never answered'}"
            for r in runs
            if (r.accepted and not r.settled) or (r.promise_id is None and not r.answered)]
    return CheckResult("lost", bool(runs), f"{len(runs)} flow(s) followed until heal"
                       if runs else "no flow ran", tuple(lost))


def _wrong(runs: list[FlowRun], history: RunHistory) -> CheckResult:
    baseline = history.baseline or {}
    by_expect = by_base = unjudged = 0
    wrong: list[str] = []
    for r in runs:
        if not r.judgeable:
            continue
        key = flow_key(r.flow, r.args)
        if r.flow in history.expected:
            want, by_expect = history.expected[r.flow], by_expect + 1
        elif key in baseline:
            want, by_base = baseline[key], by_base + 1
        else:
            unjudged += 1
            continue
        got = r.outcome()
        if got != want:
            wrong.append(f"{r.promise_id or r.flow}: got {got!r}, want {want!r}")
    note = f"{by_expect} against expect, {by_base} against the fault-free baseline"
    if unjudged:
        note += f", {unjudged} unjudged (no expect, no baseline)"
    return CheckResult("wrong", bool(by_expect or by_base), note, tuple(wrong))


def _stuck(stuck: Sequence[StuckPromise] | None) -> CheckResult:
    if stuck is None:
        return CheckResult("stuck", False, "pending promises were not read")
    return CheckResult("stuck", True, "promises pending after heal, with doctor's cause",
                       tuple(f"{s.promise_id}: {s.cause}" for s in stuck))


def _invariants(journal: list[JournalEvent] | None) -> tuple[CheckResult, CheckResult]:
    section, broken = invariant_summary(journal)
    if not section["checked"]:
        why = "the server kept no transition journal"
        return (CheckResult("two_live_leases", False, why),
                CheckResult("settled_promise_changed", False, why))
    note = f"server journal, {section['events']} events"
    return (CheckResult("two_live_leases", True, note, tuple(broken["two_live_leases"])),
            CheckResult("settled_promise_changed", True, note,
                        tuple(broken["settled_promise_changed"])))


def _reexecuted(history: RunHistory) -> tuple[CheckResult, StepCounts | None]:
    roots = {r.promise_id for r in history.runs if r.promise_id is not None}
    entries = [e for e in history.steps or () if origin_of(e.step_id) in roots]
    if not entries:
        return CheckResult("reexecuted_steps", False,
                           "the application records no steps (rpcdemo's step helper)"), None
    problems: dict[str, list[str]] = defaultdict(list)
    steps = step_executions(entries, dict(history.promises), problems)
    note = (f"step helper: {steps['executions']} executions of {steps['distinct']} steps, "
            f"{steps['reexecuted_before_settle']} re-executed before settle (allowed)")
    return (CheckResult("reexecuted_steps", True, note,
                        tuple(problems["reexecuted_after_settle"])), steps)


def names_root(spec: FlowSpec) -> bool:
    """Whether chaos can name an instance's root promise: a function flow, or an ``http``
    flow with ``{id}`` in its URL or body."""
    return spec.kind != HTTP_FLOW or ID_MARK in spec.url or ID_MARK in json.dumps(spec.body)


def history_of(app: AppTopology, plans: Sequence[FlowPlan], ops: Sequence[Op],
               promises: Sequence[PromiseRecord], *, baseline: Mapping[str, JsonValue] | None,
               stuck: Sequence[StuckPromise] | None, journal: list[JournalEvent] | None,
               ledger: Sequence[LedgerEntry]) -> RunHistory:
    """The run as the checker's typed history (one :class:`FlowRun` per flow issued)."""
    records = {str(p["id"]): p for p in promises}
    answers: dict[str, JsonValue] = {}
    for op in ops:
        if op.type == "ok" and op.promise_id not in answers:
            answers[op.promise_id] = fill_id(op.value, op.promise_id, back=True)
    started = {op.promise_id for op in ops if op.type == "invoke"}
    runs = []
    for plan in plans:
        spec = app.flow(plan.flow)
        if spec is None or plan.promise_id not in started:
            continue
        named = names_root(spec)
        root = records.get(plan.promise_id) if named else None
        runs.append(FlowRun(
            plan.flow, call_args(spec), plan.promise_id if named else None,
            answered=plan.promise_id in answers, answer=answers.get(plan.promise_id),
            state=None if root is None else str(root.get("state")),
            value=None if root is None else decode_payload(root.get("value")),
            by_answer=spec.kind == HTTP_FLOW))
    roots = {r.promise_id for r in runs if r.promise_id}
    steps = [e for e in ledger if origin_of(e.step_id) in roots] or None
    return RunHistory(runs, expected={f.name: f.expect for f in app.flows if f.has_expect},
                      baseline=baseline, stuck=stuck, journal=journal, steps=steps,
                      promises=records)
