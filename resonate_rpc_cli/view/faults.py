"""Fault leases on screen: the one line ``status`` and the live view show, and ``heal``'s
answer (rows from the supervisor's ``faults``, see ``supervisor/fault_leases.py``)."""

from __future__ import annotations

from rich.text import Text

from resonate_rpc_cli.supervisor.rows import FaultRow, Healed
from resonate_rpc_cli.view.style import seconds


def fault_label(row: FaultRow) -> Text:
    """``pause service-f-1 held by chaos (pid 41), 8s left`` (red when the holder is gone)."""
    holder = f"{row.holder} (pid {row.holder_pid})" if row.holder_pid is not None else row.holder
    text = Text.assemble((f"{row.kind} {row.node}", "bold"),
                         f" held by {holder}",
                         (" (gone: healed soon)", "bold red") if not row.holder_alive else "",
                         f", {seconds(row.left_s)} left")
    return text


def faults_text(rows: list[FaultRow] | None) -> Text:
    """One line: every fault in force with its holder and time left, or that there is none."""
    if not rows:
        return Text("faults: none in force", style="dim")
    line = Text("faults: ", style="bold yellow")
    for i, row in enumerate(rows):
        if i:
            line.append("; ")
        line.append_text(fault_label(row))
    return line


def healed_text(healed: list[Healed]) -> Text:
    """``heal``'s answer: what was healed, one line each (or that nothing was held)."""
    if not healed:
        return Text("no fault in force: nothing to heal", style="dim")
    return Text("\n").join(
        Text.assemble("healed ", (f"{h.kind} {h.node}", "bold green"),
                      f" (held by {h.holder}): {h.done}") for h in healed)
