"""The live view: process table, one promise tree per flow, and an event feed.

:class:`Dashboard` renders what :class:`~resonate_rpc_cli.observe.live.LiveModel`
polled; :func:`run_live` refreshes the model and redraws in place with Rich
until Ctrl-C, ``q`` or until the supervisor goes away. On a terminal it reads keys
(``view/keyboard.py``) and hands them to the model, which selects rows and starts
actions (``observe/keys.py``, ``observe/actions.py``); the footer shows the selected
row's keys (``view/keys_view.py``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

from rich.columns import Columns
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.panel import Panel
from rich.segment import Segment
from rich.text import Text

from resonate_rpc_cli.contracts.errors import NotRunningError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import GATEWAY
from resonate_rpc_cli.observe.actions import Kind, Target
from resonate_rpc_cli.observe.live import TREE_ROWS, LiveModel
from resonate_rpc_cli.view.doctor_view import lease_table
from resonate_rpc_cli.view.faults import faults_text
from resonate_rpc_cli.view.keyboard import KeyReader, keys_from
from resonate_rpc_cli.view.keys_view import footer, help_view
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
        """One frame; with ``height`` the promise trees are trimmed to fit the screen and
        the footer of the keys stays on it (the rest is cut above it)."""
        m = self.model
        keys = m.controls
        rows = m.rows() if keys.interactive else []
        row = keys.current(rows)
        picked = row.target if row is not None else None
        cfg = m.config
        head = Text.assemble(("rpcdemo ", "bold"), str(m.home.root))
        if cfg is not None:
            where = "" if cfg.starts_server else " (external)"
            gateway = cfg.gateway_url if any(n.group == GATEWAY for n in m.nodes) \
                else "elsewhere"
            if cfg.app is not None:  # its own leases, and a gateway only if it declares one
                gateway_part = f"   gateway {gateway}" if gateway != "elsewhere" else ""
                head.append(f"   app {cfg.app.name}   server {cfg.server_url}{where}"
                            f"{gateway_part}")
            else:
                head.append(f"   server {cfg.server_url}{where}   gateway {gateway}   "
                            f"ttl {seconds(cfg.ttl_s)}")
        bottom = footer(keys, rows) if keys.interactive else []
        if keys.help:
            return self._framed([head, Panel(help_view(), title="keys (? or esc closes)",
                                             title_align="left")], bottom, height)
        work = m.tasks[:TASK_ROWS]
        budget = TREE_ROWS * MAX_TREES if height is None else max(
            4, height - len(m.nodes) - len(m.feed) - len(work) - 17 - len(bottom))
        selected_node = "" if keys.interactive else None
        if picked is not None and picked.kind is Kind.NODE:
            selected_node = picked.id
        parts: list[RenderableType] = [
            head,
            Panel(nodes_table(m.nodes_with_tasks(), m.usage, selected=selected_node),
                  title="processes", title_align="left"),
            counts_text(m.counts),
            broken_links_text(m.links),
            faults_text(m.faults),
        ]
        if m.notice:
            parts.append(Text(m.notice, style="dim"))
        if work:
            parts.append(Panel(lease_table(m.tasks, limit=TASK_ROWS), title="pending work",
                               title_align="left"))
        trees = self._trees(budget, picked)
        if trees:
            parts.append(Panel(Columns(trees, equal=False, expand=False), title="promises",
                               title_align="left"))
        feed = Text("\n".join(m.feed) or "no events yet", style="dim" if not m.feed else "")
        parts.append(Panel(feed, title="events", title_align="left"))
        return self._framed(parts, bottom, height)

    @staticmethod
    def _framed(parts: list[RenderableType], bottom: list[Text], height: int | None
                ) -> RenderableType:
        """``parts`` with the footer's lines under them; with ``height``, the footer pinned
        to the bottom of the screen and ``parts`` cut to what fits above it."""
        if not bottom:
            return Group(*parts)
        if height is None:
            return Group(*parts, *bottom)
        return Pinned(Group(*parts), Group(*bottom), height)

    def _trees(self, budget: int, picked: Target | None) -> list[RenderableType]:
        """One tree per flow within ``budget`` lines; with keys, the seed's flows that have
        not run yet too (a key runs them), and the selected line marked."""
        m = self.model
        trees: list[RenderableType] = []
        for root in m.roots():
            rows = m.trees.get(root, [])
            # settled checkpoints say little on a live screen: keep calls and pending work
            shown = [r for r in rows if r.state == "pending" or r.func not in ("(run)", None)]
            shown = shown[:max(0, min(TREE_ROWS, budget - 1))]
            if not shown and (rows or not m.controls.interactive or budget < 2):
                continue
            budget -= max(1, len(shown)) + 1
            on_title = picked is not None and picked.kind is Kind.FLOW and picked.id == root
            on_row = picked.id if picked is not None and picked.kind is Kind.PROMISE else None
            trees.append(promise_tree(shown, title=root, flags=m.flags, selected=on_row,
                                      title_selected=on_title, empty="not run yet"))
        return trees


@dataclass(frozen=True)
class Pinned:
    """``body`` cut or padded so that ``foot`` ends on the last of ``height`` lines: the
    keys stay on the screen's last lines however much the body holds, and never move."""

    body: RenderableType
    foot: RenderableType
    height: int

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        free = options.update(height=None)
        foot = console.render_lines(self.foot, free, pad=False)
        room = max(1, self.height - len(foot))
        lines = console.render_lines(self.body, free, pad=False)[:room]
        lines += [[]] * (room - len(lines))
        for line in (*lines, *foot):
            yield from line
            yield Segment.line()


def run_live(home: Home, console: Console | None = None, refresh_s: float = 0.25,
             duration_s: float | None = None, keyboard: TextIO | None = None,
             model: LiveModel | None = None) -> str:
    """Show the live view until Ctrl-C, ``q``, ``duration_s`` or the supervisor's exit.

    Keys are read from ``keyboard`` (default: stdin) when it and the console are
    terminals; the terminal's settings are restored on every way out. Returns why it
    stopped: ``"interrupted"``, ``"quit"``, ``"duration"`` or ``"gone"``.
    """
    console = console or Console()
    model = model or LiveModel(home)
    board = Dashboard(model)
    model.refresh()  # raises NotRunningError at once if nothing runs
    started = time.monotonic()
    with keys_from(keyboard or sys.stdin) as reader:
        model.controls.interactive = reader is not None and console.is_terminal
        size = console.size
        with Live(board.render(size.height), console=console, auto_refresh=False,
                  transient=False, redirect_stdout=False) as live:
            try:
                return _loop(model, board, live, console, reader if
                             model.controls.interactive else None, refresh_s,
                             None if duration_s is None else started + duration_s)
            except KeyboardInterrupt:
                return "interrupted"


def _loop(model: LiveModel, board: Dashboard, live: Live, console: Console,
          reader: KeyReader | None, refresh_s: float, deadline: float | None) -> str:
    """Refresh every ``refresh_s`` and draw; a key is handled and drawn at once."""
    next_poll = time.monotonic() + refresh_s
    while deadline is None or time.monotonic() < deadline:
        wait = max(0.0, next_poll - time.monotonic())
        if reader is None:
            time.sleep(wait)
        else:
            for key in reader.read(wait):
                model.press(key)
            if model.controls.quit:
                return "quit"
        if time.monotonic() >= next_poll:
            next_poll = time.monotonic() + refresh_s
            try:
                model.refresh()
            except NotRunningError:
                return "gone"
        live.update(board.render(console.size.height), refresh=True)
    return "duration"
