"""A Jepsen-style history: every attempt at a flow is an ``invoke`` and its completion.

Completions are ``ok`` (the gateway answered with a value), ``fail`` (a definite
error: the request was refused and the flow cannot have happened because of it)
or ``info`` (unknown: the connection broke, the gateway died, a 5xx or a
timeout). An ``info`` flow is re-sent with the same promise id, which the seed
promises reconnects to the same durable promise.

Times are wall-clock milliseconds (``time.time() * 1000``) so they compare with
the server's ``settledAt`` and the ledgers' ``ts`` on the same machine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

OpType = Literal["invoke", "ok", "fail", "info"]


def wall_ms() -> int:
    """Wall-clock time in integer milliseconds (the unit of every history time)."""
    return int(time.time() * 1000)


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)


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

