"""The report of a chaos run: its files, and its progress published while the run goes.

The report directory (written by ``session.py``) holds :data:`REPORT_FILE`
(the verdict and what the run measured), :data:`HISTORY_FILE`,
:data:`FAULTS_FILE`, :data:`SCHEDULE_FILE` and :data:`HTML_FILE`.

While the run goes, :class:`RunProgress` rewrites ``HOME/run/chaos.json`` once a second from a
daemon thread when something happened: the run's tag, the history so far (the
latest :data:`MAX_OPS` operations: a long run's page shows its last minutes;
``report.html`` has it all) and the fault log so far; :func:`publish_verdict`
adds the report once the checker judged the run. The console reads the file
and draws the report's timeline from it (``web/chaos_feed.py``); nothing
else depends on it, so a failed write is skipped, never fatal to the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

from resonate_rpc_cli.chaos.history import FaultDoc, FaultRecord, History, OpDoc
from resonate_rpc_cli.contracts.home import Home

REPORT_FILE = "report.json"
HISTORY_FILE = "history.jsonl"
FAULTS_FILE = "faults.jsonl"
SCHEDULE_FILE = "schedule.json"
HTML_FILE = "report.html"
#: How many example ids (or failures) each problem list and check in the report keeps.
EXAMPLES = 20
#: The latest operations the progress file keeps.
MAX_OPS = 3000



# -- report.json: the shape of each section ------------------------------------------

VerdictWord = Literal["pass", "fail", "unknown"]
#: A JSON value of the application's own (a flow's outcome, a declared ``expect``): chaos
#: compares and prints it, never looks inside.
JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


class FlowCount(TypedDict):
    attempted: int
    completed: int


class FlowCounts(TypedDict):
    """``flows``: what became of the flows (``unanswered``: the seed's checker only)."""

    requested: int
    attempted: int
    completed: int
    lost: int
    wrong: int
    unknown: int
    failed: int
    resent: int
    unanswered: NotRequired[int]
    by_kind: dict[str, FlowCount]


class StepCounts(TypedDict):
    """``steps``: step executions from the ledgers, and re-executions."""

    executions: int
    distinct: int
    max_starts_per_step: int
    reexecuted_by_func: dict[str, int]
    reexecuted_before_settle: int
    reexecuted_after_settle: int
    unverified: int


class FaultSummary(TypedDict):
    """``faults``: planned, landed, mid-step, by kind and by target."""

    planned: int
    landed: int
    mid_step: int
    by_kind: dict[str, int]
    by_target: dict[str, int]


class FaultRecovery(TypedDict):
    """One landed fault's recovery (``None``: not measured or never recovered)."""

    index: int
    recovery_s: float | None


class Recovery(TypedDict):
    """``recovery_s``."""

    p50: float | None
    max: float | None
    measured: int
    unrecovered: int
    per_fault: list[FaultRecovery]


class LatencySummary(TypedDict):
    count: int
    p50: float | None
    p99: float | None


class Latency(TypedDict):
    """``latency_ms``: every completed flow, and split by fault overlap."""

    all: LatencySummary
    with_faults: LatencySummary
    without_faults: LatencySummary


class InvariantCounts(TypedDict):
    """``invariants``: the server's journal judged (``checked`` false: it kept none)."""

    checked: bool
    events: int
    two_live_leases: int
    settled_promise_changed: int


class Fenced(TypedDict):
    """``network``: stale holders behind partitions."""

    #: landed partition faults, and those whose victim held a task
    partitions: int
    partitioned_holders: int
    #: stale executions, and those whose body still finished
    fenced: int
    stale_ends: int
    examples: list[str]


class CheckDoc(TypedDict):
    """One of a declared topology's ``checks``: applied or why not, what it found."""

    name: str
    applied: bool
    note: str
    failures: list[str]
    found: int


class TopologyDoc(TypedDict):
    server_url: str
    gateway_url: str
    durable: bool
    links: bool


class OptionsDoc(TypedDict):
    """``run.options``: the flags of the run (what ``--replay`` plays again)."""

    flows: int
    concurrency: int
    mix: list[str]
    faults: list[str]
    targets: list[str]
    interval_s: list[float]
    down_s: list[float]
    seed: int
    deadline_s: float
    min_faults: int
    fault_count: int
    duration_s: NotRequired[float]
    rate: NotRequired[float | None]
    overlap: NotRequired[int]
    scopes: NotRequired[list[str]]
    holder_wait_s: NotRequired[float]
    #: a declared topology's name and its file
    app: NotRequired[str]
    config: NotRequired[str]


class RunDoc(TypedDict):
    """``run``: the run's context (``own_home``: chaos started the topology itself)."""

    tag: str
    started_ms: int
    workload_s: float
    settle_s: float
    settled: bool
    healed: list[str]
    topology: TopologyDoc | None
    options: OptionsDoc
    flows_issued: int
    ended: str | None
    own_home: NotRequired[str]


class FaultLogRow(TypedDict):
    index: int
    kind: str
    target: str
    targets: list[str]
    landed: bool
    held: list[str]
    error: str | None
    down_ms: int | None


class Detached(TypedDict):
    """``detached``: detached chains started, and those whose ``cog`` ran."""

    started: int
    cog_ran: int


class Coverage(TypedDict):
    min_faults: int
    kinds_completed: list[str]
    kinds_missing: list[str]


class ChaosReport(TypedDict):
    """``report.json``, ``--json`` and the console's verdict: one run judged.

    The seed's checker (``checker.py``) fills ``detached``, ``recovery_s`` and
    ``coverage``; a declared topology's (``verdict.py``) ``checks`` and ``baseline``
    (outcomes of the fault-free run by flow key: the application's own values).
    ``run``, ``network`` and ``fault_log`` are added once the run is judged.
    """

    verdict: VerdictWord
    seed: int
    reasons: list[str]
    checks: NotRequired[list[CheckDoc]]
    baseline: NotRequired[dict[str, JsonValue] | None]
    flows: FlowCounts
    detached: NotRequired[Detached]
    steps: StepCounts | dict[str, int]
    faults: FaultSummary
    recovery_s: NotRequired[Recovery]
    latency_ms: Latency
    pending_after_heal: int
    invariants: InvariantCounts
    orphans: int
    orphans_checked: bool
    coverage: NotRequired[Coverage]
    problems: dict[str, list[str]]
    run: NotRequired[RunDoc]
    network: NotRequired[Fenced]
    fault_log: NotRequired[list[FaultLogRow]]


class ProgressDoc(TypedDict):
    """``HOME/run/chaos.json``: a run's progress (``report`` once judged)."""

    run_tag: str
    started_ms: int
    state: Literal["running", "checking", "done"]
    ops_total: int
    history: list[OpDoc]
    faults: list[FaultDoc]
    report: ChaosReport | None


def progress_path(home: Home) -> Path:
    """Where the latest chaos run against ``home``'s topology publishes its progress."""
    return home.run_dir / "chaos.json"


def _write_atomic(path: Path, doc: Mapping[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps(doc, separators=(",", ":"), default=str), encoding="utf-8")
        os.replace(tmp, path)


@dataclass
class RunProgress:
    """The writer thread of one run (``start``, then ``stop`` once the workload ended)."""

    path: Path
    run_tag: str
    started_ms: int
    history: History
    faults: Callable[[], list[FaultRecord]]
    period_s: float = 1.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def document(self, state: Literal["running", "checking"]) -> ProgressDoc:
        """The file's content now (``state``: ``running`` or ``checking``)."""
        ops = self.history.ops()
        return {"run_tag": self.run_tag, "started_ms": self.started_ms, "state": state,
                "ops_total": len(ops), "history": [op.to_dict() for op in ops[-MAX_OPS:]],
                "faults": [f.to_dict() for f in self.faults()], "report": None}

    def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomic(self.path, self.document("running"))
        self._thread = threading.Thread(target=self._loop, name="chaos-progress", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        last: tuple[int, str] | None = None
        while not self._stop.wait(self.period_s):
            # written again only when an operation or a fault changed (cheap to compare)
            seen = (len(self.history), repr(self.faults()))
            if seen != last:
                last = seen
                _write_atomic(self.path, self.document("running"))

    def stop(self) -> None:
        """Stop the thread and write the whole run's operations (``checking``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        _write_atomic(self.path, self.document("checking"))


def publish_verdict(home: Home, run_tag: str, report: ChaosReport) -> None:
    """Add the judged report to the progress of run ``run_tag`` (``state: done``)."""
    path = progress_path(home)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(doc, dict) and doc.get("run_tag") == run_tag:
        _write_atomic(path, {**doc, "state": "done", "report": report})
