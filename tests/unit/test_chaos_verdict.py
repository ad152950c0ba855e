"""The checker for code we did not write (chaos/verdict.py): each verdict from a scripted
history of a declared topology's run (the own-app saga's flows)."""

from __future__ import annotations

from typing import Any

from resonate_rpc_cli.chaos.verdict import (
    FlowRun,
    RunHistory,
    StuckPromise,
    judge_runs,
)
from resonate_rpc_cli.chaos.workload import flow_key
from resonate_rpc_cli.contracts.ledger import LedgerEntry

T = 1_000_000
CONFIRMED = {"order": "o-1", "status": "confirmed", "charged": 20, "reservation": "rs-o-1"}
EXPECTED = {"place-order": CONFIRMED}
BIG = ["o-3", "gadget", 9]
CANCELLED = {"order": "o-3", "status": "cancelled", "refunded": 225,
             "reason": "ApplicationError"}
BASELINE = {flow_key("big-order", BIG): CANCELLED}
CLEAN_JOURNAL = [{"t": T, "task": "r1", "version": 1, "pid": "a", "grant": "task.acquire"},
                 {"t": T + 5, "task": "r1", "version": 1, "from": "acquired", "to": "fulfilled",
                  "pid": None, "was": "a"},
                 {"t": T + 5, "promise": "r1", "from": "pending", "to": "resolved",
                  "value": "d1"}]


def order(pid: str, value: Any = CONFIRMED, state: str | None = "resolved") -> FlowRun:
    return FlowRun("place-order", ["o-1", "widget", 2], pid, answered=state == "resolved",
                   answer=value, state=state, value=value)


def big(pid: str, value: Any = CANCELLED) -> FlowRun:
    return FlowRun("big-order", BIG, pid, answered=True, answer=value, state="resolved",
                   value=value)


def history(runs: list[FlowRun], **kw: Any) -> RunHistory:
    base: dict[str, Any] = {"expected": EXPECTED, "baseline": BASELINE, "stuck": [],
                            "journal": CLEAN_JOURNAL}
    return RunHistory(runs, **(base | kw))


def test_a_clean_run_passes_and_names_the_checks_that_applied() -> None:
    verdict = judge_runs(history([order("c-1"), big("c-2")]))
    assert verdict.verdict == "pass", verdict.reasons
    applied = {c.name for c in verdict.checks if c.applied}
    assert applied == {"lost", "wrong", "stuck", "two_live_leases", "settled_promise_changed"}
    assert verdict.check("wrong").note == "1 against expect, 1 against the fault-free baseline"
    assert not verdict.check("reexecuted_steps").applied
    assert "step helper" in verdict.check("reexecuted_steps").note


def test_a_flow_never_settled_after_heal_is_lost() -> None:
    verdict = judge_runs(history([order("c-1"), order("c-2", None, "pending")]))
    assert verdict.verdict == "fail"
    assert verdict.check("lost").failures == ("c-2: pending",)
    assert verdict.counts["lost"] == 1


def test_an_http_flow_without_an_id_is_lost_when_never_answered() -> None:
    runs = [FlowRun("http-order", [], None, answered=False)]
    verdict = judge_runs(history(runs))
    assert verdict.check("lost").failures == ("http-order: never answered",)


def test_a_value_that_differs_from_the_baseline_is_wrong() -> None:
    bad = CANCELLED | {"refunded": 0}
    verdict = judge_runs(history([big("c-1"), big("c-2", bad)]))
    assert verdict.verdict == "fail"
    (failure,) = verdict.check("wrong").failures
    assert failure.startswith("c-2: got ") and "'refunded': 225" in failure


def test_a_value_that_differs_from_expect_is_wrong_and_a_rejection_too() -> None:
    runs = [order("c-1", CONFIRMED | {"charged": 40}), order("c-2", "boom", "rejected")]
    verdict = judge_runs(history(runs))
    assert [f.split(":")[0] for f in verdict.check("wrong").failures] == ["c-1", "c-2"]


def test_without_expect_or_baseline_a_flow_is_unjudged_and_wrong_does_not_apply() -> None:
    verdict = judge_runs(history([big("c-1")], baseline=None))
    wrong = verdict.check("wrong")
    assert not wrong.applied and "1 unjudged" in wrong.note
    assert verdict.verdict == "pass"


def test_a_promise_pending_after_heal_is_stuck_with_doctors_cause() -> None:
    stuck = [StuckPromise("c-1:1", "no-listener: nothing listens on group payments")]
    verdict = judge_runs(history([order("c-1")], stuck=stuck))
    assert verdict.verdict == "fail"
    assert verdict.check("stuck").failures == (
        "c-1:1: no-listener: nothing listens on group payments",)


def test_two_live_leases_on_one_task_fail_from_the_server_journal() -> None:
    journal = [*CLEAN_JOURNAL,
               {"t": T + 9, "task": "r2", "version": 1, "pid": "a", "grant": "task.acquire"},
               {"t": T + 9, "task": "r2", "version": 1, "pid": "b", "grant": "task.acquire"}]
    verdict = judge_runs(history([order("c-1")], journal=journal))
    assert verdict.verdict == "fail"
    assert len(verdict.check("two_live_leases").failures) == 1
    assert "two live leases" in verdict.reasons[0]


def test_a_settled_promise_that_changed_fails() -> None:
    journal = [*CLEAN_JOURNAL, {"t": T + 20, "promise": "r1", "from": "resolved",
                                "to": "rejected", "value": "d2", "changed": True}]
    verdict = judge_runs(history([order("c-1")], journal=journal))
    assert verdict.verdict == "fail"
    assert len(verdict.check("settled_promise_changed").failures) == 1


def test_without_a_journal_the_server_invariants_do_not_apply() -> None:
    verdict = judge_runs(history([order("c-1")], journal=None))
    assert verdict.verdict == "pass"
    assert not verdict.check("two_live_leases").applied


def step(phase: str, step_id: str, ts_ms: int, node: str = "payments-1") -> LedgerEntry:
    return LedgerEntry(ts=ts_ms / 1000, phase=phase, node=node, node_id="x", os_pid=1,
                       group="payments", func="debit", promise_id=step_id, step_id=step_id,
                       arg=["o-1", 20])


def test_steps_recorded_by_the_helper_count_re_executions_before_and_after_settle() -> None:
    steps = [step("start", "c-1:1.1", T), step("start", "c-1:1.1", T + 3000, "payments-2"),
             step("end", "c-1:1.1", T + 3500, "payments-2")]
    promises = {"c-1:1.1": {"id": "c-1:1.1", "state": "resolved", "settledAt": T + 3600}}
    verdict = judge_runs(history([order("c-1")], steps=steps, promises=promises))
    assert verdict.verdict == "pass"
    assert verdict.check("reexecuted_steps").applied
    assert verdict.steps is not None and verdict.steps["reexecuted_before_settle"] == 1

    late = [*steps, step("start", "c-1:1.1", T + 9000)]
    verdict = judge_runs(history([order("c-1")], steps=late, promises=promises))
    assert verdict.verdict == "fail"
    assert len(verdict.check("reexecuted_steps").failures) == 1


def test_a_flow_never_accepted_makes_the_verdict_unknown_not_fail() -> None:
    runs = [order("c-1"), order("c-2", None, None)]
    verdict = judge_runs(history(runs))
    assert verdict.verdict == "unknown"
    assert verdict.counts["unknown"] == 1
    assert verdict.to_dict()["checks"][0]["name"] == "lost"
