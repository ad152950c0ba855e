"""The live view: process table, one promise tree per flow, and an event feed.

:class:`Dashboard` polls at bounded rates (nodes twice a second, promises once a
second, counts once a second from our server's info or every five seconds by
searching another server) and fetches only pending promises plus
capped trees of the flows' roots, so thousands of settled promises cost
little. :func:`run_live` redraws it in place with Rich until Ctrl-C or until
the supervisor goes away.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from resonate_rpc_cli.clients.protocol import ServerUnreachable
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.errors import NotRunningError
from resonate_rpc_cli.contracts.flows import FLOWS
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.links.status import LinkStatus
from resonate_rpc_cli.observe.leases import lease_report
from resonate_rpc_cli.observe.snapshot import PromiseRow, PromiseSource, node_names_by_id, tree_rows
from resonate_rpc_cli.supervisor.client import supervisor_status
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from resonate_rpc_cli.view.doctor_view import lease_table
from resonate_rpc_cli.view.links import broken_links_text
from resonate_rpc_cli.view.render import counts_text, nodes_table, promise_tree
from resonate_rpc_cli.view.style import seconds

TREE_ROWS = 30
MAX_TREES = 6
MAX_RECENT_ROOTS = 3
FEED_LINES = 8
TASK_ROWS = 6


@dataclass
class Every:
    """True at most once per ``period_s`` (a rate limiter for one kind of poll)."""

    period_s: float
    last: float = float("-inf")

    def due(self, now: float) -> bool:
        if now - self.last >= self.period_s:
            self.last = now
            return True
        return False


@dataclass
class Dashboard:
    """The latest picture of one topology, refreshed by :meth:`refresh`."""

    home: Home
    status: Callable[[Home, int], dict[str, Any]] = supervisor_status
    clock: Callable[[], float] = time.monotonic
    nodes: list[dict[str, Any]] = field(default_factory=list)
    config: TopologyConfig | None = None
    trees: dict[str, list[PromiseRow]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    feed: deque[str] = field(default_factory=lambda: deque(maxlen=FEED_LINES))
    notice: str | None = None
    last_seq: int = 0
    #: the seed's static flow ids are always shown; other roots while recent
    pinned: tuple[str, ...] = tuple(f.promise_id for f in FLOWS.values())
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_RECENT_ROOTS))
    settled: dict[str, str] = field(default_factory=dict)
    node_every: Every = field(default_factory=lambda: Every(0.5))
    promise_every: Every = field(default_factory=lambda: Every(1.0))
    count_every: Every = field(default_factory=lambda: Every(5.0))
    _procs: dict[int, psutil.Process] = field(default_factory=dict)
    usage: dict[int, dict[str, str]] = field(default_factory=dict)
    source: PromiseSource | None = None
    #: node name -> ids of the tasks it holds (from the last task.search)
    held: dict[str, list[str]] = field(default_factory=dict)
    #: pending work (holder, lease left, attempts, idle) and the stuck promises' causes
    tasks: list[dict[str, Any]] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)
    #: every node's link, polled with the nodes (None: the topology runs without links)
    links: list[LinkStatus] | None = None

    def refresh(self) -> None:
        """Poll whatever is due. Raises :class:`NotRunningError` once the supervisor is gone."""
        now = self.clock()
        if self.node_every.due(now):
            status = self.status(self.home, self.last_seq)
            if self.config is None:
                self.config = TopologyConfig.from_json(status["config"])
                self.source = PromiseSource(self.config.server_url, timeout_s=1.0)
            self.nodes = status["nodes"]
            if self.config.links:
                self.links = LinkClient(self.home, timeout_s=1.0).status_or_none()
            for event in status["events"]:
                self.last_seq = max(self.last_seq, int(event["seq"]))
                stamp = time.strftime("%H:%M:%S", time.localtime(event["ts"]))
                detail = f" {event['detail']}" if event.get("detail") else ""
                self.feed.append(f"{stamp} {event['kind']:<10} {event['node']}"
                                 f" pid {event.get('pid') or '-'}{detail}")
            self._sample_usage()
        if self.source is not None and self.promise_every.due(now):
            try:
                self._poll_promises(now)
            except ServerUnreachable:
                self.notice = f"the server at {self.source.client.url} is not answering"

    def _sample_usage(self) -> None:
        live = {int(n["pid"]) for n in self.nodes if n.get("pid")}
        for pid in list(self._procs):
            if pid not in live:
                del self._procs[pid]
        usage: dict[int, dict[str, str]] = {}
        for pid in live:
            with contextlib.suppress(psutil.Error):
                proc = self._procs.get(pid)
                if proc is None:
                    proc = self._procs[pid] = psutil.Process(pid)
                    proc.cpu_percent(None)
                usage[pid] = {"cpu": f"{proc.cpu_percent(None):.0f}%",
                              "mem": f"{proc.memory_info().rss / 2**20:.0f}M"}
        self.usage = usage

    def _poll_promises(self, now: float) -> None:
        assert self.source is not None
        names = node_names_by_id(self.nodes)
        pending = self.source.search(state="pending", limit=200)
        holders = self.source.task_holders()
        held: dict[str, list[str]] = {}
        for task_id, pid in holders.items():
            held.setdefault(names.get(pid, pid), []).append(task_id)
        self.held = {name: sorted(ids) for name, ids in held.items()}
        if self.config is not None:
            report = lease_report(self.source, pending, self.nodes, self.config,
                                  links=self.links)
            self.tasks = report.tasks
            self.flags = {pid: d.short() for pid, d in report.diagnoses.items() if d.stuck}
        for rec in pending:
            origin = (rec.get("tags") or {}).get(tag.ORIGIN)
            if origin and origin not in self.pinned and origin not in self.recent:
                self.recent.append(origin)
        trees = {}
        for root in (*self.pinned, *self.recent):
            rows = tree_rows(self.source, root, names, holders, limit=TREE_ROWS)
            if rows:
                trees[root] = rows
                top = rows[0]
                if top.id == root and top.state != "pending" and \
                        self.settled.get(root) == "pending":
                    stamp = time.strftime("%H:%M:%S")
                    self.feed.append(f"{stamp} flow       {root} {top.state}"
                                     f"{f' = {top.value}' if top.value is not None else ''}")
                if top.id == root:
                    self.settled[root] = top.state
        self.trees = trees
        # one cheap request on our server: as fresh as the trees; searches elsewhere
        self.count_every.period_s = 1.0 if self.source.counts_are_cheap() else 5.0
        if self.count_every.due(now):
            self.counts = self.source.counts(limit=10_000)
        self.notice = self.source.notice

    def nodes_with_tasks(self) -> list[dict[str, Any]]:
        """The node rows with the task(s) each holds, as of the last promise poll."""
        return [{**n, "task": ", ".join(self.held.get(str(n["name"]), [])) or n.get("task")}
                for n in self.nodes]

    def render(self, height: int | None = None) -> RenderableType:
        """One frame; with ``height`` the promise trees are trimmed to fit the screen."""
        cfg = self.config
        head = Text.assemble(("rpcdemo ", "bold"), str(self.home.root))
        if cfg is not None:
            where = "" if cfg.starts_server else " (external)"
            gateway = cfg.gateway_url if any(n["group"] == "gateway" for n in self.nodes) \
                else "elsewhere"
            head.append(f"   server {cfg.server_url}{where}   gateway {gateway}   "
                        f"ttl {seconds(cfg.ttl_s)}")
        work = self.tasks[:TASK_ROWS]
        budget = TREE_ROWS * MAX_TREES if height is None else max(
            4, height - len(self.nodes) - len(self.feed) - len(work) - 17)
        trees = []
        for root, rows in self.trees.items():
            # settled checkpoints say little on a live screen: keep calls and pending work
            shown = [r for r in rows if r.state == "pending" or r.func not in ("(run)", None)]
            shown = shown[:max(0, min(TREE_ROWS, budget - 1))]
            if not shown:
                continue
            budget -= len(shown) + 1
            trees.append(promise_tree(shown, title=root, flags=self.flags))
        parts: list[RenderableType] = [
            head,
            Panel(nodes_table(self.nodes_with_tasks(), self.usage), title="processes",
                  title_align="left"),
            counts_text(self.counts),
            broken_links_text(self.links),
        ]
        if self.notice:
            parts.append(Text(self.notice, style="dim"))
        if work:
            parts.append(Panel(lease_table(self.tasks, limit=TASK_ROWS), title="pending work",
                               title_align="left"))
        if trees:
            parts.append(Panel(Columns(trees, equal=False, expand=False), title="promises",
                               title_align="left"))
        feed = Text("\n".join(self.feed) or "no events yet", style="dim" if not self.feed else "")
        parts.append(Panel(feed, title="events", title_align="left"))
        return Group(*parts)


def run_live(home: Home, console: Console | None = None, refresh_s: float = 0.25,
             duration_s: float | None = None) -> str:
    """Show the live view until Ctrl-C, ``duration_s`` or the supervisor's exit.

    Returns why it stopped: ``"interrupted"``, ``"duration"`` or ``"gone"``.
    """
    console = console or Console()
    board = Dashboard(home)
    board.refresh()  # raises NotRunningError at once if nothing runs
    started = time.monotonic()
    with Live(board.render(console.size.height), console=console, auto_refresh=False,
              transient=False, redirect_stdout=False) as live:
        try:
            while duration_s is None or time.monotonic() - started < duration_s:
                time.sleep(refresh_s)
                try:
                    board.refresh()
                except NotRunningError:
                    return "gone"
                live.update(board.render(console.size.height), refresh=True)
        except KeyboardInterrupt:
            return "interrupted"
    return "duration"
