"""Renderers for ``rpcdemo doctor`` and the lease columns of ``status`` and the live view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from resonate_rpc_cli.view.richlines import to_group
from resonate_rpc_cli.view.style import seconds
from resonate_rpc_cli.view.textviews import doctor_lines

if TYPE_CHECKING:  # views render data; `run`'s one line must not load the read side (issue 21)
    from resonate_rpc_cli.observe.doctor import Diagnosis
    from resonate_rpc_cli.observe.leases import TaskRow

def doctor_view(diagnoses: Sequence[Diagnosis], notices: Sequence[str],
                stuck_after_s: float) -> RenderableType:
    """One line per pending call: id, call, STUCK/ok, idle time, then the cause."""
    return to_group(doctor_lines(diagnoses, notices, stuck_after_s))


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
