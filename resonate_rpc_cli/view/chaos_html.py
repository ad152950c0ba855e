"""``report.html``: one offline page for a chaos run (no network, no CDN).

:func:`render_html` is a pure function from a run's report and what it
recorded to an HTML string. The page shows the verdict and counts, a timeline
(a lane per node incarnation, each step execution a bar, re-executions
marked, flow attempts per workload worker, every landed fault a shaded band
over the lanes it hit), flow latency over time with the same bands, and a
table of the faults with their recovery. The report, history, fault log and
ledger are embedded as JSON, so the file can be read without the others.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import asdict

from resonate_rpc_cli.chaos.history import FaultRecord, Op
from resonate_rpc_cli.chaos.report import ChaosReport
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.view.chaos_bound import bound_model
from resonate_rpc_cli.view.chaos_html_page import SCRIPT, STYLE
from resonate_rpc_cli.view.chaos_timeline import timeline_model

_COUNTS = (
    ("flows attempted", ("flows", "attempted")), ("flows completed", ("flows", "completed")),
    ("flows lost", ("flows", "lost")), ("wrong values", ("flows", "wrong")),
    ("flows failed", ("flows", "failed")), ("re-sent", ("flows", "resent")),
    ("step executions", ("steps", "executions")),
    ("re-executed before settle", ("steps", "reexecuted_before_settle")),
    ("re-executed after settle", ("steps", "reexecuted_after_settle")),
    ("faults planned", ("faults", "planned")), ("faults landed", ("faults", "landed")),
    ("on a task holder", ("faults", "mid_step")),
    ("fenced stale holders", ("network", "fenced")),
    ("pending after heal", ("pending_after_heal",)),
    ("two live leases (server)", ("invariants", "two_live_leases")),
    ("settled promise changed (server)", ("invariants", "settled_promise_changed")),
    ("orphans", ("orphans",)),
)


def _get(report: ChaosReport, path: tuple[str, ...]) -> object:
    value: object = report
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _counts_table(report: ChaosReport) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td><td class=n>{html.escape(str(_get(report, p)))}"
        "</td></tr>" for label, p in _COUNTS if _get(report, p) is not None
    )
    return f"<table id=counts>{rows}</table>"


def _checks_table(report: ChaosReport) -> str:
    """A declared topology's checks: which applied, what each covered or why not."""
    checks = report.get("checks")
    if not isinstance(checks, list) or not checks:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(str(c.get('name', '?')).replace('_', ' '))}</td>"
        f"<td>{'applied' if c.get('applied') else 'not applied'}</td>"
        f"<td class=n>{html.escape(str(c.get('found', 0)) if c.get('applied') else '-')}</td>"
        f"<td>{html.escape(str(c.get('note', '')))}</td></tr>"
        for c in checks if isinstance(c, dict))
    return ("<h2>Checks</h2><table id=checks><thead><tr><th>check</th><th>applied</th>"
            f"<th>found</th><th>what it covered</th></tr></thead><tbody>{rows}</tbody></table>")


def _embed(obj: object) -> str:
    """JSON safe inside ``<script>`` (no ``</script>`` can end it early)."""
    text = json.dumps(obj, separators=(",", ":"), sort_keys=True, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(
    report: ChaosReport,
    history: Sequence[Op],
    faults: Sequence[FaultRecord],
    ledger: Sequence[LedgerEntry],
) -> str:
    """The whole page (see the module docstring); never raises on odd report data."""
    verdict = str(report.get("verdict", "unknown"))
    reasons = "".join(f"<li>{html.escape(str(r))}</li>" for r in report.get("reasons", []))
    model = bound_model(timeline_model(report, history, faults, ledger))
    aggregated = "aggregated" in model  # a long run: the raw history is in history.jsonl
    data = {
        "model": model, "report": report,
        "history": [] if aggregated else [asdict(op) for op in history],
        "faults": [f.to_dict() for f in faults],
        "ledger": [] if aggregated else [asdict(e) for e in ledger],
    }
    note = ("" if not aggregated else
            f"<p class=note>A long run: marks are aggregated per {model['aggregated']['bin_ms']}"
            f" ms (a bar stands for n executions or attempts, two dots per bin: the median "
            f"and the slowest); every operation is in history.jsonl.</p>")
    run = report.get("run", {})
    title = f"rpcdemo chaos · seed {report.get('seed')} · run {run.get('tag', '?')}"
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>
<style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}
<span class="verdict {html.escape(verdict)}">{html.escape(verdict.upper())}</span></h1>
<ul class=reasons>{reasons}</ul>
<div class=grid>{_counts_table(report)}</div>
{_checks_table(report)}
<h2>Timeline</h2>
{note}
<p>A lane per node incarnation (bars: step executions from the ledgers; orange with a red
edge: a re-execution; faded: never ended), flow attempts per workload worker (green ok,
yellow unknown, red failed), and every landed fault as a shaded band over what it hit.</p>
<div id=tl></div>
<h2>Flow latency over time</h2>
<p>Each dot: a flow's gateway answer, at the time it came, by how long after the first
attempt. Shaded: faults in force.</p>
<div id=lat></div>
<h2>Faults and recovery</h2>
<table id=recovery><thead><tr><th>#</th><th>kind</th><th>target</th><th>landed</th>
<th>held</th><th>down</th><th>recovery</th><th>error</th></tr></thead><tbody></tbody></table>
<script type="application/json" id="rpcdemo-data">{_embed(data)}</script>
<script>{SCRIPT}</script>
</body></html>
"""
