"""Rich rendering of a chaos report and of a fault schedule (``rpcdemo chaos``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from resonate_rpc_cli.chaos.report import ChaosReport, InvariantCounts
    from resonate_rpc_cli.chaos.schedule import PlannedFaultDoc

VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "unknown": "bold yellow"}


def _num(value: object, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def _bad(count: object) -> str:
    return "red" if isinstance(count, int) and count > 0 else "green"


def render_schedule(schedule: Sequence[PlannedFaultDoc], seed: int) -> RenderableType:
    """The planned faults for ``seed``, one row each (``--dry-run``)."""
    table = Table(title=f"fault schedule for seed {seed}", title_justify="left")
    for col in ("#", "at", "kind", "target group", "scope", "down", "pick"):
        table.add_column(col, justify="right" if col in ("#", "at", "down", "pick") else "left")
    for f in schedule:
        kind = str(f["kind"])
        if f.get("delay_ms"):
            kind += f" {f['delay_ms']:.0f}±{f.get('jitter_ms', 0):.0f} ms"
        table.add_row(str(f["index"]), f"{f['at_s']:.2f}s", kind, f["group"],
                      str(f.get("scope", "one")), f"{f['down_s']:.2f}s", f"{f['pick']:.3f}")
    if not schedule:
        table.add_row("-", "-", "no faults planned", "-", "-", "-", "-")
    return table


def render_report(report: ChaosReport) -> RenderableType:
    """The terminal summary: verdict and reasons, counts, faults, recovery, latency."""
    verdict = str(report.get("verdict", "unknown"))
    head = Text.assemble(("verdict: ", "bold"), (verdict.upper(), VERDICT_STYLE.get(verdict, "")),
                         f"   seed {report.get('seed')}")
    reasons = [Text(f"  - {r}", style="yellow" if verdict != "fail" else "red")
               for r in report.get("reasons", [])]
    parts: list[RenderableType] = [head, *reasons, _counts(report), *_checks(report),
                                   *_faults(report), _timing(report)]
    problems = report.get("problems", {})
    if problems:
        parts.append(_problems(problems))
    run = report.get("run", {})
    if run:
        parts.append(Text(
            f"run {run.get('tag')}: workload {_num(run.get('workload_s'), 's', 1)}, "
            f"settle {_num(run.get('settle_s'), 's', 1)}", style="dim"))
    return Panel(Group(*parts), title="rpcdemo chaos", expand=False)


def _counts(report: ChaosReport) -> Table:
    flows = report.get("flows", {})
    detached = report.get("detached", {})
    steps = report.get("steps", {})
    cog_missing = (detached.get("started") or 0) - (detached.get("cog_ran") or 0)
    rows: list[tuple[str, object, str]] = [
        ("flows attempted", flows.get("attempted"), ""),
        ("flows completed", flows.get("completed"), "green"),
        ("flows lost", flows.get("lost"), _bad(flows.get("lost"))),
        ("wrong values", flows.get("wrong"), _bad(flows.get("wrong"))),
        ("flows failed", flows.get("failed"), _bad(flows.get("failed"))),
        ("no known outcome", flows.get("unknown"), "yellow" if flows.get("unknown") else ""),
        ("re-sent (reconnects)", flows.get("resent"), ""),
        *([("detached chains started / cog ran",
            f"{detached.get('started')} / {detached.get('cog_ran')}", _bad(cog_missing))]
          if detached else []),
        ("step executions", steps.get("executions"), ""),
        ("re-executed before settle (allowed)", steps.get("reexecuted_before_settle"), ""),
        ("most starts of one step", steps.get("max_starts_per_step"), ""),
        ("re-executed after settle", steps.get("reexecuted_after_settle"),
         _bad(steps.get("reexecuted_after_settle"))),
        ("stale holders fenced (partitions)", report.get("network", {}).get("fenced"), ""),
        ("pending after heal", report.get("pending_after_heal"),
         _bad(report.get("pending_after_heal"))),
        *_invariant_rows(report.get("invariants")),
        ("orphans" + ("" if report.get("orphans_checked") else " (not checked)"),
         report.get("orphans"), _bad(report.get("orphans"))),
    ]
    counts = Table(title="flows and steps", title_justify="left", show_header=False)
    counts.add_column("what")
    counts.add_column("count", justify="right")
    for label, value, style in rows:
        counts.add_row(label, Text(_num(value), style=style))
    return counts


def _checks(report: ChaosReport) -> list[RenderableType]:
    """A declared topology's checks (the generic checker): applied or not, and why."""
    checks = [c for c in report.get("checks") or [] if isinstance(c, dict)]
    if not checks:
        return []
    table = Table(title="checks", title_justify="left")
    for col in ("check", "applied", "found", "what it covered"):
        table.add_column(col, justify="right" if col == "found" else "left")
    for c in checks:
        applied = bool(c.get("applied"))
        table.add_row(str(c.get("name", "?")).replace("_", " "),
                      Text("applied" if applied else "not applied",
                           style="" if applied else "dim"),
                      Text(_num(c.get("found")) if applied else "-",
                           style=_bad(c.get("found")) if applied else "dim"),
                      str(c.get("note", "")))
    return [table]


def _invariant_rows(inv: InvariantCounts | None) -> list[tuple[str, object, str]]:
    """The server-side invariants (from the server's journal), or that they were not checked."""
    if not inv or not inv.get("checked"):
        return [("server invariants", "not checked (no journal)", "")]
    return [(f"two live leases on a task (server, {inv.get('events')} events)",
             inv.get("two_live_leases"), _bad(inv.get("two_live_leases"))),
            ("settled promise changed (server)", inv.get("settled_promise_changed"),
             _bad(inv.get("settled_promise_changed")))]


def _landed_table(title: str, column: str, by: Mapping[str, int]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(column)
    table.add_column("landed", justify="right")
    for key, n in sorted(by.items()):
        table.add_row(key, str(n))
    return table


def _faults(report: ChaosReport) -> list[RenderableType]:
    faults = report.get("faults", {})
    fline = Text(f"faults: {faults.get('landed')} landed of {faults.get('planned')} planned, "
                 f"{faults.get('mid_step', 0)} on a node holding a task", style="bold")
    return [fline, Columns([_landed_table("by kind", "kind", faults.get("by_kind", {})),
                            _landed_table("by target", "target", faults.get("by_target", {}))])]


def _timing(report: ChaosReport) -> Table:
    rec = report.get("recovery_s", {})
    lat = report.get("latency_ms", {})
    timing = Table(title="timing", title_justify="left")
    timing.add_column("measure")
    timing.add_column("n", justify="right")
    timing.add_column("p50", justify="right")
    timing.add_column("p99 / max", justify="right")
    timing.add_row("recovery per fault", _num(rec.get("measured")),
                   _num(rec.get("p50"), "s"), _num(rec.get("max"), "s"))
    for row, label in ((lat.get("all", {}), "flow latency"),
                       (lat.get("with_faults", {}), "  hit by a fault"),
                       (lat.get("without_faults", {}), "  no fault")):
        timing.add_row(label, _num(row.get("count")), _num(row.get("p50"), " ms", 0),
                       _num(row.get("p99"), " ms", 0))
    return timing


def _problems(problems: Mapping[str, list[str]]) -> Table:
    ptable = Table(title="problems (first examples)", title_justify="left")
    ptable.add_column("kind", style="red")
    ptable.add_column("example")
    for kind, examples in sorted(problems.items()):
        for example in examples[:3]:
            ptable.add_row(kind, str(example))
    return ptable


def show(renderable: RenderableType) -> None:
    """Print a renderable on stdout (the CLI layer holds no Rich of its own)."""
    Console(highlight=False).print(renderable)
