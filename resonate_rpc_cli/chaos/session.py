"""``rpcdemo chaos`` without the CLI: pick a topology, run, judge, write the report.

Against the topology running under HOME when its supervisor answers;
otherwise chaos starts its own under a temporary HOME, tears it down after,
and counts orphans. The CLI layer only parses flags and renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resonate_rpc_cli.chaos.adapters import SupervisedTopology, own_topology
from resonate_rpc_cli.chaos.orchestrator import ChaosOptions, RunRecord, execute
from resonate_rpc_cli.chaos.report import judge, write_report_dir
from resonate_rpc_cli.contracts.errors import ExitStatus, RpcdemoError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor import control

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

    @property
    def status(self) -> ExitStatus:
        return VERDICT_STATUS.get(str(self.report["verdict"]), ExitStatus.FAILED)


def run_chaos(
    options: ChaosOptions,
    home: Home,
    *,
    report_dir: Path | None = None,
    own: OwnTopologySettings | None = None,
    on_event: Callable[[str], None] | None = None,
    explicit_faults: bool = True,
) -> ChaosResult:
    """Run one chaos experiment end to end; see the module docstring.

    Raises :class:`~resonate_rpc_cli.contracts.errors.UsageError` for bad options and
    :class:`~resonate_rpc_cli.contracts.errors.NotRunningError` (exit 3) when the
    topology cannot be started, reached or read. The report is written to
    ``report_dir`` even when the verdict is ``fail``. With ``explicit_faults``
    false (the user did not pass ``--faults``), ``server`` faults are left out
    against a server that keeps no store instead of being an error.
    """
    options.validate()
    emit = on_event or (lambda _msg: None)
    if control.answering(home):
        emit(f"running against the topology under {home.root}")
        topology = SupervisedTopology(home)
        if not explicit_faults and not topology.durable and "server" in options.faults:
            emit("the server keeps no store (--memory): leaving out server faults")
            options = replace(options, faults=tuple(k for k in options.faults if k != "server"))
        record = execute(topology, options, emit)
        report = judge(record, orphans=0, orphans_checked=False)
    else:
        settings = own or OwnTopologySettings()
        memory = settings.memory and "server" not in options.faults  # server faults need a store
        emit(f"nothing running under {home.root}: starting a topology of our own")
        with own_topology(ttl_s=settings.ttl_s, step_delay_s=settings.step_delay_s,
                          delay_mode=settings.delay_mode, memory=memory,
                          keep_home=settings.keep_home) as mine:
            emit(f"own topology up under {mine.home.root}")
            record = execute(mine.topology, options, emit)
        emit(f"own topology torn down; {mine.orphans} process(es) left")
        report = judge(record, orphans=mine.orphans, orphans_checked=True)
        report["run"]["own_home"] = str(mine.home.root)
    result = ChaosResult(report, record)
    if report_dir is not None:
        try:
            result.written = write_report_dir(report_dir, report, record)
        except OSError as exc:
            raise RpcdemoError(f"cannot write the report to {report_dir}: {exc}") from exc
    return result

