"""Turning a :class:`~.orchestrator.RunRecord` into the report, and writing the report dir.

``report.json`` is the contract (see :func:`~.checker.check`), plus context:
the run tag, the options, durations and the schedule, and ``network`` (stale
holders behind partitions, :mod:`.fence`). ``history.jsonl`` holds every
operation, ``faults.jsonl`` every fault as it happened, ``schedule.json`` the
planned faults, and ``report.html`` all of it as one offline page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from resonate_rpc_cli.chaos.checker import CheckOptions, check, fault_summary
from resonate_rpc_cli.chaos.faults import FaultRecord
from resonate_rpc_cli.chaos.fence import fenced_executions
from resonate_rpc_cli.chaos.history import Op, write_jsonl
from resonate_rpc_cli.chaos.invariants import summary
from resonate_rpc_cli.chaos.measures import span_latency_ms
from resonate_rpc_cli.chaos.orchestrator import RunRecord
from resonate_rpc_cli.chaos.verdict import history_of, judge_runs
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.ledger import LedgerEntry

REPORT_FILE = "report.json"
HISTORY_FILE = "history.jsonl"
FAULTS_FILE = "faults.jsonl"
SCHEDULE_FILE = "schedule.json"
HTML_FILE = "report.html"

#: Renders ``report.html`` from the report, the history, the fault log and the ledger
#: (``view.chaos_html.render_html``; passed in by the CLI, so chaos/ never imports view/).
HtmlRenderer = Callable[
    [dict[str, Any], Sequence[Op], Sequence[FaultRecord], Sequence[LedgerEntry]], str]


def judge(record: RunRecord, orphans: int = 0, orphans_checked: bool = False) -> dict[str, Any]:
    """The full report of a run: the checker's verdict plus the run's context (a declared
    topology's run is judged by :mod:`.verdict`, the seed's by :mod:`.checker`)."""
    options = record.options
    if options.app is not None:
        report = judge_declared(record, options.app, orphans, orphans_checked)
    else:
        report = check(
            record.history, record.ledger, record.promises, record.faults,
            options=CheckOptions(
                seed=options.seed, mix=options.mix, min_faults=options.min_faults,
                planned_faults=len(record.schedule), orphans_checked=orphans_checked,
                requested_flows=len(record.plans),
            ),
            orphans=orphans, journal=record.journal,
        )
    if record.ended is not None:
        report["verdict"] = "unknown"
        report["reasons"].insert(0, f"the run ended early: {record.ended}")
    elif not record.settled:
        report["reasons"].append("the run did not settle before the deadline")
    report["run"] = {
        "tag": record.run_tag,
        "started_ms": record.started_ms,
        "workload_s": record.workload_s,
        "settle_s": record.settle_s,
        "settled": record.settled,
        "healed": record.healed,
        "topology": record.topology,
        "options": options.to_dict(),
        "flows_issued": len(record.plans),
        "ended": record.ended,
    }
    report["network"] = fenced_executions(record.ledger, record.faults)
    report["fault_log"] = [
        {k: f.to_dict()[k] for k in ("index", "kind", "target", "targets", "landed", "held",
                                      "error")}
        | {"down_ms": None if f.healed_ms is None or f.at_ms is None
           else f.healed_ms - f.at_ms}
        for f in record.faults
    ]
    return report


def judge_declared(record: RunRecord, app: AppTopology, orphans: int,
                   orphans_checked: bool) -> dict[str, Any]:
    """The report of a declared topology's run, in the seed report's shape where the
    two share a meaning, plus ``checks`` (each check: applied or why not, what it found)
    and ``baseline``. Too few faults landed: ``unknown``; orphans: ``fail``."""
    history = history_of(app, record.plans, record.history, record.promises,
                         baseline=record.baseline, stuck=record.stuck,
                         journal=record.journal, ledger=record.ledger)
    verdict = judge_runs(history).to_dict()
    landed = [f for f in record.faults if f.landed]
    reasons, outcome = list(verdict["reasons"]), verdict["verdict"]
    if orphans:
        reasons.append(f"{orphans} process(es) left after teardown")
        outcome = "fail"
    if outcome == "pass" and len(landed) < record.options.min_faults:
        reasons.append(f"only {len(landed)} fault(s) landed, fewer than "
                       f"{record.options.min_faults}")
        outcome = "unknown"
    counts = verdict["counts"]
    by_kind: dict[str, dict[str, int]] = {}
    for run in history.runs:
        row = by_kind.setdefault(run.flow, {"attempted": 0, "completed": 0})
        row["attempted"] += 1
        row["completed"] += int(run.settled)
    return {
        "verdict": outcome, "seed": record.options.seed, "reasons": reasons,
        "checks": verdict["checks"], "baseline": record.baseline,
        "flows": {"requested": len(record.plans), "attempted": counts["attempted"],
                  "completed": counts["settled"], "lost": counts["lost"],
                  "wrong": counts["wrong"], "unknown": counts["unknown"], "failed": 0,
                  "resent": len({op.promise_id for op in record.history
                                 if op.type == "invoke" and op.attempt > 1}),
                  "by_kind": by_kind},
        "steps": verdict["steps"] or {}, "faults": fault_summary(landed, len(record.schedule)),
        "latency_ms": span_latency_ms(_answered_spans(record.history), landed),
        "pending_after_heal": counts["stuck"], "invariants": summary(record.journal)[0],
        "orphans": orphans, "orphans_checked": orphans_checked,
        "problems": {c["name"]: c["failures"] for c in verdict["checks"] if c["failures"]},
    }


def _answered_spans(ops: Sequence[Op]) -> list[tuple[int, int]]:
    """Each answered flow's first invoke and first answer (wall ms)."""
    first: dict[str, int] = {}
    spans: dict[str, tuple[int, int]] = {}
    for op in ops:
        first.setdefault(op.promise_id, op.time_ms)
        if op.type == "ok" and op.promise_id not in spans:
            spans[op.promise_id] = (first[op.promise_id], op.time_ms)
    return list(spans.values())


def write_report_dir(directory: Path, report: dict[str, Any], record: RunRecord,
                     render_html: HtmlRenderer | None = None) -> list[Path]:
    """Write the report, history, fault log, schedule and (with ``render_html``) the page
    under ``directory``; return their paths.

    Creates ``directory`` if needed; raises ``OSError`` if it cannot be written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    names = (REPORT_FILE, HISTORY_FILE, FAULTS_FILE, SCHEDULE_FILE)
    paths = [directory / n for n in (*names, HTML_FILE)]
    paths[0].write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_jsonl(paths[1], (op.to_json() for op in record.history))
    write_jsonl(paths[2], (f.to_json() for f in record.faults))
    paths[3].write_text(
        json.dumps([p.to_dict() for p in record.schedule], indent=2) + "\n", encoding="utf-8"
    )
    if render_html is None:
        return paths[:4]
    paths[4].write_text(render_html(report, record.history, record.faults, record.ledger),
                        encoding="utf-8")
    return paths
