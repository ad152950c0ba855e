"""One chaos run against a :class:`~.topology.ChaosTopology`: the order of events.

1. check the topology answers (gateway ``/health``, server ``/health``);
2. start the nemesis on the seeded schedule and run the workload until its
   stop rule (enough flows, the duration over, the schedule played);
3. stop the nemesis (it heals the faults in force), then heal everything;
4. settle: poll ``promise.search`` for the run's call trees until none is
   pending or the settle deadline passes;
5. collect the promises (per root, by ``resonate:origin``) and the ledgers.

A run that ends early (its :class:`~resonate_rpc_cli.observe.stopper.Stopper` tripped: a signal, a
closed output, an error, its topology gone) stops the workload, heals what
it holds (unless the topology is gone), skips settling, collects what it can
within a few seconds, and records why in ``RunRecord.ended``.

:func:`execute` returns a :class:`RunRecord`; judging it is the pure
:func:`~.checker.check`, done by the caller once it knows about orphans.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from resonate_rpc_cli.backends import read_client
from resonate_rpc_cli.chaos.history import (
    FaultRecord,
    History,
    JournalEvent,
    Op,
    read_journal,
    wall_ms,
)
from resonate_rpc_cli.chaos.nemesis import Nemesis
from resonate_rpc_cli.chaos.options import ChaosOptions, FlowPlan, FlowSupply, has_gateway
from resonate_rpc_cli.chaos.report import JsonValue, RunProgress, TopologyDoc, progress_path
from resonate_rpc_cli.chaos.schedule import NET_FAULTS, PlannedFault
from resonate_rpc_cli.chaos.topology import ChaosTopology, LinkControl, heal_everything
from resonate_rpc_cli.chaos.verdict import StuckPromise
from resonate_rpc_cli.chaos.workload import Workload, flow_sender, run_baseline
from resonate_rpc_cli.clients.http import http_ok
from resonate_rpc_cli.clients.protocol import (
    PromiseRecord,
    ProtocolError,
    ReadClient,
    ServerUnreachable,
)
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry, read_ledger
from resonate_rpc_cli.contracts.naming import SERVER
from resonate_rpc_cli.observe.doctor import diagnose
from resonate_rpc_cli.observe.gather import gather
from resonate_rpc_cli.observe.stopper import RunGuard, Stopper, TopologyWatch


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
    promises: list[PromiseRecord]
    started_ms: int
    workload_s: float = 0.0
    settle_s: float = 0.0
    settled: bool = False
    healed: list[str] = field(default_factory=list)
    topology: TopologyDoc | None = None
    #: the server's transition journal from the run's start (``None``: it kept none)
    journal: list[JournalEvent] | None = None
    #: why the run ended before its stop rule (None: it did not), and its exit code
    ended: str | None = None
    end_status: int | None = None
    #: a declared topology's fault-free outcomes by ``verdict.flow_key`` (None: no baseline)
    baseline: dict[str, JsonValue] | None = None
    #: promises of the run pending after heal, with doctor's cause (None: not read)
    stuck: list[StuckPromise] | None = None


def new_run_tag() -> str:
    """A short random tag that keeps this run's promise ids apart from every other run's."""
    return secrets.token_hex(4)


def wait_healthy(topology: ChaosTopology, timeout_s: float = 20.0,
                 stop: threading.Event | None = None, gateway: bool = True) -> None:
    """Wait until the server (its read side) and the gateway (``/health``; not when
    ``gateway`` is false: a declared topology has none) answer (or ``stop`` is set);
    else :class:`NotRunningError`."""
    deadline = time.monotonic() + timeout_s
    reader = read_client(topology.server_url, timeout_s=2.0)
    health = topology.gateway_url.rstrip("/") + "/health"
    while True:
        server = reader.healthy()
        gateway_ok = not gateway or http_ok(health, 2.0)
        if (server and gateway_ok) or (stop is not None and stop.is_set()):
            return
        if time.monotonic() >= deadline:
            down = [n for n, ok in (("server", server), ("gateway", gateway_ok)) if not ok]
            raise NotRunningError(
                f"{' and '.join(down)} not healthy after {timeout_s:g}s "
                f"(server {topology.server_url}, gateway {topology.gateway_url})"
            )
        time.sleep(0.1)


def pending_roots(client: ReadClient, roots: list[str]) -> list[str]:
    """The roots among ``roots`` whose call tree still has a pending promise."""
    out = []
    for root in roots:
        page = client.promise_search(state="pending", tags={tag.ORIGIN: root}, max_items=1)
        if next(page, None) is not None:
            out.append(root)
    return out


def settle(
    client: ReadClient, roots: list[str], deadline: float,
    on_event: Callable[[str], None],
    stop: threading.Event | None = None,
) -> bool:
    """Poll until no call tree of ``roots`` has a pending promise; False at the deadline
    (or once ``stop`` is set).

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
        if now >= deadline or (stop is not None and stop.is_set()):
            return False
        if now - last_report > 5:
            on_event(f"settling: {len(left)} call tree(s) still pending")
            last_report = now
        time.sleep(0.2)


def collect_promises(client: ReadClient, roots: list[str]) -> list[PromiseRecord]:
    """Every promise of the run's call trees (one tag search per root)."""
    out: list[PromiseRecord] = []
    for root in roots:
        out.extend(client.promise_search(tags={tag.ORIGIN: root}))
    return out


def _preflight(topology: ChaosTopology, options: ChaosOptions,
               links: LinkControl | None) -> None:
    """Refuse faults this topology cannot take; wait until it answers."""
    if "server" in options.faults and not topology.durable:
        raise UsageError("server faults need a durable store; start the topology without "
                         "--memory, or leave 'server' out of --faults")
    net = sorted(NET_FAULTS.intersection(options.faults))
    if net and links is None:
        raise UsageError(f"{', '.join(net)} faults need link proxies; start the topology "
                         "with its links, or leave them out of --faults")
    wait_healthy(topology, options.health_timeout_s, gateway=has_gateway(options.app))


def _play(topology: ChaosTopology, options: ChaosOptions, record: RunRecord,
          links: LinkControl | None, emit: Callable[[str], None], history: History,
          guard: RunGuard, nemeses: list[Nemesis]) -> None:
    """The workload under the nemesis, until the stop rule (or the deadline, or the
    guard's stopper) ends it; the nemesis goes in ``nemeses`` (the watch asks it)."""
    started = time.monotonic()
    nemesis = Nemesis(topology, record.schedule, options.targets, on_event=emit,
                      overlap=options.overlap, holder_wait_s=options.holder_wait_s,
                      links=links)
    nemeses.append(nemesis)
    supply = FlowSupply(options.seed, options.mix, record.run_tag, options.stop_rule(),
                        schedule_done=nemesis.done.is_set, rate=options.rate,
                        seed_flows=options.app is None)
    workload = Workload(topology.gateway_url, supply, concurrency=options.concurrency,
                        history=history, deadline=started + options.deadline_s,
                        request_timeout_s=options.request_timeout_s,
                        server_url=topology.server_url, abandon=guard.stopper.event,
                        send=None if options.app is None
                        else flow_sender(options.app, topology.server_url))
    guard.stopper.on_trip(workload.stop.set)
    emit(f"run {record.run_tag}: at least {options.flows} flows, for at least "
         f"{options.duration_s:g} s and until {len(record.schedule)} planned faults were "
         f"played (up to {options.overlap} at once), seed {options.seed}")
    nemesis.start()
    try:
        workload.run()
    finally:
        workload.stop.set()
        nemesis.stop(timeout_s=20.0 if guard.stopper.tripped else 120.0)
        record.workload_s = round(time.monotonic() - started, 3)
        record.plans = supply.plans()
        record.faults = list(nemesis.log)
    emit(f"workload done in {record.workload_s:.1f}s ({len(record.plans)} flows); healing")


def execute(
    topology: ChaosTopology,
    options: ChaosOptions,
    on_event: Callable[[str], None] | None = None,
    run_tag: str | None = None,
    links: LinkControl | None = None,
    guard: RunGuard | None = None,
) -> RunRecord:
    """Run the workload under the nemesis, heal, settle and collect; see the module docstring.

    Raises :class:`UsageError` for ``server`` faults on a server without a
    durable store or network faults without ``links``, and
    :class:`NotRunningError` when the topology is not healthy at the start.
    From then on it does not raise (but :class:`KeyboardInterrupt`): whatever
    ends the run early trips ``guard.stopper`` and is in ``record.ended``.
    """
    emit = on_event or (lambda _msg: None)
    _preflight(topology, options, links)
    deadline = time.monotonic() + options.deadline_s
    record = RunRecord(
        run_tag=run_tag or new_run_tag(), options=options, schedule=options.schedule(),
        plans=[], history=[], faults=[], ledger=[], promises=[], started_ms=wall_ms(),
        topology={"server_url": topology.server_url, "gateway_url": topology.gateway_url,
                  "durable": topology.durable, "links": links is not None},
    )
    guard = guard or RunGuard(Stopper())
    history = History()
    nemeses: list[Nemesis] = []
    watch = TopologyWatch(guard.stopper, guard.home, topology.server_url,
                          server_faulted=lambda: any(SERVER in n.in_force() for n in nemeses),
                          streams=guard.streams)
    # the console (rpcdemo ui) draws the timeline from it as the run goes
    progress = None if guard.home is None else RunProgress(
        progress_path(guard.home), record.run_tag, record.started_ms, history,
        lambda: [f for n in nemeses for f in list(n.log)])
    if progress is not None:
        progress.start()
    try:
        with watch:  # through settling too: a topology gone then ends the run as well
            _baseline(topology, options, record, emit)
            _play(topology, options, record, links, emit, history, guard, nemeses)
            if not guard.stopper.tripped:
                _finish(topology, options, record, links, emit, deadline, guard.stopper)
    except Exception as exc:  # any error ends the run, with its report
        status = exc.status if isinstance(exc, RpcdemoError) else ExitStatus.FAILED
        guard.stopper.trip(f"{type(exc).__name__}: {exc}", status)
    if guard.stopper.tripped:
        _end_early(topology, record, links, emit, guard.stopper)
    if progress is not None:
        progress.stop()
    record.history = history.ops()
    root_set = {p.promise_id for p in record.plans}
    record.ledger = [e for e in read_ledger(topology.ledger_dir)
                     if origin_of(e.promise_id) in root_set]
    # the HOME whose ledger this is: HOME/ledger (contracts/home.py)
    record.journal = read_journal(Home(topology.ledger_dir.parent).transitions_path,
                                  record.started_ms)
    if options.app is not None and record.ended is None:
        record.stuck = stuck_promises(Home(topology.ledger_dir.parent), record.promises)
    return record


def _baseline(topology: ChaosTopology, options: ChaosOptions, record: RunRecord,
              emit: Callable[[str], None]) -> None:
    """A declared topology's fault-free run of the flows that declare no ``expect``."""
    app = options.app
    if app is None or all(f.has_expect for f in app.flows if f.name in options.mix):
        return
    emit("fault-free baseline of the flows without expect")
    record.baseline = run_baseline(app, flow_sender(app, topology.server_url),
                                   record.run_tag, options.request_timeout_s, emit)


def stuck_promises(home: Home, promises: list[PromiseRecord]) -> list[StuckPromise]:
    """The run's promises pending after heal, each with doctor's cause (``pending``
    when doctor names none, or says why it could not look)."""
    pending = [str(p["id"]) for p in promises if p.get("state") == "pending"]
    if not pending:
        return []
    try:
        causes = {d.promise_id: d.line() for d in diagnose(gather(home).facts)}
    except RpcdemoError as exc:
        return [StuckPromise(p, f"pending (doctor could not look: {exc})") for p in pending]
    return [StuckPromise(p, causes.get(p, "pending")) for p in pending]


def _end_early(topology: ChaosTopology, record: RunRecord, links: LinkControl | None,
               emit: Callable[[str], None], stopper: Stopper) -> None:
    """After the stopper tripped: heal (unless the topology is gone), collect what answers."""
    record.ended, record.end_status = stopper.reason, stopper.status
    emit(f"run ended early: {stopper.reason}")
    if stopper.status != ExitStatus.NOT_RUNNING:
        record.healed = heal_everything(topology, links)
        emit("healed: " + ("; ".join(record.healed) or "nothing was broken"))
    if record.promises:
        return
    try:
        client = read_client(topology.server_url, timeout_s=2.0)
        record.promises = collect_promises(client, [p.promise_id for p in record.plans])
    except (ServerUnreachable, ProtocolError, OSError):
        pass  # the report says what happened without them


def _finish(topology: ChaosTopology, options: ChaosOptions, record: RunRecord,
            links: LinkControl | None, emit: Callable[[str], None], deadline: float,
            stopper: Stopper) -> None:
    """Heal, settle and collect after a run that reached its stop rule."""
    record.healed = heal_everything(topology, links)
    wait_healthy(topology, timeout_s=60.0, stop=stopper.event,
                 gateway=has_gateway(options.app))
    if stopper.tripped:
        return
    roots = [p.promise_id for p in record.plans]
    settle_started = time.monotonic()
    client = read_client(topology.server_url, timeout_s=10.0)
    record.settled = settle(client, roots, max(deadline, settle_started + options.settle_min_s),
                            emit, stopper.event)
    record.settle_s = round(time.monotonic() - settle_started, 3)
    if stopper.tripped:
        return
    try:
        record.promises = collect_promises(client, roots)
    except (ServerUnreachable, ProtocolError) as exc:
        raise NotRunningError(f"cannot read the run's promises: {exc}") from exc
