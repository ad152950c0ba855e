"""One chaos run against a :class:`~.topology.ChaosTopology`: the order of events.

1. check the topology answers (gateway ``/health``, server ``/health``);
2. start the nemesis on the seeded schedule and run the workload;
3. stop the nemesis (it heals the fault in progress), then heal everything;
4. settle: poll ``promise.search`` for the run's call trees until none is
   pending or the settle deadline passes;
5. collect the promises (per root, by ``resonate:origin``) and the ledgers.

:func:`execute` returns a :class:`RunRecord`; judging it is the pure
:func:`~.checker.check`, done by the caller once it knows about orphans.
"""

from __future__ import annotations

import math
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from resonate_rpc_cli.chaos.faults import FaultRecord
from resonate_rpc_cli.chaos.history import History, Op, wall_ms
from resonate_rpc_cli.chaos.nemesis import Nemesis, heal_everything
from resonate_rpc_cli.chaos.schedule import FAULT_KINDS, FaultKind, PlannedFault, plan_faults
from resonate_rpc_cli.chaos.targets import ChaosTopology
from resonate_rpc_cli.chaos.workload import FlowPlan, Workload, plan_flows
from resonate_rpc_cli.clients.protocol import ProtocolError, ResonateClient, ServerUnreachable
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError
from resonate_rpc_cli.contracts.flows import FLOWS, flow_named
from resonate_rpc_cli.contracts.ledger import LedgerEntry, read_ledger
from resonate_rpc_cli.contracts.naming import SERVICE_GROUPS

ORIGIN_TAG = "resonate:origin"


@dataclass(frozen=True)
class ChaosOptions:
    """Everything a chaos run is asked for (the ``rpcdemo chaos`` flags).

    ``fault_count`` ``None`` means ``max(min_faults, len(faults), flows // 10)``.
    ``deadline_s`` bounds the workload; settling gets whatever is left of it,
    and at least ``settle_min_s``.
    """

    flows: int = 100
    concurrency: int = 8
    mix: tuple[str, ...] = tuple(FLOWS)
    faults: tuple[FaultKind, ...] = FAULT_KINDS
    targets: tuple[str, ...] = tuple(SERVICE_GROUPS)
    interval_s: tuple[float, float] = (1.0, 5.0)
    down_s: tuple[float, float] = (0.5, 3.0)
    seed: int = 0
    deadline_s: float = 600.0
    min_faults: int = 3
    fault_count: int | None = None
    request_timeout_s: float = 30.0
    settle_min_s: float = 30.0
    health_timeout_s: float = 20.0

    def planned_fault_count(self) -> int:
        if self.fault_count is not None:
            return self.fault_count
        return max(self.min_faults, len(self.faults), self.flows // 10)

    def schedule(self) -> list[PlannedFault]:
        """The seeded fault schedule of this run (what ``--dry-run`` prints)."""
        return plan_faults(
            self.seed, self.planned_fault_count(), kinds=self.faults, targets=self.targets,
            interval_s=self.interval_s, down_s=self.down_s,
        )

    def validate(self) -> ChaosOptions:
        """Return self, or raise :class:`UsageError` naming the first bad value."""
        if self.flows < 1:
            raise UsageError(f"--flows must be >= 1, got {self.flows}")
        if self.concurrency < 1:
            raise UsageError(f"--concurrency must be >= 1, got {self.concurrency}")
        if not (math.isfinite(self.deadline_s) and self.deadline_s > 0):
            raise UsageError(f"--deadline must be a positive number of seconds, "
                             f"got {self.deadline_s}")
        if self.min_faults < 0:
            raise UsageError(f"--min-faults must be >= 0, got {self.min_faults}")
        if self.fault_count is not None and self.fault_count < 0:
            raise UsageError(f"--fault-count must be >= 0, got {self.fault_count}")
        if not self.mix:
            raise UsageError("--mix is empty")
        for name in self.mix:
            try:
                flow_named(name)
            except KeyError as exc:
                raise UsageError(f"--mix: {exc.args[0]}") from None
        try:
            self.schedule()
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "flows": self.flows, "concurrency": self.concurrency, "mix": list(self.mix),
            "faults": list(self.faults), "targets": list(self.targets),
            "interval_s": list(self.interval_s), "down_s": list(self.down_s),
            "seed": self.seed, "deadline_s": self.deadline_s, "min_faults": self.min_faults,
            "fault_count": self.planned_fault_count(),
        }


@dataclass
class RunRecord:
    """Everything a run observed; the checker's input plus context for the report."""

    run_tag: str
    options: ChaosOptions
    schedule: list[PlannedFault]
    plans: list[FlowPlan]
    history: list[Op]
    faults: list[FaultRecord]
    ledger: list[LedgerEntry]
    promises: list[dict[str, Any]]
    started_ms: int
    workload_s: float = 0.0
    settle_s: float = 0.0
    settled: bool = False
    healed: list[str] = field(default_factory=list)
    topology: dict[str, Any] = field(default_factory=dict)


def new_run_tag() -> str:
    """A short random tag that keeps this run's promise ids apart from every other run's."""
    return secrets.token_hex(4)


def _http_ok(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_healthy(topology: ChaosTopology, timeout_s: float = 20.0) -> None:
    """Wait until the server and gateway answer ``/health``; else :class:`NotRunningError`."""
    deadline = time.monotonic() + timeout_s
    while True:
        server = _http_ok(topology.server_url.rstrip("/") + "/health")
        gateway = _http_ok(topology.gateway_url.rstrip("/") + "/health")
        if server and gateway:
            return
        if time.monotonic() >= deadline:
            down = [n for n, ok in (("server", server), ("gateway", gateway)) if not ok]
            raise NotRunningError(
                f"{' and '.join(down)} not healthy after {timeout_s:g}s "
                f"(server {topology.server_url}, gateway {topology.gateway_url})"
            )
        time.sleep(0.1)


def pending_roots(client: ResonateClient, roots: list[str]) -> list[str]:
    """The roots among ``roots`` whose call tree still has a pending promise."""
    out = []
    for root in roots:
        page = client.promise_search(state="pending", tags={ORIGIN_TAG: root}, max_items=1)
        if next(page, None) is not None:
            out.append(root)
    return out


def settle(
    client: ResonateClient, roots: list[str], deadline: float,
    on_event: Callable[[str], None],
) -> bool:
    """Poll until no call tree of ``roots`` has a pending promise; False at the deadline.

    A server that does not answer (restarting) is polled again, not fatal.
    """
    left = list(roots)
    last_report = 0.0
    while True:
        try:
            left = pending_roots(client, left)
        except (ServerUnreachable, ProtocolError):
            pass
        else:
            if not left:
                return True
        now = time.monotonic()
        if now >= deadline:
            return False
        if now - last_report > 5:
            on_event(f"settling: {len(left)} call tree(s) still pending")
            last_report = now
        time.sleep(0.2)


def collect_promises(client: ResonateClient, roots: list[str]) -> list[dict[str, Any]]:
    """Every promise of the run's call trees (one tag search per root)."""
    out: list[dict[str, Any]] = []
    for root in roots:
        out.extend(client.promise_search(tags={ORIGIN_TAG: root}))
    return out


def execute(
    topology: ChaosTopology,
    options: ChaosOptions,
    on_event: Callable[[str], None] | None = None,
    run_tag: str | None = None,
) -> RunRecord:
    """Run the workload under the nemesis, heal, settle and collect; see the module docstring.

    Raises :class:`UsageError` for ``server`` faults on a server without a
    durable store, and :class:`NotRunningError` when the topology is not
    healthy at the start or its server cannot be read at the end.
    """
    emit = on_event or (lambda _msg: None)
    options.validate()
    if "server" in options.faults and not topology.durable:
        raise UsageError("server faults need a durable store; start the topology without "
                         "--memory, or leave 'server' out of --faults")
    wait_healthy(topology, options.health_timeout_s)
    tag = run_tag or new_run_tag()
    schedule = options.schedule()
    plans = plan_flows(options.seed, options.flows, options.mix, tag)
    history = History()
    started = time.monotonic()
    deadline = started + options.deadline_s
    record = RunRecord(
        run_tag=tag, options=options, schedule=schedule, plans=plans, history=[], faults=[],
        ledger=[], promises=[], started_ms=wall_ms(),
        topology={"server_url": topology.server_url, "gateway_url": topology.gateway_url,
                  "durable": topology.durable},
    )
    nemesis = Nemesis(topology, schedule, options.targets, on_event=emit)
    workload = Workload(topology.gateway_url, plans, concurrency=options.concurrency,
                        history=history, deadline=deadline,
                        request_timeout_s=options.request_timeout_s,
                        server_url=topology.server_url)
    emit(f"run {tag}: {len(plans)} flows, {len(schedule)} planned faults, seed {options.seed}")
    nemesis.start()
    try:
        workload.run()
    finally:
        workload.stop.set()
        nemesis.stop()
    record.workload_s = round(time.monotonic() - started, 3)
    emit(f"workload done in {record.workload_s:.1f}s; healing")
    record.healed = heal_everything(topology)
    wait_healthy(topology, timeout_s=60.0)
    roots = [p.promise_id for p in plans]
    settle_started = time.monotonic()
    client = ResonateClient(topology.server_url, timeout_s=10.0)
    record.settled = settle(client, roots, max(deadline, settle_started + options.settle_min_s),
                            emit)
    record.settle_s = round(time.monotonic() - settle_started, 3)
    try:
        record.promises = collect_promises(client, roots)
    except (ServerUnreachable, ProtocolError) as exc:
        raise NotRunningError(f"cannot read the run's promises: {exc}") from exc
    record.history = history.ops()
    record.faults = list(nemesis.log)
    root_set = set(roots)
    record.ledger = [e for e in read_ledger(topology.ledger_dir)
                     if e.promise_id.split(":", 1)[0] in root_set]
    return record
