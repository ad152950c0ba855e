"""``run``'s result line, a call graph and ``doctor``'s diagnoses as styled lines (no Rich).

``view/render.py`` and ``view/doctor_view.py`` give the same views as Rich
objects (through ``view/richlines.py``); the CLI prints these with
``view/plain.py``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from resonate_rpc_cli.view.lines import Line, Node, children_by_parent
from resonate_rpc_cli.view.style import age_ms, promise_style, seconds

if TYPE_CHECKING:  # views render data; `run`'s one line must not load the read side (issue 21)
    from resonate_rpc_cli.observe.doctor import Diagnosis
    from resonate_rpc_cli.observe.flowrun import FlowOutcomeJson
    from resonate_rpc_cli.observe.snapshot import PromiseRow

CAUSE_STYLE = {"running": "green", "sleeping": "cyan", "queued": "yellow"}
RUN_STYLE = {"resolved": "green", "started": "cyan", "rejected": "red", "timeout": "red"}


def run_line(outcome: FlowOutcomeJson) -> Line:
    """``flow [promise id] state: result  (elapsed)``, from ``FlowOutcome.to_dict()``."""
    state = outcome["state"]
    line = Line.assemble((outcome["flow"], "bold"), f" [{outcome['promise_id']}] ",
                         (state, RUN_STYLE[state]))
    if outcome["result"] is not None:
        line.append(f": {outcome['result']}")
    return line.append(f"  ({outcome['elapsed_ms']} ms)", "dim")


def promise_label(row: PromiseRow, now: float, flag: str | None = None) -> Line:
    """One line of the tree; ``flag`` (the doctor's cause of a stuck promise) goes beside it."""
    line = Line(row.id, style=promise_style(row.state))
    line.append(f"  {row.func or '?'}", "bold")
    if row.args is not None:
        args = ", ".join(map(str, row.args)) if isinstance(row.args, list) else str(row.args)
        line.append(f"({args})")
    line.append(f"  {row.state}", promise_style(row.state))
    if row.state == "pending":
        line.append(f" for {age_ms(row.created_ms, now)}")
        if row.holder:
            line.append(f"  held by {row.holder}", "cyan")
    elif row.value is not None:
        line.append(f" = {row.value}")
    if flag:
        line.append(f"  STUCK: {flag}", "bold red")
    return line


def promise_tree(rows: list[PromiseRow], title: str | None = None,
                 flags: Mapping[str, str] | None = None) -> Node:
    """A call graph as a tree: children under their ``resonate:parent``.

    ``flags`` maps the ids of stuck promises to the doctor's one-line cause.
    """
    now = time.time()
    children = children_by_parent(rows)
    tree = Node(Line(title or "call graph", style="bold"))

    def add(node: Node, parent: str | None, depth: int) -> None:
        for row in children.get(parent, []):
            branch = node.add(promise_label(row, now, (flags or {}).get(row.id)))
            if depth < 20:
                add(branch, row.id, depth + 1)

    add(tree, None, 0)
    if not rows:
        tree.add(Line("no promises", style="dim"))
    return tree


def doctor_lines(diagnoses: Sequence[Diagnosis], notices: Sequence[str],
                 stuck_after_s: float) -> list[Line]:
    """One line per pending call: id, call, STUCK/ok, idle time, then the cause."""
    lines: list[Line] = []
    if not diagnoses:
        lines.append(Line("nothing is pending", style="green"))
    for d in diagnoses:
        flag = ("STUCK", "bold red") if d.stuck else ("ok", "green")
        lines.append(Line.assemble((d.promise_id, "bold"), f" {d.call} ", flag,
                                   (f" idle {seconds(d.idle_s)}", "dim")))
        lines.append(Line("  " + d.line(), style=CAUSE_STYLE.get(d.cause.kind, "red")))
        if d.cause.command:
            lines.append(Line(f"  to fix: {d.cause.command}", style="cyan"))
    stuck = sum(1 for d in diagnoses if d.stuck)
    lines.append(Line(f"{len(diagnoses)} pending, {stuck} stuck (stuck: a cause that blocks, "
                      f"or no progress for more than {seconds(stuck_after_s)})", style="dim"))
    lines += [Line(n, style="dim") for n in notices]
    return lines
