"""The Rich summary of a chaos report shows the verdict, the counts and the timings."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from resonate_rpc_cli.chaos.checker import CheckOptions, check
from resonate_rpc_cli.chaos.report import ChaosReport
from resonate_rpc_cli.chaos.schedule import PlannedFaultDoc
from resonate_rpc_cli.view.chaos_report import render_report, render_schedule
from tests.unit._chaos_synthetic import clean_run


def text_of(renderable: Any) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def report(orphans: int = 0) -> ChaosReport:
    run = clean_run()
    return check(run.ops(), run.ledger, run.records(), run.faults,
                 options=CheckOptions(seed=42, planned_faults=4), orphans=orphans)


def test_summary_of_a_pass() -> None:
    out = text_of(render_report(report()))
    assert "verdict: PASS" in out and "seed 42" in out
    assert "3 landed of 4 planned" in out
    for label in ("flows lost", "re-executed after settle", "pending after heal",
                  "recovery per fault", "hit by a fault", "no fault", "service-b-1", "gateway"):
        assert label in out, label


def test_summary_of_a_fail_lists_reasons_and_problems() -> None:
    out = text_of(render_report(report(orphans=2)))
    assert "verdict: FAIL" in out
    assert "2 process(es) left after teardown" in out


def test_schedule_table() -> None:
    rows: list[PlannedFaultDoc] = [{"index": 0, "at_s": 1.5, "kind": "kill",
                                    "group": "service-b", "down_s": 0.7, "pick": 0.25}]
    out = text_of(render_schedule(rows, 9))
    assert "seed 9" in out and "service-b" in out and "1.50s" in out
    assert "no faults planned" in text_of(render_schedule([], 9))
    delay: PlannedFaultDoc = {"index": 1, "at_s": 2.0, "kind": "delay", "group": "service-c",
                              "down_s": 1.0, "pick": 0.5, "scope": "minority",
                              "delay_ms": 250.0, "jitter_ms": 40.0}
    out = text_of(render_schedule([delay], 9))
    assert "delay 250±40 ms" in out and "minority" in out
