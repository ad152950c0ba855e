"""The flow supply: which flow the workload issues next, and when it stops issuing.

A run is time-bounded (Jepsen's time limit), not a fixed list: workers keep
taking flows until :class:`StopRule` says enough — at least ``min_flows``
issued, the ``duration_s`` over, *and* the whole fault schedule played — so
the faults always meet a running workload. ``rate`` (flows per second)
paces the issue times; without it the loop is closed: a worker issues its
next flow as soon as its last one finished.

Flow ``n`` is :func:`plan_flow` of the seed and ``n`` alone, so a replay with
the same seed issues the same flows in the same order, however long it runs.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from resonate_rpc_cli.contracts.flows import flow_named

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
