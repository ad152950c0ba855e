"""A Jepsen-style history: every attempt at a flow is an ``invoke`` and its completion.

Completions are ``ok`` (the gateway answered with a value), ``fail`` (a definite
error: the request was refused and the flow cannot have happened because of it)
or ``info`` (unknown: the connection broke, the gateway died, a 5xx or a
timeout). An ``info`` flow is re-sent with the same promise id, which the seed
promises reconnects to the same durable promise.

Times are wall-clock milliseconds (``time.time() * 1000``) so they compare with
the server's ``settledAt`` and the ledgers' ``ts`` on the same machine.

Each flow as the checker sees it (:class:`FlowRecord`) is gathered from the
history, the server's promise records and the ledgers (:func:`flows_from_history`,
:func:`attach`). Beside the operations, what the run saw happen: the fault log
(:class:`FaultRecord`, one per planned fault the nemesis attempted) and the
server's transition journal (:func:`read_journal`, judged by
:mod:`.measures`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from resonate_rpc_cli.clients.protocol import PromiseRecord
from resonate_rpc_cli.contracts.flows import flow_named
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry

OpType = Literal["invoke", "ok", "fail", "info"]


def wall_ms() -> int:
    """Wall-clock time in integer milliseconds (the unit of every history time)."""
    return int(time.time() * 1000)


class OpDoc(TypedDict):
    """An :class:`Op` as JSON (a line of ``history.jsonl``)."""

    index: int
    type: OpType
    time_ms: int
    process: int
    flow: str
    promise_id: str
    arg: int
    attempt: int
    value: Any
    error: str | None


@dataclass(frozen=True)
class Op:
    """One history operation.

    ``process`` is the workload worker that performed it; ``attempt`` counts
    sends of the same ``promise_id`` from 1. ``value`` is the gateway's answer
    on ``ok``; ``error`` says what went wrong on ``fail``/``info``.
    """

    index: int
    type: OpType
    time_ms: int
    process: int
    flow: str
    promise_id: str
    arg: int
    attempt: int = 1
    value: Any = None
    error: str | None = None

    def to_dict(self) -> OpDoc:
        return cast("OpDoc", asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)


class History:
    """A thread-safe, append-only list of :class:`Op`, indexed in append order."""

    def __init__(self) -> None:
        self._ops: list[Op] = []
        self._lock = threading.Lock()

    def record(
        self,
        type: OpType,
        process: int,
        flow: str,
        promise_id: str,
        arg: int,
        *,
        attempt: int = 1,
        value: Any = None,
        error: str | None = None,
        time_ms: int | None = None,
    ) -> Op:
        """Append one operation stamped with the current wall time (or ``time_ms``)."""
        with self._lock:
            op = Op(
                index=len(self._ops),
                type=type,
                time_ms=wall_ms() if time_ms is None else time_ms,
                process=process,
                flow=flow,
                promise_id=promise_id,
                arg=arg,
                attempt=attempt,
                value=value,
                error=error,
            )
            self._ops.append(op)
            return op

    def ops(self) -> list[Op]:
        """A snapshot of every operation so far."""
        with self._lock:
            return list(self._ops)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ops)


def write_jsonl(path: Path, rows: Iterable[str]) -> None:
    """Write one JSON document per line to ``path`` (replacing it)."""
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row + "\n")


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


class FaultDoc(TypedDict):
    """A :class:`FaultRecord` as JSON (a line of ``faults.jsonl``)."""

    index: int
    kind: str
    target: str
    group: str
    planned_at_s: float
    down_s: float
    at_ms: int | None
    os_pid: int | None
    node_id: str | None
    landed: bool
    confirmed_ms: int | None
    held: list[str]
    heal: str | None
    healed_ms: int | None
    new_pid: int | None
    error: str | None
    targets: list[str]
    os_pids: list[int]


@dataclass
class FaultRecord:
    """One fault as it happened.

    ``landed`` is true only once the fault was confirmed (the pid really died,
    or really stopped). ``held`` lists the task (promise) ids the victim held
    at that moment (empty if it held none, or for gateway/server faults).
    ``targets`` names every node the fault hit (its scope may take several;
    ``target`` is the first) and ``os_pids`` their pids.
    Times are wall-clock milliseconds; ``healed_ms`` is when the respawn,
    resume or restart completed. ``error`` says why a fault did not land or
    did not heal.
    """

    index: int
    kind: str
    target: str
    group: str
    planned_at_s: float
    down_s: float
    at_ms: int | None = None
    os_pid: int | None = None
    node_id: str | None = None
    landed: bool = False
    confirmed_ms: int | None = None
    held: list[str] = field(default_factory=list)
    heal: str | None = None
    healed_ms: int | None = None
    new_pid: int | None = None
    error: str | None = None
    targets: list[str] = field(default_factory=list)
    os_pids: list[int] = field(default_factory=list)

    def to_dict(self) -> FaultDoc:
        return cast("FaultDoc", asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, obj: FaultDoc) -> FaultRecord:
        """Build a record from its JSON form; raise ``ValueError`` if malformed."""
        try:
            return cls(
                index=int(obj["index"]),
                kind=str(obj["kind"]),
                target=str(obj["target"]),
                group=str(obj["group"]),
                planned_at_s=float(obj["planned_at_s"]),
                down_s=float(obj["down_s"]),
                at_ms=_opt_int(obj.get("at_ms")),
                os_pid=_opt_int(obj.get("os_pid")),
                node_id=obj.get("node_id"),
                landed=bool(obj.get("landed", False)),
                confirmed_ms=_opt_int(obj.get("confirmed_ms")),
                held=[str(h) for h in obj.get("held", [])],
                heal=obj.get("heal"),
                healed_ms=_opt_int(obj.get("healed_ms")),
                new_pid=_opt_int(obj.get("new_pid")),
                error=obj.get("error"),
                targets=[str(t) for t in obj.get("targets") or []],
                os_pids=[int(p) for p in obj.get("os_pids") or []],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed fault record: {obj!r}") from exc


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


#: One line of the server's transition journal (``server/journal.py``): a task's lease
#: (``task``, ``grant``, ``from``/``to``, ``was``, ``pid``, ``version``) or a promise's
#: settle (``promise``, ``to``, ``value``, ``changed``), at ``t`` (ms).
JournalEvent = TypedDict("JournalEvent", {
    "t": int, "task": str, "promise": str, "grant": str, "pid": str | None,
    "version": int | None,
    "from": str, "to": str, "was": str | None, "value": object, "changed": bool,
}, total=False)


def read_journal(path: Path, since_ms: int) -> list[JournalEvent] | None:
    """The journal's events from ``since_ms`` on, its rotated older half first
    (``None``: no journal; bad lines skipped)."""
    texts = []
    for part in (path.with_name(path.name + ".1"), path):  # server/journal.rotated_path
        try:
            texts.append(part.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            continue
    if not texts:
        return None
    text = "".join(texts)
    events: list[JournalEvent] = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("t"), int) and event["t"] >= since_ms:
            events.append(cast("JournalEvent", event))
    return events
