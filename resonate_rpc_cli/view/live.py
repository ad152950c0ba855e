"""The live view: process table, one promise tree per flow, and an event feed.

:class:`Dashboard` renders what :class:`~resonate_rpc_cli.observe.live.LiveModel`
polled; :func:`run_live` refreshes the model and redraws in place with Rich
until Ctrl-C or until the supervisor goes away.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from resonate_rpc_cli.contracts.errors import NotRunningError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import GATEWAY
from resonate_rpc_cli.observe.live import TREE_ROWS, LiveModel
from resonate_rpc_cli.view.doctor_view import lease_table
from resonate_rpc_cli.view.faults import faults_text
from resonate_rpc_cli.view.links import broken_links_text
from resonate_rpc_cli.view.render import counts_text, nodes_table, promise_tree
from resonate_rpc_cli.view.style import seconds

MAX_TREES = 6
TASK_ROWS = 6


@dataclass
class Dashboard:
    """Renders a :class:`~resonate_rpc_cli.observe.live.LiveModel` (which does the polling)."""

    model: LiveModel

    def render(self, height: int | None = None) -> RenderableType:
        """One frame; with ``height`` the promise trees are trimmed to fit the screen."""
        m = self.model
        cfg = m.config
        head = Text.assemble(("rpcdemo ", "bold"), str(m.home.root))
        if cfg is not None:
            where = "" if cfg.starts_server else " (external)"
            gateway = cfg.gateway_url if any(n.group == GATEWAY for n in m.nodes) \
                else "elsewhere"
            app = f"   app {cfg.app.name}" if cfg.app is not None else ""
            head.append(f"{app}   server {cfg.server_url}{where}   gateway {gateway}   "
                        f"ttl {seconds(cfg.ttl_s)}")
        work = m.tasks[:TASK_ROWS]
        budget = TREE_ROWS * MAX_TREES if height is None else max(
            4, height - len(m.nodes) - len(m.feed) - len(work) - 17)
        trees = []
        for root, rows in m.trees.items():
            # settled checkpoints say little on a live screen: keep calls and pending work
            shown = [r for r in rows if r.state == "pending" or r.func not in ("(run)", None)]
            shown = shown[:max(0, min(TREE_ROWS, budget - 1))]
            if not shown:
                continue
            budget -= len(shown) + 1
            trees.append(promise_tree(shown, title=root, flags=m.flags))
        parts: list[RenderableType] = [
            head,
            Panel(nodes_table(m.nodes_with_tasks(), m.usage), title="processes",
                  title_align="left"),
            counts_text(m.counts),
            broken_links_text(m.links),
            faults_text(m.faults),
        ]
        if m.notice:
            parts.append(Text(m.notice, style="dim"))
        if work:
            parts.append(Panel(lease_table(m.tasks, limit=TASK_ROWS), title="pending work",
                               title_align="left"))
        if trees:
            parts.append(Panel(Columns(trees, equal=False, expand=False), title="promises",
                               title_align="left"))
        feed = Text("\n".join(m.feed) or "no events yet", style="dim" if not m.feed else "")
        parts.append(Panel(feed, title="events", title_align="left"))
        return Group(*parts)


def run_live(home: Home, console: Console | None = None, refresh_s: float = 0.25,
             duration_s: float | None = None) -> str:
    """Show the live view until Ctrl-C, ``duration_s`` or the supervisor's exit.

    Returns why it stopped: ``"interrupted"``, ``"duration"`` or ``"gone"``.
    """
    console = console or Console()
    model = LiveModel(home)
    board = Dashboard(model)
    model.refresh()  # raises NotRunningError at once if nothing runs
    started = time.monotonic()
    with Live(board.render(console.size.height), console=console, auto_refresh=False,
              transient=False, redirect_stdout=False) as live:
        try:
            while duration_s is None or time.monotonic() - started < duration_s:
                time.sleep(refresh_s)
                try:
                    model.refresh()
                except NotRunningError:
                    return "gone"
                live.update(board.render(console.size.height), refresh=True)
        except KeyboardInterrupt:
            return "interrupted"
    return "duration"
