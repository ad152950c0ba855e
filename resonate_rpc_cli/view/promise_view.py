"""Renderers of ``rpcdemo promise`` and ``rpcdemo flow``: one promise, one settle, one
flow's cancel, one flow's steps. Data in, Rich out; nothing here fetches."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from resonate_rpc_cli.observe.settle import FlowCanceled, PromiseView, Settled
from resonate_rpc_cli.observe.steps import FlowSteps, Step
from resonate_rpc_cli.view.style import promise_style, seconds


def promise_view(p: PromiseView) -> RenderableType:
    """``promise get``: id and state, then one field a line."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("state", Text(p.state, style=promise_style(p.state)))
    if p.state != "pending":
        table.add_row("value", _json(p.value))
    table.add_row("param", _json(p.param))
    table.add_row("created", _when(p.created_ms))
    if p.settled_ms is not None:
        table.add_row("settled", _when(p.settled_ms))
    table.add_row("timeout", _when(p.timeout_ms))
    for key in sorted(p.tags):
        table.add_row(f"tag {key}", p.tags[key])
    return Group(Text(p.id, style="bold"), table)


def settled_line(s: Settled) -> Text:
    """``promise resolve|reject|cancel``: what the promise became."""
    text = Text.assemble((s.promise.id, "bold"), ": pending -> ",
                         (s.promise.state, promise_style(s.promise.state)))
    if s.promise.value is not None:
        text.append(f" = {_json(s.promise.value)}")
    return text


def canceled_view(c: FlowCanceled) -> RenderableType:
    """``flow cancel``: the promises canceled, and the settled ones left alone."""
    lines = [Text.assemble(f"canceled {len(c.canceled)} pending promise(s) of ",
                           (c.root, "bold"))]
    lines += [Text.assemble("  ", (pid, "bold"), " -> ",
                            ("rejected_canceled", promise_style("rejected_canceled")))
              for pid in c.canceled]
    if c.left:
        lines.append(Text(f"left {len(c.left)} settled promise(s) as they were:", style="dim"))
        lines += [Text.assemble("  ", pid, " ", (state, promise_style(state)))
                  for pid, state in sorted(c.left.items())]
    return Group(*lines)


def steps_table(f: FlowSteps) -> RenderableType:
    """``flow steps``: one row per promise of the tree, root first; ``now`` is its task."""
    table = Table(box=None, pad_edge=False, header_style="bold", title=f.root,
                  title_justify="left", title_style="bold")
    table.add_column("step", no_wrap=True)
    table.add_column("call", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("runs", justify="right", no_wrap=True)
    table.add_column("ran on", overflow="fold")
    table.add_column("now", overflow="fold")
    for s in f.steps:
        table.add_row(
            _short(s.id, f.root), s.call, Text(s.state, style=promise_style(s.state)),
            "-" if s.took_ms is None else f"{s.took_ms} ms",
            "-" if s.attempts is None else f"{s.attempts}/{s.ends}",
            ", ".join(s.nodes) or "-", task_text(s),
        )
    notes = [Text(f"step: ROOT is {f.root}, :1.2 is {f.root}:1.2; runs: starts/ends of its "
                  "work in this HOME's ledgers", style="dim")]
    notes += [Text(n, style="dim") for n in f.notices]
    return Group(table, *notes)


def task_text(s: Step) -> str:
    """A step's task now: ``held by service-b-1, lease 3.2s left, 2 leases``."""
    if s.task is None:
        return "-"
    parts = [f"held by {s.holder}" if s.holder else s.task]
    if s.lease_left_s is not None:
        parts.append(f"lease {seconds(s.lease_left_s)} left")
    if s.leases:
        parts.append(f"{s.leases} lease{'s' if s.leases > 1 else ''}")
    return ", ".join(parts)


def _short(promise_id: str, root: str) -> str:
    if promise_id == root:
        return "ROOT"
    return promise_id[len(root):] if promise_id.startswith(root + ":") else promise_id


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return str(ms)
