"""``rpcdemo chaos`` without the CLI: pick a topology, run, judge, write the report.

Against the topology running under HOME when its supervisor answers;
otherwise chaos starts its own under a temporary HOME, tears it down after,
and counts orphans. The CLI layer only parses flags and renders.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resonate_rpc_cli.chaos.adapters import SupervisedTopology, link_control, own_topology
from resonate_rpc_cli.chaos.options import for_app
from resonate_rpc_cli.chaos.orchestrator import ChaosOptions, RunRecord, execute
from resonate_rpc_cli.chaos.progress import publish_verdict
from resonate_rpc_cli.chaos.report import HtmlRenderer, judge, write_report_dir
from resonate_rpc_cli.chaos.schedule import NET_FAULTS
from resonate_rpc_cli.chaos.stopper import RunGuard, Stopper
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.errors import ExitStatus, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.flows import FLOWS
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor.client import SupervisorClient

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
    report: dict[str, Any]
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
                 guard: RunGuard) -> tuple[RunRecord, dict[str, Any]]:
    """Start a topology of our own, run against it, tear it down, judge (orphans counted)."""
    memory = settings.memory and "server" not in options.faults  # server faults need a store
    emit(f"nothing running under {home.root}: starting a topology of our own")
    with own_topology(ttl_s=settings.ttl_s, step_delay_s=settings.step_delay_s,
                      delay_mode=settings.delay_mode, memory=memory,
                      keep_home=settings.keep_home, app=options.app) as mine:
        emit(f"own topology up under {mine.home.root}")
        links = link_control(mine.home)
        options = _fit_faults(options, not memory, links is not None, explicit, emit)
        record = execute(mine.topology, options, emit, links=links,
                         guard=replace(guard, home=mine.home))
    emit(f"own topology torn down; {mine.orphans} process(es) left")
    report = judge(record, orphans=mine.orphans, orphans_checked=True)
    report["run"]["own_home"] = str(mine.home.root)
    return record, report
