"""What a chaos run is asked for: :class:`ChaosOptions` (the ``rpcdemo chaos`` flags), or
what an earlier run's report recorded (``--replay``), and the flows it asks for.

The flows (:class:`FlowSupply`, handed to the workload): a run is time-bounded (Jepsen's
time limit), not a fixed list: workers keep taking flows until :class:`StopRule` says
enough — at least ``min_flows`` issued, the ``duration_s`` over, *and* the whole fault
schedule played — so the faults always meet a running workload. ``rate`` (flows per
second) paces the issue times; without it the loop is closed: a worker issues its next
flow as soon as its last one finished.

Flow ``n`` is :func:`plan_flow` of the seed and ``n`` alone, so a replay with
the same seed issues the same flows in the same order, however long it runs.

A replay plays the same schedule and the same workload (same seed, so the
same faults at the same offsets and the same flows in the same order, at
least as many as the run issued, and on until the schedule was played, as
the original did) under a fresh run tag: promise ids never clash
with the original run's. What the system does in between (which node holds
a task when a fault lands) may still differ: that is the system under test.
"""

from __future__ import annotations

import json
import math
import random
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from resonate_rpc_cli.chaos.report import REPORT_FILE, OptionsDoc, RunDoc
from resonate_rpc_cli.chaos.schedule import (
    FAULT_KINDS,
    FaultKind,
    PlannedFault,
    Scope,
    parse_kinds,
    parse_scopes,
    plan_faults,
)
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.flows import FLOWS, flow_named
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVICE_GROUPS


@dataclass(frozen=True)
class ChaosOptions:
    """Everything a chaos run is asked for (the ``rpcdemo chaos`` flags).

    ``fault_count`` ``None`` means ``max(min_faults, len(faults), flows // 10)``.
    ``flows`` is a minimum: the workload goes on until ``duration_s`` is over
    and the whole schedule was played (see :class:`StopRule`). ``rate`` paces issues
    (flows/s), else the loop is closed at ``concurrency``. ``overlap`` faults
    may be in force at once; ``scopes`` are drawn from per node fault; a node
    fault waits up to ``holder_wait_s`` for a node holding a task.
    ``deadline_s`` bounds the workload; settling gets whatever is left of it,
    and at least ``settle_min_s``. A ``ChaosOptions`` is valid once made: bad values
    are a :class:`UsageError` from the constructor.
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
    duration_s: float = 0.0
    rate: float | None = None
    overlap: int = 1
    scopes: tuple[Scope, ...] = ("one",)
    holder_wait_s: float = 5.0
    #: a declared topology (``--config``): ``mix`` names its flows, ``targets`` its groups
    app: AppTopology | None = None

    def stop_rule(self) -> StopRule:
        """When the workload stops issuing flows."""
        return StopRule(self.flows, self.duration_s)

    def planned_fault_count(self) -> int:
        if self.fault_count is not None:
            return self.fault_count
        return max(self.min_faults, len(self.faults), self.flows // 10)

    def schedule(self) -> list[PlannedFault]:
        """The seeded fault schedule of this run (what ``--dry-run`` prints)."""
        return plan_faults(
            self.seed, self.planned_fault_count(), kinds=self.faults, targets=self.targets,
            interval_s=self.interval_s, down_s=self.down_s, scopes=self.scopes,
        )

    def __post_init__(self) -> None:
        """Valid by construction: :class:`UsageError` naming the first bad value (the flags,
        a replayed report and ``dataclasses.replace`` all pass through here, once)."""
        if self.flows < 1:
            raise UsageError(f"--flows must be >= 1, got {self.flows}")
        if self.concurrency < 1:
            raise UsageError(f"--concurrency must be >= 1, got {self.concurrency}")
        if not (math.isfinite(self.deadline_s) and self.deadline_s > 0):
            raise UsageError(f"--deadline must be a positive number of seconds, "
                             f"got {self.deadline_s}")
        _check_pacing(self)
        if self.min_faults < 0:
            raise UsageError(f"--min-faults must be >= 0, got {self.min_faults}")
        if self.fault_count is not None and self.fault_count < 0:
            raise UsageError(f"--fault-count must be >= 0, got {self.fault_count}")
        if not self.mix:
            raise UsageError("--mix is empty")
        if self.app is not None:
            _check_declared(self, self.app)
        for name in self.mix if self.app is None else ():
            try:
                flow_named(name)
            except KeyError as exc:
                raise UsageError(f"--mix: {exc.args[0]}") from None
        try:
            self.schedule()
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def to_dict(self) -> OptionsDoc:
        doc: OptionsDoc = {
            "flows": self.flows, "concurrency": self.concurrency, "mix": list(self.mix),
            "faults": list(self.faults), "targets": list(self.targets),
            "interval_s": list(self.interval_s), "down_s": list(self.down_s),
            "seed": self.seed, "deadline_s": self.deadline_s, "min_faults": self.min_faults,
            "fault_count": self.planned_fault_count(), "duration_s": self.duration_s,
            "rate": self.rate, "overlap": self.overlap, "scopes": list(self.scopes),
            "holder_wait_s": self.holder_wait_s,
        }
        if self.app is not None:
            doc["app"] = self.app.name
            doc["config"] = str(Path(self.app.source).absolute())
        return doc

    @classmethod
    def from_dict(cls, obj: OptionsDoc, app: AppTopology | None = None) -> ChaosOptions:
        """The options a report's ``run.options`` recorded (on the declared topology
        ``app`` when the run was on one); ``ValueError`` if malformed."""
        try:
            return cls(
                flows=int(obj["flows"]), concurrency=int(obj["concurrency"]),
                mix=tuple(obj["mix"]), faults=parse_kinds(",".join(obj["faults"])),
                targets=tuple(obj["targets"]), interval_s=_pair(obj["interval_s"]),
                down_s=_pair(obj["down_s"]), seed=int(obj["seed"]),
                deadline_s=float(obj["deadline_s"]), min_faults=int(obj["min_faults"]),
                fault_count=int(obj["fault_count"]),
                duration_s=float(obj.get("duration_s", 0.0)),
                rate=None if (rate := obj.get("rate")) is None else float(rate),
                overlap=int(obj.get("overlap", 1)),
                scopes=parse_scopes(",".join(obj.get("scopes", ["one"]))),
                holder_wait_s=float(obj.get("holder_wait_s", 5.0)), app=app,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed run options: {exc}") from None


def _pair(value: Any) -> tuple[float, float]:
    lo, hi = value
    return float(lo), float(hi)


def for_app(options: ChaosOptions, app: AppTopology, *, mix_given: bool = False,
            targets_given: bool = False, faults_given: bool = False) -> ChaosOptions:
    """``options`` on the declared topology ``app``: its flows and groups unless given,
    and no gateway faults unless it declares the seed's gateway (or they were asked for:
    then a :class:`UsageError` without one)."""
    faults = options.faults if faults_given or has_gateway(app) else tuple(
        k for k in options.faults if k != "gateway")
    return replace(options, app=app, mix=options.mix if mix_given else app.flow_names,
                   targets=options.targets if targets_given else app.group_names,
                   faults=faults)


def _check_declared(options: ChaosOptions, app: AppTopology) -> None:
    """The flows, targets and fault kinds against a declared topology (one line each)."""
    for what, names, valid in (("--mix", options.mix, app.flow_names),
                               ("--targets", options.targets, app.group_names)):
        bad = [n for n in names if n not in valid]
        if bad:
            raise UsageError(f"{what}: {bad[0]!r} is not declared in {app.source} "
                             f"(declared: {', '.join(valid) or 'none'})")
    if "gateway" in options.faults and not has_gateway(app):
        raise UsageError(f"gateway faults need the seed's gateway; {app.source} declares "
                         "no [groups.gateway] (leave 'gateway' out of --faults)")


def has_gateway(app: AppTopology | None) -> bool:
    """Whether ``app`` is the seed's or declares the seed's gateway (``[groups.gateway]``:
    ``gateway`` faults and its ``/health`` then apply)."""
    return app is None or app.group(GATEWAY) is not None


def _check_pacing(options: ChaosOptions) -> None:
    """The time-bound and pacing options; :class:`UsageError` naming the first bad one."""
    if not (math.isfinite(options.duration_s) and options.duration_s >= 0):
        raise UsageError(f"--duration must be >= 0 seconds, got {options.duration_s}")
    if options.rate is not None and not (math.isfinite(options.rate) and options.rate > 0):
        raise UsageError(f"--rate must be a positive number of flows per second, "
                         f"got {options.rate}")
    if options.overlap < 1:
        raise UsageError(f"--overlap must be >= 1, got {options.overlap}")
    if not (math.isfinite(options.holder_wait_s) and options.holder_wait_s >= 0):
        raise UsageError(f"--holder-wait must be >= 0 seconds, got {options.holder_wait_s}")


def _read_run(path: Path) -> RunDoc:
    """The ``run`` of the report at ``path``, its options checked to be an object (the rest
    is checked as :meth:`ChaosOptions.from_dict` reads it)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--replay: no {path.name} in {path.parent}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--replay: cannot read {path}: {exc}") from None
    run = report.get("run") if isinstance(report, dict) else None
    if not isinstance(run, dict) or not isinstance(run.get("options"), dict):
        raise UsageError(f"--replay: {path} records no run options")
    return cast("RunDoc", run)


def recorded_config(directory: Path) -> Path | None:
    """The topology file a declared topology's run recorded (``None``: the seed's run, or
    no readable report: :func:`replay_options` says so)."""
    try:
        config = _read_run(directory / REPORT_FILE)["options"].get("config")
    except UsageError:
        return None
    return Path(config) if isinstance(config, str) else None


def replay_options(directory: Path, app: AppTopology | None = None) -> ChaosOptions:
    """The options to play the run reported in ``directory`` again (on the declared
    topology ``app``, read from :func:`recorded_config`, when the run was on one).

    Raises :class:`UsageError` (exit 2) when the directory holds no readable
    ``report.json`` with the run's options.
    """
    path = directory / REPORT_FILE
    run = _read_run(path)
    try:
        options = ChaosOptions.from_dict(run["options"], app)
    except ValueError as exc:
        raise UsageError(f"--replay: {path}: {exc}") from None
    issued = run.get("flows_issued")
    if isinstance(issued, int) and issued > 0:
        options = replace(options, flows=max(options.flows, issued))
    return options


def replay_command(home: Home, directory: Path) -> str:
    """The shell command that replays the run reported in ``directory``."""
    return (f"rpcdemo --home {shlex.quote(str(home.root))} chaos "
            f"--replay {shlex.quote(str(directory.absolute()))}")


#: Largest root argument the workload draws (values stay small and readable).
MAX_ARG = 1000


@dataclass(frozen=True)
class FlowPlan:
    """One flow the workload will run: its kind, its fresh promise id and its argument."""

    index: int
    flow: str
    promise_id: str
    arg: int


def plan_flow(seed: int, n: int, mix: tuple[str, ...], run_tag: str,
              seed_flows: bool = True) -> FlowPlan:
    """Flow number ``n`` of a run: a pure function of its arguments.

    Every block of ``len(mix)`` consecutive flows holds each kind once, in a
    seeded order, so any prefix of the sequence is balanced. Ids are
    ``chaos-<run_tag>-<kind>-<n>``: fresh for every run, free of ``:``.
    Raises ``ValueError`` for an empty mix and ``KeyError`` for an unknown kind (of the
    seed's; a declared topology's flows, ``seed_flows`` false, are taken as named).
    """
    if not mix:
        raise ValueError("the flow mix is empty")
    kinds = [flow_named(m).name for m in mix] if seed_flows else list(mix)
    block, slot = divmod(n, len(kinds))
    random.Random(f"{seed}/flows/{block}").shuffle(kinds)
    arg = random.Random(f"{seed}/arg/{n}").randint(0, MAX_ARG)
    return FlowPlan(n, kinds[slot], f"chaos-{run_tag}-{kinds[slot]}-{n}", arg)


def plan_flows(seed: int, count: int, mix: tuple[str, ...], run_tag: str) -> list[FlowPlan]:
    """The first ``count`` flows of a run (see :func:`plan_flow`)."""
    return [plan_flow(seed, n, mix, run_tag) for n in range(count)]


@dataclass(frozen=True)
class StopRule:
    """When the workload stops issuing new flows (flows in flight always finish).

    ``max_flows`` caps everything else (a supply of a fixed list).
    """

    min_flows: int
    duration_s: float = 0.0
    max_flows: int | None = None

    def more(self, issued: int, elapsed_s: float, schedule_done: bool) -> bool:
        """Whether flow number ``issued`` (0-based) should still be issued."""
        if self.max_flows is not None and issued >= self.max_flows:
            return False
        if issued < self.min_flows:
            return True
        return elapsed_s < self.duration_s or not schedule_done


class FlowSupply:
    """Hands out flows to the workload's workers, thread-safe; records what it issued.

    ``schedule_done`` tells whether the nemesis has played (and healed) its
    whole schedule. :meth:`take` returns ``None`` once the stop rule says so,
    and otherwise sleeps until the flow's paced issue time when ``rate`` is set.
    """

    def __init__(
        self,
        seed: int,
        mix: tuple[str, ...],
        run_tag: str,
        rule: StopRule,
        *,
        schedule_done: Callable[[], bool] = lambda: True,
        rate: float | None = None,
        seed_flows: bool = True,
    ) -> None:
        self.seed, self.mix, self.run_tag, self.rule = seed, mix, run_tag, rule
        self.seed_flows = seed_flows
        self.schedule_done = schedule_done
        self.rate = rate
        self.issued: list[FlowPlan] = []
        self.preset: list[FlowPlan] | None = None
        self._lock = threading.Lock()
        self.started = time.monotonic()

    @classmethod
    def of(cls, plans: list[FlowPlan]) -> FlowSupply:
        """A supply of exactly ``plans``, in order (tests, and flows planned elsewhere)."""
        supply = cls(0, ("await-chain",), "", StopRule(len(plans), max_flows=len(plans)))
        supply.preset = list(plans)
        return supply

    def _plan(self, n: int) -> FlowPlan:
        if self.preset is not None:
            return self.preset[n]
        return plan_flow(self.seed, n, self.mix, self.run_tag, self.seed_flows)

    def take(self, stop: threading.Event) -> FlowPlan | None:
        """The next flow to issue, or ``None`` when no more should be (or ``stop`` is set)."""
        with self._lock:
            n = len(self.issued)
            elapsed = time.monotonic() - self.started
            if stop.is_set() or not self.rule.more(n, elapsed, self.schedule_done()):
                return None
            plan = self._plan(n)
            self.issued.append(plan)
        if self.rate:
            stop.wait(max(0.0, self.started + n / self.rate - time.monotonic()))
        return plan

    def plans(self) -> list[FlowPlan]:
        """Every flow issued so far, in issue order."""
        with self._lock:
            return list(self.issued)
