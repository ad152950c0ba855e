"""The seeded fault schedule: what the nemesis will do, and when.

:func:`plan_faults` is a pure function of its arguments: ``random.Random(seed)``
draws every choice, so the same seed (and options) always gives the same
schedule, which ``rpcdemo chaos --dry-run`` prints. The schedule fixes each
fault's time, kind, fallback target group, down time and a ``pick`` number in
[0, 1); at run time the nemesis uses ``pick`` to choose among the nodes that
hold a task at that moment (so faults land mid-step), and falls back to a node
of the planned group when none does. That run-time choice depends on what the
system is doing, and is logged with every fault.

A node fault's ``scope`` says how many nodes of the chosen group it hits at
once (``one``, a ``minority``, or ``all``); network faults (``partition``,
``delay``, ``reset``) act on the nodes' links to the server instead of their
processes, ``delay`` with a drawn latency and jitter. These extra draws come
from a second generator per fault, so adding them left the classic kinds'
schedules as they were. :func:`effective_starts` says when each fault really
starts when at most ``overlap`` may be in force at once: a pure function of
the schedule, which the nemesis follows at run time.

The first ``len(kinds)`` faults are the requested kinds in a seeded order, so
a schedule long enough always exercises every kind at least once.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal, NotRequired, TypedDict, cast

from resonate_rpc_cli.contracts.naming import GATEWAY, SERVER, SERVICE_GROUPS

FaultKind = Literal["kill", "term", "pause", "gateway", "server", "partition", "delay",
                    "reset"]
FAULT_KINDS: tuple[FaultKind, ...] = ("kill", "term", "pause", "gateway", "server",
                                      "partition", "delay", "reset")
#: Faults on a node's link to the server (through its link proxy), not on its process.
NET_FAULTS: frozenset[str] = frozenset({"partition", "delay", "reset"})
#: Faults aimed at service nodes (the others have a fixed target).
NODE_FAULTS: frozenset[str] = frozenset({"kill", "term", "pause"}) | NET_FAULTS
Scope = Literal["one", "minority", "all"]
SCOPES: tuple[Scope, ...] = ("one", "minority", "all")
#: Latency (ms) a ``delay`` fault adds to each direction, and its jitter, drawn uniformly.
DELAY_MS = (100.0, 600.0)
JITTER_MS = (0.0, 100.0)


class PlannedFaultDoc(TypedDict):
    """A :class:`PlannedFault` as JSON (``schedule.json``, ``--dry-run --json``)."""

    index: int
    at_s: float
    kind: FaultKind
    group: str
    down_s: float
    pick: float
    scope: NotRequired[Scope]
    delay_ms: NotRequired[float]
    jitter_ms: NotRequired[float]


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
    scope: Scope = "one"
    delay_ms: float = 0.0
    jitter_ms: float = 0.0

    def to_dict(self) -> PlannedFaultDoc:
        return cast("PlannedFaultDoc", asdict(self))

    @classmethod
    def from_dict(cls, obj: PlannedFaultDoc) -> PlannedFault:
        """Build a planned fault from its JSON form; ``ValueError`` if malformed."""
        try:
            return cls(
                index=int(obj["index"]), at_s=float(obj["at_s"]), kind=obj["kind"],
                group=str(obj["group"]), down_s=float(obj["down_s"]),
                pick=float(obj["pick"]), scope=obj.get("scope", "one"),
                delay_ms=float(obj.get("delay_ms", 0.0)),
                jitter_ms=float(obj.get("jitter_ms", 0.0)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed planned fault: {obj!r}") from exc


def scope_size(scope: str, group_size: int) -> int:
    """How many of a group's ``group_size`` live nodes a fault of ``scope`` hits (>= 1)."""
    if scope == "all":
        return max(1, group_size)
    if scope == "minority":
        return max(1, (group_size - 1) // 2)
    return 1


def effective_starts(plan: Sequence[PlannedFault], overlap: int) -> list[float]:
    """When each fault starts if at most ``overlap`` are in force at once.

    A fault starts at its planned offset, or as soon as one of the ``overlap``
    slots frees up (the earliest-ending fault in force healed), whichever is
    later; faults keep their order. Pure: healing time is taken as zero.
    """
    ends: list[float] = []  # a min-heap of the in-force faults' end times
    starts: list[float] = []
    for fault in plan:
        at = max(fault.at_s, starts[-1] if starts else 0.0)
        while ends and ends[0] <= at:
            heapq.heappop(ends)
        if len(ends) >= max(1, overlap):
            at = max(at, heapq.heappop(ends))
        starts.append(at)
        heapq.heappush(ends, at + fault.down_s)
    return starts


def plan_faults(
    seed: int,
    count: int,
    *,
    kinds: tuple[FaultKind, ...],
    targets: tuple[str, ...],
    interval_s: tuple[float, float],
    down_s: tuple[float, float],
    scopes: tuple[Scope, ...] = ("one",),
) -> list[PlannedFault]:
    """The deterministic schedule of ``count`` faults for ``seed``.

    ``scopes`` are drawn from for each node fault (``one`` for the gateway
    and the server).

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
        raise ValueError("node faults (kill, term, pause, partition, delay, reset) need at "
                         "least one target group")
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
        plan.append(_with_extras(seed, scopes, PlannedFault(
            index=index, at_s=round(at, 3), kind=kind, group=group,
            down_s=round(rng.uniform(*down_s), 3), pick=rng.random(),
        )))
    return plan


def _with_extras(seed: int, scopes: tuple[Scope, ...], fault: PlannedFault) -> PlannedFault:
    """The fault with its scope and delay drawn from its own generator (see module doc)."""
    extra = random.Random(f"{seed}/extra/{fault.index}")
    scope = extra.choice(scopes) if fault.kind in NODE_FAULTS and scopes else "one"
    delay = round(extra.uniform(*DELAY_MS), 1)
    jitter = round(extra.uniform(*JITTER_MS), 1)
    if fault.kind != "delay":
        delay = jitter = 0.0
    return replace(fault, scope=scope, delay_ms=delay, jitter_ms=jitter)


def _parse_names(text: str, valid: tuple[str, ...], unknown: str, missing: str) -> list[str]:
    """The distinct names of comma-separated ``text``, in order; ``ValueError`` for a name
    not in ``valid`` (``unknown`` names it) or for none at all (``missing``)."""
    out: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        if name not in valid:
            raise ValueError(f"unknown {unknown} {name!r}; valid: {', '.join(valid)}")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError(f"no {missing} given; valid: {', '.join(valid)}")
    return out


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """Parse ``one,minority,all``; raise ``ValueError`` naming the valid scopes."""
    return tuple(cast(Scope, n) for n in _parse_names(text, SCOPES, "scope", "scope"))


def parse_kinds(text: str) -> tuple[FaultKind, ...]:
    """Parse ``kill,pause,...``; raise ``ValueError`` naming the valid kinds."""
    return tuple(cast(FaultKind, n)
                 for n in _parse_names(text, FAULT_KINDS, "fault kind", "fault kinds"))


def parse_targets(text: str | None, valid: tuple[str, ...] = tuple(SERVICE_GROUPS)
                  ) -> tuple[str, ...]:
    """Parse ``service-b,service-h``; ``None``/empty means every group of ``valid`` (the
    seed's services, or a declared topology's groups)."""
    if not text:
        return valid
    return tuple(_parse_names(text, valid, "target group", "target groups"))


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
