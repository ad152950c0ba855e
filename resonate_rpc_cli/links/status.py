"""What a link is doing: the record ``net status``, ``status`` and the chaos runner read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from resonate_rpc_cli.contracts.record import Record

LinkState = Literal["ok", "partitioned", "delayed"]
LINK_STATES: tuple[LinkState, ...] = ("ok", "partitioned", "delayed")
#: How a link's new connections go: handed to the server (no hop) or relayed by the link.
LinkPath = Literal["handoff", "proxy"]


class LinkStatusJson(TypedDict):
    """A :class:`LinkStatus` as ``net status --json``, ``status --json`` and the console show it."""

    node: str
    state: LinkState
    delay_ms: float
    jitter_ms: float
    connections: int
    until: float | None
    port: int
    path: LinkPath
    handed_off: int


class LinkStatus(Record):
    """One node's link.

    ``state`` is ``partitioned`` while a partition is in force (a delay set
    under it stays configured), else ``delayed`` while ``delay_ms > 0``, else
    ``ok``. ``until`` is the wall-clock time (``time.time()``) a timed
    partition heals itself, else None. ``connections`` counts the proxied
    connections open now; ``port`` is the link's port on 127.0.0.1. ``path``
    is how a new connection goes now (``handoff``: given to the server, which
    serves it directly; ``proxy``: relayed, as always while a fault is in
    force or for a server that cannot adopt connections); ``handed_off``
    counts the connections given to the server so far.
    """

    node: str
    state: LinkState
    delay_ms: float
    jitter_ms: float
    connections: int
    until: float | None
    port: int = 0
    path: LinkPath = "proxy"
    handed_off: int = 0

    @property
    def broken(self) -> bool:
        return self.state != "ok"

    def to_dict(self) -> LinkStatusJson:
        return {"node": self.node, "state": self.state, "delay_ms": self.delay_ms,
                "jitter_ms": self.jitter_ms, "connections": self.connections,
                "until": self.until, "port": self.port, "path": self.path,
                "handed_off": self.handed_off}

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> LinkStatus:
        state = str(obj["state"])
        if state not in LINK_STATES:
            raise ValueError(f"unknown link state {state!r}")
        until = obj.get("until")
        return cls(node=str(obj["node"]), state=state,
                   delay_ms=float(obj["delay_ms"]), jitter_ms=float(obj["jitter_ms"]),
                   connections=int(obj["connections"]),
                   until=float(until) if until is not None else None,
                   port=int(obj.get("port", 0)),
                   path="handoff" if obj.get("path") == "handoff" else "proxy",
                   handed_off=int(obj.get("handed_off", 0)))
