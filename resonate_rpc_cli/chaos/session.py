"""``rpcdemo chaos`` without the CLI: pick a topology, run, judge, write the report.

Against the topology running under HOME when its supervisor answers;
otherwise chaos starts its own under a temporary HOME
(``supervisor/scratch.py``), tears it down after, and counts orphans. The CLI
layer only parses flags and renders.

Judging a :class:`~.orchestrator.RunRecord` makes the report (:mod:`.report`
gives its shape): the checker's verdict (:func:`~.checker.check` for the
seed's topology, :mod:`.verdict` for a declared one) plus the run's context:
the run tag, the options, durations and the schedule, and ``network`` (stale
holders behind partitions, :func:`~.measures.fenced_executions`). The report
directory holds ``report.json``, ``history.jsonl`` (every operation),
``faults.jsonl`` (every fault as it happened), ``schedule.json`` (the planned
faults) and ``report.html`` (all of it as one offline page, drawn by the
renderer the caller passes in: chaos never imports ``view/``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from resonate_rpc_cli.chaos.checker import CheckOptions, check, fault_summary, flows_by_kind
from resonate_rpc_cli.chaos.history import FaultRecord, Op, write_jsonl
from resonate_rpc_cli.chaos.measures import fenced_executions, invariant_summary, span_latency_ms
from resonate_rpc_cli.chaos.options import ChaosOptions, for_app
from resonate_rpc_cli.chaos.orchestrator import RunRecord, execute
from resonate_rpc_cli.chaos.report import (
    FAULTS_FILE,
    HISTORY_FILE,
    HTML_FILE,
    REPORT_FILE,
    SCHEDULE_FILE,
    ChaosReport,
    publish_verdict,
)
from resonate_rpc_cli.chaos.schedule import NET_FAULTS
from resonate_rpc_cli.chaos.topology import SupervisedTopology, link_control
from resonate_rpc_cli.chaos.verdict import history_of, judge_runs
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.errors import ExitStatus, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.flows import FLOWS
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.observe.stopper import RunGuard, Stopper
from resonate_rpc_cli.supervisor.client import SupervisorClient
from resonate_rpc_cli.supervisor.scratch import scratch_topology

#: Renders ``report.html`` from the report, the history, the fault log and the ledger
#: (``view.chaos_html.render_html``; passed in by the CLI, so chaos/ never imports view/).
HtmlRenderer = Callable[
    [ChaosReport, Sequence[Op], Sequence[FaultRecord], Sequence[LedgerEntry]], str]

VERDICT_STATUS = {"pass": ExitStatus.OK, "fail": ExitStatus.FAILED, "unknown": ExitStatus.USAGE}


@dataclass(frozen=True)
class OwnTopologySettings:
    """How chaos starts its own topology when none is running (short lease: quick recovery)."""

    ttl_s: float = 2.0
    step_delay_s: float = 0.2
    delay_mode: str = "work"
    memory: bool = False
    keep_home: bool = False


@dataclass
class ChaosResult:
    report: ChaosReport
    record: RunRecord
    written: list[Path] = field(default_factory=list)
    report_dir: Path | None = None

    @property
    def ended(self) -> str | None:
        """Why the run ended before its stop rule (None: it did not)."""
        return getattr(self.record, "ended", None)

    @property
    def status(self) -> int:
        """The exit code: the verdict's, or the one of what ended the run early."""
        end_status = getattr(self.record, "end_status", None)
        if end_status is not None:
            return int(end_status)
        return int(VERDICT_STATUS.get(str(self.report["verdict"]), ExitStatus.FAILED))


def run_chaos(
    options: ChaosOptions,
    home: Home,
    *,
    report_dir: Path | None = None,
    own: OwnTopologySettings | None = None,
    on_event: Callable[[str], None] | None = None,
    explicit_faults: bool = True,
    keep_failed: bool = False,
    guard: RunGuard | None = None,
    render_html: HtmlRenderer | None = None,
) -> ChaosResult:
    """Run one chaos experiment end to end; see the module docstring.

    Raises :class:`~resonate_rpc_cli.contracts.errors.UsageError` for bad options and
    :class:`~resonate_rpc_cli.contracts.errors.NotRunningError` (exit 3) when the
    topology cannot be started or reached at the start. The report is written to
    ``report_dir`` (``report.html`` too when ``render_html`` is given) even
    when the verdict is ``fail``; with ``keep_failed``, a
    run that does not pass and has no ``report_dir`` writes it to a fresh
    temporary directory (``result.report_dir``) so it can be replayed. A run
    ended early by ``guard``'s stopper (a signal, a closed output, an error,
    its topology gone) is reported too, verdict ``unknown``, with the stopper's
    exit code as ``result.status``. With ``explicit_faults``
    false (the user did not pass ``--faults``), ``server`` faults are left out
    against a server that keeps no store, and network faults against a
    topology without link proxies, instead of being an error.
    """
    emit = on_event or (lambda _msg: None)
    if SupervisorClient(home).answering():
        emit(f"running against the topology under {home.root}")
        topology = SupervisedTopology(home)
        options = _running_app(options, topology.app)
        links = link_control(home)
        options = _fit_faults(options, topology.durable, links is not None, explicit_faults,
                              emit)
        record = execute(topology, options, emit, links=links,
                         guard=replace(guard or RunGuard(Stopper()), home=home))
        report = judge(record, orphans=0, orphans_checked=False)
        publish_verdict(home, record.run_tag, report)
    else:
        record, report = _against_own(options, home, own or OwnTopologySettings(),
                                      explicit_faults, emit, guard or RunGuard(Stopper()))
    result = ChaosResult(report, record)
    if report_dir is None and keep_failed and report["verdict"] != "pass":
        report_dir = Path(tempfile.mkdtemp(prefix="rpcdemo-chaos-report-"))
    result.report_dir = report_dir
    if report_dir is not None:
        try:
            result.written = write_report_dir(report_dir, report, record, render_html)
        except OSError as exc:
            raise RpcdemoError(f"cannot write the report to {report_dir}: {exc}") from exc
    return result



def _running_app(options: ChaosOptions, running: AppTopology | None) -> ChaosOptions:
    """The options on the application HOME runs: its declared one when no ``--config``
    said otherwise; a different one named is a :class:`UsageError`."""
    if running is None:
        if options.app is not None:
            raise UsageError(f"HOME runs the seed's topology, not {options.app.source}'s "
                             f"(bring it up with: rpcdemo up --config {options.app.source})")
        return options
    if options.app is None:
        return for_app(options, running, mix_given=options.mix != tuple(FLOWS))
    if options.app.name != running.name:
        raise UsageError(f"HOME runs {running.name!r} ({running.source}), not "
                         f"{options.app.name!r} ({options.app.source})")
    return options


def _fit_faults(options: ChaosOptions, durable: bool, has_links: bool, explicit: bool,
                emit: Callable[[str], None]) -> ChaosOptions:
    """Without ``--faults``, leave out the kinds this topology cannot take (with a note)."""
    if explicit:
        return options
    drop: set[str] = set()
    if not durable and "server" in options.faults:
        emit("the server keeps no store (--memory): leaving out server faults")
        drop.add("server")
    if not has_links and NET_FAULTS.intersection(options.faults):
        emit("the topology has no link proxies: leaving out network faults")
        drop.update(NET_FAULTS)
    if not drop:
        return options
    return replace(options, faults=tuple(k for k in options.faults if k not in drop))


def _against_own(options: ChaosOptions, home: Home, settings: OwnTopologySettings,
                 explicit: bool, emit: Callable[[str], None],
                 guard: RunGuard) -> tuple[RunRecord, ChaosReport]:
    """Start a topology of our own, run against it, tear it down, judge (orphans counted)."""
    memory = settings.memory and "server" not in options.faults  # server faults need a store
    emit(f"nothing running under {home.root}: starting a topology of our own")
    with scratch_topology(ttl_s=settings.ttl_s, step_delay_s=settings.step_delay_s,
                          delay_mode=settings.delay_mode, memory=memory,
                          keep_home=settings.keep_home, app=options.app) as mine:
        emit(f"own topology up under {mine.home.root}")
        links = link_control(mine.home)
        options = _fit_faults(options, not memory, links is not None, explicit, emit)
        record = execute(SupervisedTopology(mine.home), options, emit, links=links,
                         guard=replace(guard, home=mine.home))
    emit(f"own topology torn down; {mine.orphans} process(es) left")
    report = judge(record, orphans=mine.orphans, orphans_checked=True)
    report["run"]["own_home"] = str(mine.home.root)
    return record, report



def judge(record: RunRecord, orphans: int = 0, orphans_checked: bool = False) -> ChaosReport:
    """The full report of a run: the checker's verdict plus the run's context (a declared
    topology's run is judged by :mod:`.verdict`, the seed's by :mod:`.checker`)."""
    options = record.options
    if options.app is not None:
        report = judge_declared(record, options.app, orphans, orphans_checked)
    else:
        report = check(
            record.history, record.ledger, record.promises, record.faults,
            options=CheckOptions(
                seed=options.seed, mix=options.mix, min_faults=options.min_faults,
                planned_faults=len(record.schedule), orphans_checked=orphans_checked,
                requested_flows=len(record.plans),
            ),
            orphans=orphans, journal=record.journal,
        )
    if record.ended is not None:
        report["verdict"] = "unknown"
        report["reasons"].insert(0, f"the run ended early: {record.ended}")
    elif not record.settled:
        report["reasons"].append("the run did not settle before the deadline")
    report["run"] = {
        "tag": record.run_tag,
        "started_ms": record.started_ms,
        "workload_s": record.workload_s,
        "settle_s": record.settle_s,
        "settled": record.settled,
        "healed": record.healed,
        "topology": record.topology,
        "options": options.to_dict(),
        "flows_issued": len(record.plans),
        "ended": record.ended,
    }
    report["network"] = fenced_executions(record.ledger, record.faults)
    report["fault_log"] = [
        {"index": f.index, "kind": f.kind, "target": f.target, "targets": f.targets,
         "landed": f.landed, "held": f.held, "error": f.error,
         "down_ms": None if f.healed_ms is None or f.at_ms is None else f.healed_ms - f.at_ms}
        for f in record.faults
    ]
    return report


def judge_declared(record: RunRecord, app: AppTopology, orphans: int,
                   orphans_checked: bool) -> ChaosReport:
    """The report of a declared topology's run, in the seed report's shape where the
    two share a meaning, plus ``checks`` (each check: applied or why not, what it found)
    and ``baseline``. Too few faults landed: ``unknown``; orphans: ``fail``."""
    history = history_of(app, record.plans, record.history, record.promises,
                         baseline=record.baseline, stuck=record.stuck,
                         journal=record.journal, ledger=record.ledger)
    verdict = judge_runs(history).to_dict()
    landed = [f for f in record.faults if f.landed]
    reasons, outcome = list(verdict["reasons"]), verdict["verdict"]
    if orphans:
        reasons.append(f"{orphans} process(es) left after teardown")
        outcome = "fail"
    if outcome == "pass" and len(landed) < record.options.min_faults:
        reasons.append(f"only {len(landed)} fault(s) landed, fewer than "
                       f"{record.options.min_faults}")
        outcome = "unknown"
    counts = verdict["counts"]
    return {
        "verdict": outcome, "seed": record.options.seed, "reasons": reasons,
        "checks": verdict["checks"], "baseline": record.baseline,
        "flows": {"requested": len(record.plans), "attempted": counts["attempted"],
                  "completed": counts["settled"], "lost": counts["lost"],
                  "wrong": counts["wrong"], "unknown": counts["unknown"], "failed": 0,
                  "resent": len({op.promise_id for op in record.history
                                 if op.type == "invoke" and op.attempt > 1}),
                  "by_kind": flows_by_kind((r.flow, r.settled) for r in history.runs)},
        "steps": verdict["steps"] or {}, "faults": fault_summary(landed, len(record.schedule)),
        "latency_ms": span_latency_ms(_answered_spans(record.history), landed),
        "pending_after_heal": counts["stuck"], "invariants": invariant_summary(record.journal)[0],
        "orphans": orphans, "orphans_checked": orphans_checked,
        "problems": {c["name"]: c["failures"] for c in verdict["checks"] if c["failures"]},
    }


def _answered_spans(ops: Sequence[Op]) -> list[tuple[int, int]]:
    """Each answered flow's first invoke and first answer (wall ms)."""
    first: dict[str, int] = {}
    spans: dict[str, tuple[int, int]] = {}
    for op in ops:
        first.setdefault(op.promise_id, op.time_ms)
        if op.type == "ok" and op.promise_id not in spans:
            spans[op.promise_id] = (first[op.promise_id], op.time_ms)
    return list(spans.values())


def write_report_dir(directory: Path, report: ChaosReport, record: RunRecord,
                     render_html: HtmlRenderer | None = None) -> list[Path]:
    """Write the report, history, fault log, schedule and (with ``render_html``) the page
    under ``directory``; return their paths.

    Creates ``directory`` if needed; raises ``OSError`` if it cannot be written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    names = (REPORT_FILE, HISTORY_FILE, FAULTS_FILE, SCHEDULE_FILE)
    paths = [directory / n for n in (*names, HTML_FILE)]
    paths[0].write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_jsonl(paths[1], (op.to_json() for op in record.history))
    write_jsonl(paths[2], (f.to_json() for f in record.faults))
    paths[3].write_text(
        json.dumps([p.to_dict() for p in record.schedule], indent=2) + "\n", encoding="utf-8"
    )
    if render_html is None:
        return paths[:4]
    paths[4].write_text(render_html(report, record.history, record.faults, record.ledger),
                        encoding="utf-8")
    return paths
