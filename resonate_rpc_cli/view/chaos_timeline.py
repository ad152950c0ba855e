"""The drawing model of ``report.html``: lanes, step bars, flow attempts, fault bands.

A pure function of what a run recorded (the history, the fault log, the
ledger entries of its call trees) and its report: no clock, no files. The
page's script only draws what :func:`timeline_model` lists, so the counts a
browser test reads back (bars, re-executions, bands) are the ones this
function computed from the same inputs as the checker.

Times are milliseconds since ``t0``, the first thing the run recorded.
Lanes come in three kinds: ``infra`` (the server and the gateway), ``node``
(one per node *incarnation*: a node name and the node id it ran with, in the
order they first wrote to the ledger) and ``worker`` (one per workload
thread, carrying its flow attempts).

The model is JSON embedded in the page for its script: its parts are
TypedDicts (:class:`TimelineModel` and below), the shapes the script reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import NotRequired, TypedDict

from resonate_rpc_cli.chaos.history import FaultRecord, Op
from resonate_rpc_cli.chaos.report import ChaosReport, FaultRecovery
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVER

#: Fault kinds that cut every node off (the server) or every client (the gateway).
_WIDE = {SERVER: "all", GATEWAY: "workers"}


class Lane(TypedDict):
    """A row of the timeline: ``infra``, a ``node`` incarnation or a workload ``worker``."""

    id: str
    label: str
    kind: str
    node: NotRequired[str]


class Mark(TypedDict):
    """A bar on a lane: a step execution (``reexec``, ``cut``) or a flow attempt (``type``);
    ``n`` the marks it stands for once aggregated (``chaos_bound.py``)."""

    lane: str
    t0: int
    t1: int
    title: str
    reexec: NotRequired[bool]
    cut: NotRequired[bool]
    type: NotRequired[str]
    n: NotRequired[int]


class Band(TypedDict):
    """A landed fault, shaded over the lanes it hit."""

    index: int
    kind: str
    target: str
    t0: int
    t1: int
    lanes: list[str]
    held: int


class Point(TypedDict):
    """A flow's gateway answer: when (``t``) and how long after its first invoke (``ms``)."""

    t: int
    ms: int
    flow: str
    id: str


class Expect(TypedDict):
    """The counts the page must show (a browser test reads them back)."""

    bars: int
    reexec: int
    bands: int


class Aggregated(TypedDict):
    """A long run's bin width and the raw counts its aggregated marks stand for."""

    bin_ms: int
    bars: int
    attempts: int
    dots: int


class TimelineModel(TypedDict):
    """Everything the page draws (see the module docstring)."""

    t0: int
    span: int
    lanes: list[Lane]
    bars: list[Mark]
    attempts: list[Mark]
    bands: list[Band]
    latency: list[Point]
    expect: Expect
    recovery: list[FaultRecovery]
    aggregated: NotRequired[Aggregated]


def _t0(history: Sequence[Op], faults: Sequence[FaultRecord],
        ledger: Sequence[LedgerEntry]) -> int:
    times = [op.time_ms for op in history] + [int(e.ts * 1000) for e in ledger]
    times += [f.at_ms for f in faults if f.at_ms is not None]
    return min(times, default=0)


def _node_lanes(ledger: Sequence[LedgerEntry]) -> list[Lane]:
    first: dict[tuple[str, str], float] = {}
    for e in ledger:
        key = (e.node, e.node_id)
        first[key] = min(first.get(key, e.ts), e.ts)
    ordered = sorted(first, key=lambda k: (k[0], first[k]))
    return [{"id": f"{node}/{nid}", "label": f"{node} · {nid[:6]}", "kind": "node",
             "node": node} for node, nid in ordered]


def _cut_at(faults: Sequence[FaultRecord], node: str, start_ms: int, t_end: int) -> int:
    """Where a bar that never ended stops: the first fault on its node after it began."""
    hits = [f.at_ms for f in faults if f.landed and f.at_ms is not None
            and f.at_ms >= start_ms and node in (f.targets or [f.target])]
    return min(hits, default=t_end)


def _step_bars(ledger: Sequence[LedgerEntry], faults: Sequence[FaultRecord], t0: int,
               t_end: int) -> list[Mark]:
    """One bar per ledger ``start``; ``reexec`` for every start of a step after its first."""
    ends = {(e.step_id, e.node_id): e.ts for e in ledger if e.phase == "end"}
    starts: dict[str, list[LedgerEntry]] = defaultdict(list)
    for e in ledger:
        if e.phase == "start":
            starts[e.step_id].append(e)
    bars: list[Mark] = []
    for step_id, runs in starts.items():
        runs.sort(key=lambda e: e.ts)
        for n, e in enumerate(runs):
            end = ends.get((step_id, e.node_id))
            start_ms = int(e.ts * 1000)
            stop = int(end * 1000) if end is not None else _cut_at(faults, e.node, start_ms,
                                                                      t_end + t0)
            bars.append({
                "lane": f"{e.node}/{e.node_id}", "t0": start_ms - t0, "t1": stop - t0,
                "reexec": n > 0, "cut": end is None,
                "title": f"{e.func}({e.arg}) {step_id} on {e.node}",
            })
    return sorted(bars, key=lambda b: (b["lane"], b["t0"]))


def _attempts(history: Sequence[Op], t0: int) -> list[Mark]:
    """One bar per invoke, to its completion (an attempt never completed has none)."""
    open_: dict[tuple[str, int], Op] = {}
    out: list[Mark] = []
    for op in sorted(history, key=lambda o: o.index):
        key = (op.promise_id, op.attempt)
        if op.type == "invoke":
            open_[key] = op
            continue
        start = open_.pop(key, None)
        if start is not None:
            out.append({"lane": f"worker-{op.process}", "t0": start.time_ms - t0,
                        "t1": op.time_ms - t0, "type": op.type,
                        "title": f"{op.flow} {op.promise_id} #{op.attempt}: {op.type}"})
    return out


def _band_lanes(fault: FaultRecord, lanes: Sequence[Lane]) -> list[str]:
    wide = _WIDE.get(fault.target)
    if wide == "all":
        return [lane["id"] for lane in lanes]
    if wide == "workers":
        return [lane["id"] for lane in lanes if lane["kind"] == "worker" or
                lane["id"] == GATEWAY]
    hit = set(fault.targets or [fault.target])
    return [lane["id"] for lane in lanes if lane.get("node") in hit]


def _bands(faults: Sequence[FaultRecord], lanes: Sequence[Lane], t0: int,
           t_end: int) -> list[Band]:
    out: list[Band] = []
    for f in faults:
        if not f.landed or f.at_ms is None:
            continue
        end = f.healed_ms if f.healed_ms is not None else t_end + t0
        out.append({"index": f.index, "kind": f.kind, "target": ", ".join(f.targets or
                    [f.target]), "t0": f.at_ms - t0, "t1": max(end, f.at_ms + 1) - t0,
                    "lanes": _band_lanes(f, lanes), "held": len(f.held)})
    return out


def _latency(history: Sequence[Op], t0: int) -> list[Point]:
    """Per flow answered by the gateway: when, and how long after its first invoke."""
    first: dict[str, int] = {}
    points: list[Point] = []
    for op in sorted(history, key=lambda o: o.index):
        first.setdefault(op.promise_id, op.time_ms)
        if op.type == "ok":
            points.append({"t": op.time_ms - t0, "ms": op.time_ms - first[op.promise_id],
                           "flow": op.flow, "id": op.promise_id})
    return points


def timeline_model(
    report: ChaosReport | None,
    history: Sequence[Op],
    faults: Sequence[FaultRecord],
    ledger: Sequence[LedgerEntry],
) -> TimelineModel:
    """Everything the page draws, plus the counts it must show (see the module docstring)."""
    t0 = _t0(history, faults, ledger)
    times = [op.time_ms for op in history] + [int(e.ts * 1000) for e in ledger]
    times += [f.healed_ms or f.at_ms or 0 for f in faults]
    t_end = max(times, default=t0) - t0
    workers = sorted({op.process for op in history})
    lanes: list[Lane] = [{"id": SERVER, "label": SERVER, "kind": "infra"},
                         {"id": GATEWAY, "label": GATEWAY, "kind": "infra"}]
    lanes += _node_lanes(ledger)
    lanes += [{"id": f"worker-{w}", "label": f"worker {w}", "kind": "worker"} for w in workers]
    bars = _step_bars(ledger, faults, t0, t_end)
    bands = _bands(faults, lanes, t0, t_end)
    return {
        "t0": t0, "span": max(1, t_end), "lanes": lanes, "bars": bars,
        "attempts": _attempts(history, t0), "bands": bands, "latency": _latency(history, t0),
        "expect": {"bars": len(bars), "reexec": sum(1 for b in bars if b["reexec"]),
                   "bands": len(bands)},
        "recovery": [] if report is None else report.get("recovery_s", {}).get("per_fault", []),
    }
