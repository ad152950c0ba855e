"""The execution ledger: one JSON line per phase of every step execution.

A node appends to its own file ``<dir>/<node_name>.<node_id>.jsonl`` (one per
incarnation). A line is written *before* the phase is acted on, flushed and
fsync'd at once, and never rewritten; so after any crash the ledger says at
least everything that happened. The chaos checker reads all files of a dir to
prove that no completed step ran again.

Phases:

* ``start``: the step's body is about to run (``value`` is null).
* ``end``: the step's body computed ``value`` and is about to return it.

``promise_id`` is the durable function's own promise; ``step_id`` is the
checkpoint that makes its work durable (the ``ctx.run`` child promise), so a
``start`` of a step whose ``step_id`` already resolved is a re-execution of a
completed step (the thing that must never happen).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict


class LedgerLine(TypedDict):
    """One ledger line's JSON (:meth:`LedgerEntry.to_json`, or another SDK's step helper:
    ``step_record.mjs``); ``arg`` and ``value`` may be absent."""

    ts: float
    phase: str
    node: str
    node_id: str
    os_pid: int
    group: str
    func: str
    promise_id: str
    step_id: str
    arg: NotRequired[Any]
    value: NotRequired[Any]


@dataclass(frozen=True)
class LedgerEntry:
    ts: float
    phase: str
    node: str
    node_id: str
    os_pid: int
    group: str
    func: str
    promise_id: str
    step_id: str
    arg: Any
    value: Any = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, obj: LedgerLine) -> LedgerEntry:
        return cls(
            ts=float(obj["ts"]),
            phase=str(obj["phase"]),
            node=str(obj["node"]),
            node_id=str(obj["node_id"]),
            os_pid=int(obj["os_pid"]),
            group=str(obj["group"]),
            func=str(obj["func"]),
            promise_id=str(obj["promise_id"]),
            step_id=str(obj["step_id"]),
            arg=obj.get("arg"),
            value=obj.get("value"),
        )


class LedgerWriter:
    """Append-only writer for one node incarnation's ledger file."""

    def __init__(self, directory: Path, node: str, node_id: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{node}.{node_id}.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def append(self, entry: LedgerEntry) -> None:
        """Write one line with a single ``write`` and fsync it before returning."""
        os.write(self._fd, (entry.to_json() + "\n").encode())
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def now() -> float:
    return time.time()


def read_ledger(directory: Path) -> Iterator[LedgerEntry]:
    """Every entry of every ledger file under ``directory``, file by file.

    A torn last line (the node died inside ``write``) is skipped, never fatal.
    """
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    yield LedgerEntry.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue
