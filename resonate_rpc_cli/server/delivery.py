"""Routing of push messages to SSE listeners: unicast, anycast, and held messages.

Pure asyncio bookkeeping, no HTTP: :class:`Hub` knows which listeners are
connected per group and hands each outgoing message to exactly one of them.

* ``poll://uni@group/pid`` goes to that listener only.
* ``poll://any@group`` (optionally ``/pid`` preferred) goes to ONE live member
  of the group, round-robin across members.
* With no live recipient the message is *held* (bounded in count and age) and
  handed to the first matching listener that connects.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Address:
    """A parsed ``poll://`` delivery address."""

    anycast: bool
    group: str
    pid: str | None

    @classmethod
    def parse(cls, address: str) -> Address | None:
        """Parse ``poll://uni@g/p`` or ``poll://any@g[/p]``; ``None`` if malformed."""
        try:
            parts = urlsplit(address)
        except ValueError:
            return None
        if parts.scheme != "poll" or "@" not in parts.netloc:
            return None
        mode, _, group = parts.netloc.partition("@")
        pid = parts.path.lstrip("/") or None
        if not group or mode not in ("uni", "any"):
            return None
        if mode == "uni" and pid is None:
            return None
        return cls(anycast=mode == "any", group=group, pid=pid)


@dataclass
class Listener:
    """One connected SSE stream: a queue of encoded messages for one (group, pid)."""

    group: str
    pid: str
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    closed: bool = False


@dataclass
class Held:
    address: Address
    data: str
    at: float


class Hub:
    """Tracks listeners and delivers messages; holds what nobody can take yet."""

    def __init__(self, hold_max: int = 10_000, hold_age_s: float = 300.0) -> None:
        self.hold_max = hold_max
        self.hold_age_s = hold_age_s
        self.groups: dict[str, list[Listener]] = {}
        self.held: deque[Held] = deque()
        self.dropped = 0
        self._rr = itertools.count()

    def connect(self, listener: Listener) -> None:
        """Register a listener and hand it every held message addressed to it."""
        self.groups.setdefault(listener.group, []).append(listener)
        self._flush_held()

    def disconnect(self, listener: Listener, undelivered: list[str]) -> None:
        """Forget a listener; re-route messages it had queued but not written."""
        listener.closed = True
        members = self.groups.get(listener.group, [])
        if listener in members:
            members.remove(listener)
        while not listener.queue.empty():
            undelivered.append(listener.queue.get_nowait())
        for data in undelivered:
            self.deliver(Address(True, listener.group, None), data)

    def members(self, group: str) -> list[Listener]:
        return [m for m in self.groups.get(group, []) if not m.closed]

    def deliver(self, address: Address, data: str, now: float | None = None) -> bool:
        """Queue ``data`` for one listener; hold it if none can take it now."""
        target = self._pick(address)
        if target is not None:
            target.queue.put_nowait(data)
            return True
        self._hold(Held(address, data, now if now is not None else _now()))
        return False

    def _pick(self, address: Address) -> Listener | None:
        members = self.members(address.group)
        if address.pid is not None:
            for m in members:
                if m.pid == address.pid:
                    return m
            if not address.anycast:
                return None
        if not members:
            return None
        return members[next(self._rr) % len(members)]

    def _hold(self, held: Held) -> None:
        self.expire()
        self.held.append(held)
        while len(self.held) > self.hold_max:
            self.held.popleft()
            self.dropped += 1

    def expire(self, now: float | None = None) -> None:
        """Drop held messages older than the hold age."""
        now = now if now is not None else _now()
        while self.held and now - self.held[0].at > self.hold_age_s:
            self.held.popleft()
            self.dropped += 1

    def _flush_held(self) -> None:
        self.expire()
        keep: deque[Held] = deque()
        for h in self.held:
            target = self._pick(h.address)
            if target is None:
                keep.append(h)
            else:
                target.queue.put_nowait(h.data)
        self.held = keep

    def snapshot(self) -> dict[str, Any]:
        return {
            "listeners": {g: [m.pid for m in ms if not m.closed] for g, ms in self.groups.items()},
            "held": len(self.held),
            "dropped": self.dropped,
        }


def _now() -> float:
    return asyncio.get_running_loop().time()
