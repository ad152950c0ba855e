"""Each flow of a chaos run as the checker sees it: gathered from the history, the
server's promise records and the ledgers (pure; see ``checker.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from resonate_rpc_cli.chaos.history import Op
from resonate_rpc_cli.clients.protocol import PromiseRecord
from resonate_rpc_cli.contracts.flows import flow_named
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry


@dataclass
class FlowRecord:
    """Everything known about one flow (one root promise id)."""

    promise_id: str
    flow: str
    arg: int
    first_invoke_ms: int
    attempts: int = 0
    ok_ms: int | None = None
    ok_value: Any = None
    acknowledged: bool = False
    failed_error: str | None = None
    last_type: str = "invoke"
    root: PromiseRecord | None = None
    promises: list[PromiseRecord] = field(default_factory=list)
    cog_end: LedgerEntry | None = None

    @property
    def awaited(self) -> bool:
        return flow_named(self.flow).awaited

    @property
    def root_state(self) -> str | None:
        return None if self.root is None else str(self.root.get("state"))

    def completed(self) -> bool:
        """The root promise resolved on the server.

        A gateway answer alone is not enough: a root the server no longer
        knows is a durable promise lost, even if its value reached the client.
        """
        return self.root_state == "resolved"

    def failed(self) -> bool:
        state = self.root_state
        if state is not None and state.startswith("rejected"):
            return True
        return self.root is None and self.failed_error is not None and not self.acknowledged

    def finished_ms(self) -> int | None:
        """When the flow was done, in wall ms; ``None`` if it never finished.

        An awaited flow is done when the gateway answered; a detached chain
        when every promise of its tree (down to ``cog``) had settled.
        """
        if self.awaited and self.ok_ms is not None:
            return self.ok_ms
        settled = [p.get("settledAt") for p in self.promises]
        if not settled or not all(isinstance(s, int) for s in settled):
            return None
        return max(int(s) for s in settled if s is not None)


def flows_from_history(history: Sequence[Op]) -> dict[str, FlowRecord]:
    flows: dict[str, FlowRecord] = {}
    for op in sorted(history, key=lambda o: o.index):
        flow = flows.get(op.promise_id)
        if flow is None:
            flow = flows[op.promise_id] = FlowRecord(
                op.promise_id, flow_named(op.flow).name, op.arg, op.time_ms
            )
        flow.last_type = op.type
        if op.type == "invoke":
            flow.attempts += 1
        elif op.type == "ok":
            flow.acknowledged = True
            if flow.ok_ms is None:
                flow.ok_ms = op.time_ms
                flow.ok_value = op.value
        elif op.type == "fail":
            flow.failed_error = op.error or "failed"
    return flows


def attach(flows: dict[str, FlowRecord], promises: Iterable[PromiseRecord],
           ledger: Iterable[LedgerEntry]) -> tuple[dict[str, PromiseRecord], list[LedgerEntry]]:
    """Give each flow its promise records, root and ``cog`` end; the run's records
    (by id) and ledger entries (other runs' are left out)."""
    records = {str(p["id"]): p for p in promises if origin_of(str(p["id"])) in flows}
    for pid, rec in records.items():
        flow = flows[origin_of(pid)]
        flow.promises.append(rec)
        if pid == flow.promise_id:
            flow.root = rec
    entries = [e for e in ledger if origin_of(e.promise_id) in flows]
    for e in entries:
        if e.func == "cog" and e.phase == "end":
            flows[origin_of(e.promise_id)].cog_end = e
    return records, entries
