"""Typed events the supervisor emits (the feed the views show).

Events are facts that already happened; the supervisor appends them to a
bounded feed with a sequence number so any client can ask "what happened
since N".
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import TypedDict

from resonate_rpc_cli.contracts.record import Record


class EventKind(StrEnum):
    SPAWNED = "spawned"
    READY = "ready"
    EXITED = "exited"
    KILLED = "killed"
    SIGNALLED = "signalled"
    RESTARTING = "restarting"
    RESPAWNED = "respawned"
    FAILED = "failed"
    STOPPED = "stopped"
    RELEASED = "released"  # a dead node's leases went back to its group (failover)
    HEALED = "healed"  # a fault lease ended by the supervisor (deadline, holder gone, heal)


class EventJson(TypedDict):
    """An event's JSON (``status``'s events, ``rpcdemo node --json``'s lines)."""

    seq: int
    ts: float
    kind: str
    node: str
    pid: int | None
    node_id: str | None
    detail: str


class Event(Record):
    seq: int
    ts: float  # wall-clock seconds, for display
    kind: EventKind
    node: str
    pid: int | None = None
    node_id: str | None = None
    detail: str = ""

    def to_dict(self) -> EventJson:
        return {"seq": self.seq, "ts": self.ts, "kind": str(self.kind), "node": self.node,
                "pid": self.pid, "node_id": self.node_id, "detail": self.detail}

    @classmethod
    def from_dict(cls, obj: EventJson) -> Event:
        return cls(
            seq=int(obj["seq"]), ts=float(obj["ts"]), kind=EventKind(obj["kind"]),
            node=str(obj["node"]), pid=obj.get("pid"), node_id=obj.get("node_id"),
            detail=str(obj.get("detail", "")),
        )


class AllReadyJson(TypedDict):
    """``rpcdemo node --json``'s line once every node first is ready."""

    kind: str
    ts: float
    group: str
    count: int
    server: str
    home: str


class StoppedAllJson(TypedDict):
    """``rpcdemo node --json``'s last line."""

    kind: str
    ts: float


class AllReady(Record):
    """``rpcdemo node``'s line once every node first is ready."""

    ts: float
    group: str
    count: int
    server: str
    home: str

    def to_dict(self) -> AllReadyJson:
        return {"kind": "all_ready", "ts": self.ts, "group": self.group, "count": self.count,
                "server": self.server, "home": self.home}


class StoppedAll(Record):
    """``rpcdemo node``'s last line."""

    ts: float

    def to_dict(self) -> StoppedAllJson:
        return {"kind": "stopped_all", "ts": self.ts}


#: What ``rpcdemo node`` reports: each supervisor event, then its own two lines.
NodeReport = Event | AllReady | StoppedAll


class EventFeed:
    """The last ``capacity`` events, numbered from 1."""

    def __init__(self, capacity: int = 500) -> None:
        self._events: deque[Event] = deque(maxlen=capacity)
        self._seq = 0

    def emit(
        self, ts: float, kind: EventKind, node: str, *, pid: int | None = None,
        node_id: str | None = None, detail: str = "",
    ) -> Event:
        self._seq += 1
        event = Event(self._seq, ts, kind, node, pid, node_id, detail)
        self._events.append(event)
        return event

    def since(self, seq: int) -> list[Event]:
        """Events with a sequence number greater than ``seq``, oldest first."""
        return [e for e in self._events if e.seq > seq]
