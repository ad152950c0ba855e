"""Routing of push messages to SSE listeners: unicast, anycast, and held messages.

Pure asyncio bookkeeping, no HTTP: :class:`Hub` knows which listeners are
connected per group and hands each outgoing message to exactly one of them.

* ``poll://uni@group/pid`` goes to that listener only.
* ``poll://any@group`` (optionally ``/pid`` preferred) goes to ONE live member
  of the group, round-robin across members.
* With no live recipient the message is *held* (bounded in count and age) and
  handed to the first matching listener that connects, except ``execute``
  messages (:attr:`Push.task_id` set): those are not held, because the server
  re-sends ``execute`` for every pending task of a group from its state when a
  member connects, which is never stale and survives a restart.
* Messages queued on a listener that disconnects go back through routing with
  their original address: anycast to another member, unicast held until that
  pid reconnects (e.g. after a stream is recycled).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple, TypedDict
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Address:
    """A parsed ``poll://`` delivery address."""

    anycast: bool
    group: str
    pid: str | None

    @classmethod
    def parse(cls, address: str) -> Address | None:
        """Parse ``poll://uni@g/p`` or ``poll://any@g[/p]``; ``None`` if malformed (cached)."""
        return _parse(address)

    @classmethod
    def _parse(cls, address: str) -> Address | None:
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


class Push(NamedTuple):
    """One encoded message for an address; ``task_id`` is set for ``execute`` messages
    (a tuple: one is made per message pushed, at a third of a frozen dataclass's cost)."""

    address: Address
    data: str
    task_id: str | None = None


@dataclass(eq=False)
class Listener:
    """One connected SSE stream: a queue of messages for one (group, pid)."""

    group: str
    pid: str
    queue: asyncio.Queue[Push] = field(default_factory=asyncio.Queue)
    closed: bool = False


@dataclass
class Held:
    push: Push
    at: float


class Hub:
    """Tracks listeners and delivers messages; holds what nobody can take yet."""

    def __init__(self, hold_max: int = 10_000, hold_age_s: float = 300.0) -> None:
        self.hold_max = hold_max
        self.hold_age_s = hold_age_s
        self.groups: dict[str, list[Listener]] = {}
        self.held: deque[Held] = deque()
        self.dropped = 0
        #: How many times each pid has connected (streams are recycled, so this grows).
        self.connects: dict[str, int] = {}
        self._rr = itertools.count()

    def connect(self, listener: Listener, now: float | None = None) -> None:
        """Register a listener and hand it every held message addressed to it."""
        self.groups.setdefault(listener.group, []).append(listener)
        self.connects[listener.pid] = self.connects.get(listener.pid, 0) + 1
        self._flush_held(now)

    def disconnect(
        self, listener: Listener, unwritten: list[Push], now: float | None = None
    ) -> list[tuple[Push, Listener | None]]:
        """Forget a listener; re-route what it had queued (and ``unwritten``) by address.

        Returns each re-routed message with the listener it went to (``None``:
        held, or dropped for an ``execute``).
        """
        listener.closed = True
        members = self.groups.get(listener.group, [])
        if listener in members:
            members.remove(listener)
        if not members:
            self.groups.pop(listener.group, None)
        while not listener.queue.empty():
            unwritten.append(listener.queue.get_nowait())
        return [(push, self.deliver(push, now)) for push in unwritten]

    def listeners_of(self, pid: str) -> list[Listener]:
        """Every open listener of the process ``pid`` (in any group)."""
        return [m for ms in self.groups.values() for m in ms if m.pid == pid and not m.closed]

    def members(self, group: str) -> list[Listener]:
        return [m for m in self.groups.get(group, []) if not m.closed]

    def deliver(self, push: Push, now: float | None = None) -> Listener | None:
        """Queue ``push`` for one listener and return it; hold (or drop) it if none can take it."""
        target = self.pick(push.address)
        if target is not None:
            target.queue.put_nowait(push)
            return target
        if push.task_id is None:
            self._hold(Held(push, now if now is not None else _now()))
        return None

    def send_to(self, listener: Listener, push: Push) -> None:
        """Queue ``push`` for exactly ``listener`` (e.g. a re-sent ``execute``)."""
        listener.queue.put_nowait(push)

    def pick(self, address: Address) -> Listener | None:
        """The listener a message for ``address`` goes to now, or ``None``."""
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
        self.expire(held.at)
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

    def _flush_held(self, now: float | None) -> None:
        self.expire(now)
        keep: deque[Held] = deque()
        for h in self.held:
            target = self.pick(h.push.address)
            if target is None:
                keep.append(h)
            else:
                target.queue.put_nowait(h.push)
        self.held = keep

    def snapshot(self) -> HubSnapshot:
        return {
            "listeners": self.listener_pids(),
            "held": len(self.held),
            "dropped": self.dropped,
        }

    def listener_pids(self) -> dict[str, list[str]]:
        return {g: [m.pid for m in ms if not m.closed] for g, ms in self.groups.items() if ms}


class HubSnapshot(TypedDict):
    """Who listens per group, how many messages are held, how many were dropped."""

    listeners: dict[str, list[str]]
    held: int
    dropped: int


@functools.lru_cache(maxsize=4096)
def _parse(address: str) -> Address | None:
    return Address._parse(address)


def _now() -> float:
    return asyncio.get_running_loop().time()
