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

from resonate_rpc_cli.chaos.checker import CheckOptions, check
from resonate_rpc_cli.chaos.faults import FaultRecord
from resonate_rpc_cli.chaos.fence import fenced_executions
from resonate_rpc_cli.chaos.history import Op, write_jsonl
from resonate_rpc_cli.chaos.orchestrator import RunRecord
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
    """The full report of a run: the checker's verdict plus the run's context."""
    options = record.options
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
