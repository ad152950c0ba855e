"""Keeping ``report.html`` bounded for long runs: aggregate marks past a bound.

A short run draws one bar per step execution, one per flow attempt and one
dot per answered flow (about 2.7 KB of page per flow). Past
:data:`MAX_MARKS` bars and attempts or :data:`MAX_DOTS` dots,
:func:`bound_model` folds them into :data:`BINS` time bins per lane: a bar
per (lane, bin, kind) carrying ``n``, the executions or attempts it stands
for, and two dots per bin (the median and the slowest flow). The page then
stays about the same size however long the run (its raw history is in
``history.jsonl``, every fault stays drawn, and the page's counts add up the
``n`` of what it drew, so they still match the checker's).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

from resonate_rpc_cli.view.chaos_timeline import Mark, Point, TimelineModel

#: Bars and attempts drawn one by one, at most.
MAX_MARKS = 12_000
#: Latency dots drawn one by one, at most.
MAX_DOTS = 4_000
#: Time bins per lane once aggregated.
BINS = 300


def bound_model(model: TimelineModel) -> TimelineModel:
    """``model`` as is when small enough, else with its marks aggregated (module docstring).

    ``model["aggregated"]`` then says so: the bin width and the raw counts.
    """
    marks = len(model["bars"]) + len(model["attempts"])
    if marks <= MAX_MARKS and len(model["latency"]) <= MAX_DOTS:
        return model
    bin_ms = max(1, math.ceil(int(model["span"]) / BINS))
    bounded = model.copy()
    bounded["bars"] = _fold(model["bars"], bin_ms, "step execution")
    bounded["attempts"] = _fold(model["attempts"], bin_ms, "flow attempt", by_type=True)
    bounded["latency"] = _dots(model["latency"], bin_ms)
    bounded["aggregated"] = {"bin_ms": bin_ms, "bars": len(model["bars"]),
                             "attempts": len(model["attempts"]),
                             "dots": len(model["latency"])}
    return bounded


def _fold(marks: list[Mark], bin_ms: int, noun: str, *, by_type: bool = False) -> list[Mark]:
    """One mark per (lane, bin, kind): spanning its members, ``n`` of them. The kind is a
    step execution's ``reexec``/``cut``, or with ``by_type`` an attempt's ``type``."""
    groups: dict[tuple[str, int, object, object], list[Mark]] = defaultdict(list)
    for mark in marks:
        kind = (mark.get("type"), None) if by_type else (mark.get("reexec"), mark.get("cut"))
        groups[(mark["lane"], int(mark["t0"]) // bin_ms, *kind)].append(mark)
    out: list[Mark] = []
    for (lane, _bin, _a, _b), members in groups.items():
        first = members[0]
        n = len(members)
        folded: Mark = {"lane": lane, "t0": min(m["t0"] for m in members),
                        "t1": max(m["t1"] for m in members), "n": n,
                        "title": f"{n} {noun}{'s' if n != 1 else ''}"}
        if by_type:
            folded["type"] = first.get("type", "")
            folded["title"] += f" ({first.get('type')})"
        else:
            folded["reexec"] = first.get("reexec", False)
            folded["cut"] = first.get("cut", False)
        out.append(folded)
    return sorted(out, key=lambda m: (m["lane"], m["t0"]))


def _dots(points: list[Point], bin_ms: int) -> list[Point]:
    """Per bin: the median and the slowest answer."""
    bins: dict[int, list[Point]] = defaultdict(list)
    for p in points:
        bins[int(p["t"]) // bin_ms].append(p)
    out: list[Point] = []
    for b, members in sorted(bins.items()):
        t = b * bin_ms + bin_ms // 2
        slowest = max(members, key=lambda p: p["ms"])
        median = int(statistics.median(p["ms"] for p in members))
        out.append({"t": t, "ms": median, "flow": "", "id": f"median of {len(members)} flows"})
        out.append({"t": t, "ms": slowest["ms"], "flow": slowest["flow"],
                    "id": f"slowest of {len(members)}: {slowest['id']}"})
    return out
