"""The seeded fault schedule: what the nemesis will do, and when.

:func:`plan_faults` is a pure function of its arguments: ``random.Random(seed)``
draws every choice, so the same seed (and options) always gives the same
schedule, which ``rpcdemo chaos --dry-run`` prints. The schedule fixes each
fault's time, kind, fallback target group, down time and a ``pick`` number in
[0, 1); at run time the nemesis uses ``pick`` to choose among the nodes that
hold a task at that moment (so faults land mid-step), and falls back to a node
of the planned group when none does. That run-time choice depends on what the
system is doing, and is logged with every fault.

The first ``len(kinds)`` faults are the requested kinds in a seeded order, so
a schedule long enough always exercises every kind at least once.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any, Literal

from resonate_rpc_cli.contracts.naming import GATEWAY, SERVER, SERVICE_GROUPS

FaultKind = Literal["kill", "term", "pause", "gateway", "server"]
FAULT_KINDS: tuple[FaultKind, ...] = ("kill", "term", "pause", "gateway", "server")
#: Faults aimed at service nodes (the others have a fixed target).
NODE_FAULTS: frozenset[str] = frozenset({"kill", "term", "pause"})


@dataclass(frozen=True)
class PlannedFault:
    """One fault of the schedule.

    ``at_s`` is the offset from the start of the workload; ``down_s`` how long
    the target stays down (killed/terminated: respawn after it; paused: resume
    after it; gateway/server: restart after it). ``group`` is the fallback
    target (``gateway``/``server`` for those kinds).
    """

    index: int
    at_s: float
    kind: FaultKind
    group: str
    down_s: float
    pick: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_faults(
    seed: int,
    count: int,
    *,
    kinds: tuple[FaultKind, ...],
    targets: tuple[str, ...],
    interval_s: tuple[float, float],
    down_s: tuple[float, float],
) -> list[PlannedFault]:
    """The deterministic schedule of ``count`` faults for ``seed``.

    Raises ``ValueError`` for an empty kind list, node faults with no target
    group, or a range whose minimum exceeds its maximum.
    """
    if count < 0:
        raise ValueError("fault count must be >= 0")
    if not kinds:
        raise ValueError("no fault kinds given")
    for name, (lo, hi) in (("interval", interval_s), ("down", down_s)):
        if lo < 0 or hi < lo:
            raise ValueError(f"{name} range must be 0 <= MIN <= MAX, got {lo}:{hi}")
    if NODE_FAULTS.intersection(kinds) and not targets:
        raise ValueError("node faults (kill, term, pause) need at least one target group")
    rng = random.Random(seed)
    order = list(kinds)
    rng.shuffle(order)
    plan: list[PlannedFault] = []
    at = 0.0
    for index in range(count):
        at += rng.uniform(*interval_s)
        kind = order[index] if index < len(order) else rng.choice(kinds)
        if kind == "gateway":
            group = GATEWAY
        elif kind == "server":
            group = SERVER
        else:
            group = rng.choice(targets)
        plan.append(
            PlannedFault(
                index=index,
                at_s=round(at, 3),
                kind=kind,
                group=group,
                down_s=round(rng.uniform(*down_s), 3),
                pick=rng.random(),
            )
        )
    return plan


def parse_kinds(text: str) -> tuple[FaultKind, ...]:
    """Parse ``kill,pause,...``; raise ``ValueError`` naming the valid kinds."""
    out: list[FaultKind] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        if name not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {name!r}; valid: {', '.join(FAULT_KINDS)}")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError(f"no fault kinds given; valid: {', '.join(FAULT_KINDS)}")
    return tuple(out)


def parse_targets(text: str | None) -> tuple[str, ...]:
    """Parse ``service-b,service-h``; ``None``/empty means every service group."""
    if not text:
        return tuple(SERVICE_GROUPS)
    out: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        if name not in SERVICE_GROUPS:
            raise ValueError(
                f"unknown target group {name!r}; valid: {', '.join(SERVICE_GROUPS)}"
            )
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError("no target groups given")
    return tuple(out)


def parse_range(text: str, what: str) -> tuple[float, float]:
    """Parse ``MIN:MAX`` seconds (or a single number); raise ``ValueError`` if malformed."""
    lo_text, sep, hi_text = text.partition(":")
    try:
        lo = float(lo_text)
        hi = float(hi_text) if sep else lo
    except ValueError:
        raise ValueError(f"{what} must be MIN:MAX seconds, got {text!r}") from None
    if lo < 0 or hi < lo:
        raise ValueError(f"{what} must be 0 <= MIN <= MAX, got {text!r}")
    return lo, hi
