"""Renderers for ``rpcdemo doctor`` and the lease columns of ``status`` and the live view."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from resonate_rpc_cli.observe.doctor import Diagnosis
from resonate_rpc_cli.observe.leases import TaskRow
from resonate_rpc_cli.view.style import seconds

CAUSE_STYLE = {"running": "green", "sleeping": "cyan", "queued": "yellow"}


def doctor_view(diagnoses: Sequence[Diagnosis], notices: Sequence[str],
                stuck_after_s: float) -> RenderableType:
    """One line per pending call: id, call, STUCK/ok, idle time, then the cause."""
    parts: list[RenderableType] = []
    if not diagnoses:
        parts.append(Text("nothing is pending", style="green"))
    for d in diagnoses:
        flag = Text("STUCK", style="bold red") if d.stuck else Text("ok", style="green")
        head = Text.assemble((d.promise_id, "bold"), f" {d.call} ", flag,
                             (f" idle {seconds(d.idle_s)}", "dim"))
        body = Text("  " + d.line(), style=CAUSE_STYLE.get(d.cause.kind, "red"))
        parts += [head, body]
        if d.cause.command:
            parts.append(Text(f"  to fix: {d.cause.command}", style="cyan"))
    stuck = sum(1 for d in diagnoses if d.stuck)
    parts.append(Text(f"{len(diagnoses)} pending, {stuck} stuck (stuck: a cause that blocks, "
                      f"or no progress for more than {seconds(stuck_after_s)})", style="dim"))
    parts += [Text(n, style="dim") for n in notices]
    return Group(*parts)


def lease_table(rows: Sequence[TaskRow], limit: int = 20) -> Table:
    """Pending tasks: holder, lease left (countdown), attempts, time since progress."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("task", "call", "state", "holder", "lease left", "attempts", "idle"):
        table.add_column(col, no_wrap=col != "task", overflow="fold")
    for row in rows[:limit]:
        table.add_row(
            Text(row.id, style="red" if row.stuck else "yellow"),
            row.call or "-", row.state, row.holder or "-",
            seconds(row.lease_left_s), "-" if row.attempts is None else str(row.attempts),
            seconds(row.idle_s),
        )
    if len(rows) > limit:
        table.add_row(Text(f"… {len(rows) - limit} more", style="dim"), *[""] * 6)
    return table
