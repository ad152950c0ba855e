"""Static renderers: status, kill and run results, one call graph as a tree."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from resonate_rpc_cli.view import textviews
from resonate_rpc_cli.view.doctor_view import lease_table
from resonate_rpc_cli.view.faults import faults_text
from resonate_rpc_cli.view.lines import children_by_parent
from resonate_rpc_cli.view.links import broken_links_text
from resonate_rpc_cli.view.richlines import to_text
from resonate_rpc_cli.view.style import age_ms, node_style, promise_style, seconds, short_id

if TYPE_CHECKING:  # rendering a flow's result must not load the read side (issue 21)
    from resonate_rpc_cli.observe.flowrun import FlowOutcomeJson
    from resonate_rpc_cli.observe.picture import NodeLine, PendingRow, Picture
    from resonate_rpc_cli.observe.snapshot import PromiseRow
    from resonate_rpc_cli.supervisor.client import KillAnswer


def nodes_table(nodes: Sequence[NodeLine], extra: dict[int, dict[str, str]] | None = None,
                selected: str | None = None) -> Table:
    """The process table; ``extra`` maps an OS pid to columns like CPU and memory.

    ``selected`` (the live view's keys): the selected node's name, or ``""`` for none;
    every name then starts with two marker characters, ``> `` on the selected row (reversed).
    """
    table = Table(box=None, pad_edge=False, collapse_padding=True, header_style="bold")
    # names, groups, pids and states are never shortened; the task id gives way first
    mark = selected is not None
    widest = max([len(n.row.name) + (2 if mark else 0) for n in nodes] + [4])
    table.add_column("node", no_wrap=True, min_width=widest)
    table.add_column("id", no_wrap=True, min_width=8)
    table.add_column("group", no_wrap=True, min_width=max(
        [len(n.row.group) for n in nodes] + [5]))
    table.add_column("pid", no_wrap=True, min_width=5)
    table.add_column("state", no_wrap=True, min_width=8)
    table.add_column("uptime", no_wrap=True)
    table.add_column("restarts", no_wrap=True, justify="right")
    if extra is not None:
        table.add_column("cpu", justify="right", no_wrap=True)
        table.add_column("mem", justify="right", no_wrap=True)
    table.add_column("task", overflow="fold")
    for line in nodes:
        node = line.row
        here = mark and node.name == selected
        name = (("> " if here else "  ") + node.name) if mark else node.name
        row: list[RenderableType] = [
            name, short_id(node.node_id), node.group,
            str(node.pid or "-"), Text(node.state, style=node_style(node.state)),
            seconds(node.uptime_s), str(node.restarts),
        ]
        if extra is not None:
            cols = extra.get(node.pid or 0, {})
            row += [cols.get("cpu", "-"), cols.get("mem", "-")]
        row.append(line.task or "-")
        table.add_row(*row, style="reverse" if here else None)
    return table


def counts_text(counts: dict[str, int]) -> Text:
    text = Text("promises: ")
    if not counts:
        return text.append("-", style="dim")
    for i, (state, n) in enumerate(counts.items()):
        if i:
            text.append("  ")
        text.append(f"{state} {n}", style=promise_style(state))
    return text


def pending_table(pending: Sequence[PendingRow], limit: int = 20) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("pending promise", "func", "held by", "pending for"):
        table.add_column(col)
    table.add_column("stuck? (rpcdemo doctor)", overflow="fold")
    now = time.time()
    for row in pending[:limit]:
        promise = row.promise
        table.add_row(Text(promise.id, style="red" if row.stuck else "yellow"),
                      promise.func or "-", promise.holder or "-",
                      age_ms(promise.created_ms, now),
                      Text(f"STUCK: {row.cause}", style="red") if row.stuck else "")
    if len(pending) > limit:
        table.add_row(Text(f"… {len(pending) - limit} more", style="dim"), "", "", "", "")
    return table


def status_view(pic: Picture) -> RenderableType:
    server = pic.server
    health = Text("healthy", style="green") if server.healthy else Text("down", style="red")
    durable = {True: "durable", False: "in memory", None: "durability unknown"}[server.durable]
    head = Text.assemble(*(("app ", (pic.app, "bold"), "   ") if pic.app else ()),
                         "server ", (server.url, "bold"), " ", health,
                         f"  {server.kind}, {durable}",
                         f"   gateway {pic.gateway_url or 'elsewhere'}"
                         if pic.gateway_url or not pic.app else "")
    parts: list[RenderableType] = [head, nodes_table(pic.nodes), counts_text(pic.counts),
                                   broken_links_text(pic.links), faults_text(pic.faults)]
    if pic.notice:
        parts.append(Text(pic.notice, style="dim"))
    if pic.pending:
        parts.append(pending_table(pic.pending))
    if pic.tasks:
        parts.append(lease_table(pic.tasks))
    return Group(*parts)


def promise_label(row: PromiseRow, now: float, flag: str | None = None) -> Text:
    """One line of the tree; ``flag`` (the doctor's cause of a stuck promise) goes beside it."""
    return to_text(textviews.promise_label(row, now, flag))


def promise_tree(rows: list[PromiseRow], title: str | None = None,
                 flags: Mapping[str, str] | None = None, selected: str | None = None,
                 title_selected: bool = False, empty: str = "no promises") -> Tree:
    """A call graph as a tree: children under their ``resonate:parent``.

    ``flags`` maps the ids of stuck promises to the doctor's one-line cause; the live
    view's keys mark the ``selected`` promise's line or, with ``title_selected``, the
    title; ``empty`` is what a tree without rows says.
    """
    now = time.time()
    children = children_by_parent(rows)
    head = Text(title or "call graph", style="bold")
    tree = Tree(_marked(head, title_selected))

    def add(node: Tree, parent: str | None, depth: int) -> None:
        for row in children.get(parent, []):
            label = promise_label(row, now, (flags or {}).get(row.id))
            branch = node.add(_marked(label, row.id == selected))
            if depth < 20:
                add(branch, row.id, depth + 1)

    add(tree, None, 0)
    if not rows:
        tree.add(Text(empty, style="dim"))
    return tree


def _marked(label: Text, selected: bool) -> Text:
    """``label`` as the selected line: a ``>`` before it, reversed."""
    if not selected:
        return label
    marked = Text("> ").append_text(label)
    marked.stylize("reverse")
    return marked


def kill_view(result: KillAnswer) -> RenderableType:
    lines = [Text.assemble("sent SIG", k.signal, " to ", (k.name, "bold"), f" (pid {k.pid})")
             for k in result.killed]
    lines += [Text.assemble("respawned ", (r.name, "bold green"), f" (pid {r.pid})")
              for r in result.respawned]
    return Group(*lines)


def run_view(outcome: FlowOutcomeJson) -> Text:
    return to_text(textviews.run_line(outcome))
