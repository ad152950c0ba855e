"""Synthetic chaos runs for the checker's unit tests: a clean run that each test breaks.

The shapes follow the real system: root promise = the flow's id, children
under ``root:…`` (detached children ``root:d…``), a ``ctx.run`` step promise per
function, ledger ``start``/``end`` lines written before the step settles, and
values encoded as the SDK does (``{"headers", "data": base64(json)}``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from resonate_rpc_cli.chaos.history import FaultRecord, History, Op
from resonate_rpc_cli.clients.protocol import Payload, PromiseRecord
from resonate_rpc_cli.contracts.flows import expected_value, flow_named
from resonate_rpc_cli.contracts.ledger import LedgerEntry

T0 = 1_700_000_000_000  # wall ms


def enc(value: Any) -> Payload:
    return {"headers": None, "data": base64.b64encode(json.dumps(value).encode()).decode()}


@dataclass
class Run:
    history: History = field(default_factory=History)
    ledger: list[LedgerEntry] = field(default_factory=list)
    promises: dict[str, PromiseRecord] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)

    def ops(self) -> list[Op]:
        return self.history.ops()

    def records(self) -> list[PromiseRecord]:
        return list(self.promises.values())


# (function, its promise id suffix, its step suffix) per flow
_SHAPES = {
    "await-chain": [("foo", "", ":1"), ("bar", ":2", ":2.1"), ("baz", ":2.2", ":2.2.1")],
    "detached-chain": [("qux", "", ":1"), ("quz", ":d1", ":d1.1"), ("cog", ":d2", ":d2.1")],
    "fan-out": [("zim", "", ":1"), ("rax", ":2", ":2.1"), ("dop", ":3", ":3.1")],
}


def add_flow(run: Run, flow: str, pid: str, arg: int, start_ms: int, node: str = "n") -> int:
    """Add one flow that completed correctly; return the time it finished (ms)."""
    spec = flow_named(flow)
    run.history.record("invoke", 0, spec.name, pid, arg, time_ms=start_ms)
    t = start_ms + 10
    args = spec.step_args(arg)
    for func, suffix, step in _SHAPES[spec.name]:
        a = args[func]
        value = expected_value(func, a)
        for phase, v in (("start", None), ("end", value)):
            run.ledger.append(LedgerEntry(
                ts=t / 1000, phase=phase, node=f"{node}-1", node_id="x", os_pid=1,
                group="g", func=func, promise_id=pid + suffix, step_id=pid + step,
                arg=a, value=v,
            ))
            t += 5
        run.promises[pid + step] = {
            "id": pid + step, "state": "resolved", "value": enc(value), "tags": {},
            "createdAt": t - 10, "settledAt": t + 1,
        }
        run.promises[pid + suffix] = {
            "id": pid + suffix, "state": "resolved", "value": enc(value), "tags": {},
            "createdAt": t - 10, "settledAt": t + 2,
        }
        t += 10
    answer = spec.expected(arg) if spec.awaited else "detached-chain started"
    ok_ms = t if spec.awaited else start_ms + 5
    run.history.record("ok", 0, spec.name, pid, arg, value=answer, time_ms=ok_ms)
    return t


def add_fault(run: Run, index: int, kind: str, target: str, at_ms: int,
              held: list[str] | None = None, landed: bool = True) -> FaultRecord:
    rec = FaultRecord(
        index=index, kind=kind, target=target, group=target.rsplit("-", 1)[0],
        planned_at_s=index, down_s=0.5, at_ms=at_ms, os_pid=100 + index, landed=landed,
        confirmed_ms=at_ms + 1 if landed else None, held=held or [],
        heal="respawn", healed_ms=at_ms + 500,
    )
    run.faults.append(rec)
    return rec


def clean_run() -> Run:
    """Three flows of each kind and three landed faults: the checker must say pass."""
    run = Run()
    t = T0
    for n in range(3):
        for kind in ("await-chain", "detached-chain", "fan-out"):
            add_flow(run, kind, f"chaos-{kind}-{n}", n + 1, t)
            t += 200
    add_fault(run, 0, "kill", "service-b-1", T0 + 15, held=["chaos-await-chain-0:2"])
    add_fault(run, 1, "pause", "service-h-1", T0 + 250)
    add_fault(run, 2, "gateway", "gateway", T0 + 900)
    return run
