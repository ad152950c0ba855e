"""The server-side invariants in the checker: each forced by a synthetic journal.

A clean run with a clean journal passes; the same run with a journal showing a
second lease granted while the first was live, or a settled promise settled
again differently, fails, naming the invariant, in the report's reasons,
problems and ``invariants`` section (and in the text and HTML renderings).
"""

from __future__ import annotations

from typing import Any, cast

from rich.console import Console

from resonate_rpc_cli.chaos.checker import CheckOptions, check
from resonate_rpc_cli.chaos.history import JournalEvent, read_journal
from resonate_rpc_cli.chaos.measures import LEASES, SETTLED, violations
from resonate_rpc_cli.chaos.report import ChaosReport
from resonate_rpc_cli.view.chaos_html import render_html
from resonate_rpc_cli.view.chaos_report import render_report
from tests.unit._chaos_synthetic import Run, clean_run

T = 1_000


def grant(task: str, pid: str, version: int, t: int) -> JournalEvent:
    return {"t": t, "task": task, "version": version, "pid": pid, "grant": "task.acquire"}


def move(task: str, frm: str, to: str, t: int, version: int = 1, pid: str | None = None,
         was: str | None = None) -> JournalEvent:
    return {"t": t, "task": task, "version": version, "from": frm, "to": to, "pid": pid,
            "was": was}


def settle(promise: str, state: str, value: str, t: int, **extra: Any) -> JournalEvent:
    return cast("JournalEvent", {"t": t, "promise": promise, "from": "pending", "to": state,
                                 "value": value, **extra})


CLEAN = [
    grant("r", "a", 1, T), move("r", "acquired", "pending", T + 5, pid=None, was="a"),
    grant("r", "b", 2, T + 9), move("r", "acquired", "fulfilled", T + 20, 2, None, "b"),
    settle("r", "resolved", "v1", T + 20),
    settle("r", "resolved", "v1", T + 30),  # reported again, unchanged: fine
]


def judge(run: Run, journal: list[JournalEvent] | None) -> ChaosReport:
    return check(run.ops(), run.ledger, run.records(), run.faults,
                 options=CheckOptions(seed=7, planned_faults=len(run.faults)), journal=journal)


def test_a_clean_journal_passes_and_is_reported_as_checked() -> None:
    report = judge(clean_run(), CLEAN)
    assert report["verdict"] == "pass", report["reasons"]
    assert report["invariants"] == {"checked": True, "events": len(CLEAN),
                                    "two_live_leases": 0, "settled_promise_changed": 0}


def test_without_a_journal_the_invariants_are_not_checked() -> None:
    report = judge(clean_run(), None)
    assert report["verdict"] == "pass"
    assert report["invariants"]["checked"] is False


def test_two_live_leases_on_one_task_fail_the_verdict() -> None:
    journal = [grant("r", "a", 1, T), grant("r", "a", 1, T + 40)]  # the idempotent re-acquire
    report = judge(clean_run(), journal)
    assert report["verdict"] == "fail"
    assert any(LEASES in r for r in report["reasons"]), report["reasons"]
    assert report["invariants"]["two_live_leases"] == 1
    assert "while a's (version 1) was live" in report["problems"]["two_live_leases"][0]
    _rendered_with(report, "two live leases")


def test_a_holder_switch_without_an_end_fails_too() -> None:
    journal = [grant("r", "a", 1, T), move("r", "acquired", "acquired", T + 3, 2, "b", "a")]
    assert [v.invariant for v in violations(journal)] == [LEASES]


def test_a_settled_promise_that_changed_fails_the_verdict() -> None:
    for second in (settle("r", "rejected", "v2", T + 50),
                   settle("r", "resolved", "v2", T + 50),
                   settle("r", "resolved", "v1", T + 50, changed=True)):
        report = judge(clean_run(), [settle("r", "resolved", "v1", T), second])
        assert report["verdict"] == "fail"
        assert any(SETTLED in r for r in report["reasons"]), report["reasons"]
        assert report["invariants"]["settled_promise_changed"] == 1
    _rendered_with(report, "settled promise changed")


def test_the_journal_is_read_from_the_run_start(tmp_path: Any) -> None:
    path = tmp_path / "transitions.jsonl"
    path.write_text('{"t": 5, "task": "x"}\nnot json\n{"t": 20, "task": "y"}\n')
    assert read_journal(path, 10) == [{"t": 20, "task": "y"}]
    assert read_journal(tmp_path / "absent.jsonl", 0) is None


def _rendered_with(report: ChaosReport, needle: str) -> None:
    console = Console(record=True, width=160)
    console.print(render_report(report))
    assert needle in console.export_text()
    assert needle in render_html(report, [], [], [])
