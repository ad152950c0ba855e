"""What the live view shows, polled at bounded rates (the view only renders it).

:class:`LiveModel` asks the supervisor for nodes and new events twice a
second, samples the nodes' CPU and memory (psutil), and asks the server once a
second for pending promises, who holds which task, and capped trees of the
flows' roots; counts come once a second from our server's info or every five
seconds by searching another server, so thousands of settled promises cost
little.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

from resonate_rpc_cli.clients.protocol import ServerUnreachable
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.flows import FLOWS
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.links.status import LinkStatus
from resonate_rpc_cli.observe import actions
from resonate_rpc_cli.observe.actions import Outcome
from resonate_rpc_cli.observe.events import describe, line
from resonate_rpc_cli.observe.facts import node_names_by_id
from resonate_rpc_cli.observe.keys import Controls, Request, Row, rows_of
from resonate_rpc_cli.observe.leases import Holders, TaskRow
from resonate_rpc_cli.observe.picture import NodeLine, node_lines, read_work
from resonate_rpc_cli.observe.snapshot import PromiseRow, PromiseSource, tree_rows
from resonate_rpc_cli.supervisor.app_launch import KEEPER
from resonate_rpc_cli.supervisor.client import SupervisorClient, TopologyStatus
from resonate_rpc_cli.supervisor.rows import FaultRow, NodeRow
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

TREE_ROWS = 30
MAX_RECENT_ROOTS = 3
FEED_LINES = 8


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


def supervisor_status(home: Home, since: int) -> TopologyStatus:
    """The supervisor's status with the events after ``since``."""
    return SupervisorClient(home).status(since=since)


def in_thread(work: Callable[[], None]) -> None:
    """Run ``work`` on a daemon thread (an action must not stop the view from drawing, and
    one still under way must not hold up the exit)."""
    threading.Thread(target=work, name="rpcdemo-action", daemon=True).start()


@dataclass
class LiveModel:
    """The latest picture of one topology, refreshed by :meth:`refresh`."""

    home: Home
    status: Callable[[Home, int], TopologyStatus] = supervisor_status
    clock: Callable[[], float] = time.monotonic
    nodes: list[NodeRow] = field(default_factory=list)
    config: TopologyConfig | None = None
    trees: dict[str, list[PromiseRow]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    feed: deque[str] = field(default_factory=lambda: deque(maxlen=FEED_LINES))
    notice: str | None = None
    last_seq: int = 0
    #: the seed's static flow ids (a declared application's flow names) are always
    #: shown; other roots while recent
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
    tasks: list[TaskRow] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)
    #: every node's link, polled with the nodes (None: the topology runs without links)
    links: list[LinkStatus] | None = None
    #: faults in force (the supervisor's fault leases), polled with the nodes
    faults: list[FaultRow] = field(default_factory=list)
    #: the selection, prompt and help of the keys, and the actions under way
    controls: Controls = field(default_factory=Controls)
    perform: Callable[[Home, str, str, str | None], Outcome] = actions.perform
    launch: Callable[[Callable[[], None]], None] = in_thread
    _finished: deque[tuple[Request, Outcome]] = field(default_factory=deque)

    def refresh(self) -> None:
        """Poll whatever is due. Raises :class:`NotRunningError` once the supervisor is gone."""
        self._collect()
        now = self.clock()
        if self.node_every.due(now):
            self._poll_nodes()
        if self.source is not None and self.promise_every.due(now):
            try:
                self._poll_promises(now)
            except ServerUnreachable:
                self.notice = f"the server at {self.source.client.url} is not answering"

    def _poll_nodes(self) -> None:
        status = self.status(self.home, self.last_seq)
        if self.config is None:
            self.config = status.config
            if self.config.app is not None:
                self.pinned = self.config.app.flow_names
            self.source = PromiseSource(self.config.server_url, timeout_s=1.0)
        self.nodes = status.nodes
        self.faults = status.fault_rows()
        if self.config.links:
            self.links = LinkClient(self.home, timeout_s=1.0).status_or_none()
        for event in status.events:
            self.last_seq = max(self.last_seq, event.seq)
            self.feed.append(describe(event))
        self._sample_usage()

    def _sample_usage(self) -> None:
        live = {n.pid for n in self.nodes if n.pid}
        for pid in list(self._procs):
            if pid not in live:
                del self._procs[pid]
        usage: dict[int, dict[str, str]] = {}
        for pid in live:
            with contextlib.suppress(psutil.Error):
                proc = self._procs.get(pid)
                if proc is None:
                    proc = self._procs[pid] = _measured(psutil.Process(pid))
                    proc.cpu_percent(None)
                usage[pid] = {"cpu": f"{proc.cpu_percent(None):.0f}%",
                              "mem": f"{proc.memory_info().rss / 2**20:.0f}M"}
        self.usage = usage

    def _poll_promises(self, now: float) -> None:
        assert self.source is not None
        if self.config is not None:
            work = read_work(self.source, self.nodes, self.config, links=self.links,
                             faults=self.faults, pending_limit=200)
            pending, holders = work.records, work.holders
            self.tasks = work.tasks
            self.flags = {pid: d.short() for pid, d in work.diagnoses.items() if d.stuck}
        else:
            pending, holders = [], Holders({}, node_names_by_id(self.nodes))
        self.held = holders.held_by()
        for rec in pending:
            # a promise made outside any flow (a person's approval) is a root of its own
            origin = (rec.get("tags") or {}).get(tag.ORIGIN) or rec.get("id")
            if origin and origin not in self.pinned and origin not in self.recent:
                self.recent.append(origin)
        trees = {}
        for root in (*self.pinned, *self.recent):
            rows = tree_rows(self.source, root, holders.holder, limit=TREE_ROWS)
            if rows:
                trees[root] = rows
                self._note_settled(root, rows[0])
        self.trees = trees
        # one cheap request on our server: as fresh as the trees; searches elsewhere
        self.count_every.period_s = 1.0 if self.source.counts_are_cheap() else 5.0
        if self.count_every.due(now):
            self.counts = self.source.counts(limit=10_000)
        self.notice = self.source.notice

    def _note_settled(self, root: str, top: PromiseRow) -> None:
        """A feed line when a flow's root promise settles."""
        if top.id != root:
            return
        if top.state != "pending" and self.settled.get(root) == "pending":
            value = f" = {top.value}" if top.value is not None else ""
            self.feed.append(line(time.time(), root, "flow", detail=f"{top.state}{value}"))
        self.settled[root] = top.state

    def nodes_with_tasks(self) -> list[NodeLine]:
        """The node rows with the task(s) each holds, as of the last promise poll."""
        return node_lines(self.nodes, self.held, self.links, all_tasks=True)

    def roots(self) -> list[str]:
        """The flows' roots the view shows, in order: the seed's, then recent ones."""
        return [*self.pinned, *(r for r in self.recent if r not in self.pinned)]

    def rows(self) -> list[Row]:
        """The rows a key can act on, in screen order (``observe/keys.py``)."""
        return rows_of(self.nodes_with_tasks(), self.trees, self.roots(),
                       self.config.app if self.config is not None else None)

    def press(self, key: str) -> None:
        """Handle one key; an action it asks for starts at once, off this thread, and its
        outcome shows (and everything is polled again) at the next :meth:`refresh`."""
        request = self.controls.press(key, self.rows())
        if request is None:
            return
        self.controls.running.append(request)

        def work() -> None:
            name, target = request.action.name, request.target.id
            try:
                outcome = self.perform(self.home, name, target, request.value)
            except Exception as exc:  # a bug must not kill the view's thread unseen
                outcome = actions.Refused(name, target, f"{type(exc).__name__}: {exc}")
            self._finished.append((request, outcome))

        self.launch(work)

    def _collect(self) -> None:
        """Take in the outcomes of finished actions; poll everything at once after one."""
        while self._finished:
            request, outcome = self._finished.popleft()
            with contextlib.suppress(ValueError):
                self.controls.running.remove(request)
            self.controls.last = outcome
            for every in (self.node_every, self.promise_every, self.count_every):
                every.last = float("-inf")


def _measured(proc: psutil.Process) -> psutil.Process:
    """The process whose CPU and memory a node's row shows: a declared node's command,
    not the keeper that runs it (``supervisor/keeper.py``)."""
    if KEEPER in proc.cmdline():
        children = proc.children()
        if children:
            return children[0]
    return proc
