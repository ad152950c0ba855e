"""The transition journal: an append-only JSONL of every lease and every settlement.

Kept when asked (``--journal PATH``; the supervisor asks for the embedded
server of every topology, ``HOME/run/transitions.jsonl``), so the chaos
checker can judge two server-side invariants from the server's own record
rather than from the nodes' ledgers (chaos/measures.py):

* one task never has two live leases at once;
* a settled promise never changes.

One JSON object a line, ``t`` the server's wall clock in ms:

* ``{"t", "task", "version", "pid", "grant": kind}``: a request (``task.acquire``
  or ``task.create``) was answered with a lease, held by ``pid`` at ``version``;
  written for every granted lease, also one that changed nothing (the
  idempotent re-acquire of before issue 18 would show as a second grant);
* ``{"t", "task", "version", "from", "to", "pid", "was"}``: a task's state,
  version or holder changed (``was``: the holder before, ``pid`` after);
* ``{"t", "promise", "from", "to", "value"}``: a promise left ``pending`` (or
  was created settled), or a settled one changed; ``value`` is a digest of
  its value.

Lines are written after the operation and flushed once per operation; they are
not fsync'd (a record for tests and chaos runs, not a store). A write failure
turns the journal off with one log line: it never stops the server. The journal
is bounded: past :data:`MAX_BYTES` the file moves to ``PATH.1`` (replacing the one
before) and a new one starts, so a topology left running for days keeps at most
twice that on disk; :func:`rotated_path` names the older half for readers.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, NotRequired, TypedDict

import msgspec
from resonate.connections.local import DurablePromise, Task

log = logging.getLogger("rpcdemo.server")

_json = msgspec.json.Encoder()

#: Size past which the journal moves to ``PATH.1`` and starts afresh (about 400k events).
MAX_BYTES = 64 * 1024 * 1024


class GrantEvent(TypedDict):
    """A lease handed out: ``grant`` the request kind."""

    t: int
    task: str
    version: int
    pid: str | None
    grant: str


#: A task's state, version or holder changed (``from`` is a keyword: functional form).
TaskEvent = TypedDict("TaskEvent", {"t": int, "task": str, "version": int,
                                    "from": str | None, "to": str, "pid": str | None,
                                    "was": str | None})
#: A promise left pending, or a settled one changed (``changed``).
PromiseEvent = TypedDict("PromiseEvent", {"t": int, "promise": str, "from": str | None,
                                          "to": str, "value": str,
                                          "changed": NotRequired[bool]})


def rotated_path(path: Path) -> Path:
    """Where the older half of the journal at ``path`` lives once it rotated."""
    return path.with_name(path.name + ".1")


def digest(value: Any) -> str:
    """A short digest of a promise value (its JSON, keys sorted)."""
    raw = msgspec.json.encode(value, order="sorted")
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


class TransitionJournal:
    """Collects an operation's before-images and appends its transitions to ``path``."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out: IO[bytes] | None = path.open("ab")
        self._tasks: dict[str, tuple[int, str | None]] = {}
        self._settled: dict[str, tuple[str, str]] = {}
        self._lines: list[bytes] = []

    # -- before-images (called on a record's first touch in an operation) --------

    def before_task(self, t: Task) -> None:
        self._tasks[t.id] = (t.version, t.pid)

    def before_promise(self, p: DurablePromise) -> None:
        if p.state != "pending":
            self._settled[p.id] = (p.state, digest(p.value))

    # -- after an operation --------------------------------------------------------

    def changes(self, promises: dict[str, DurablePromise],
                before_promises: dict[str, str | None], tasks: dict[str, Task],
                before_tasks: dict[str, str | None]) -> None:
        """Note what one operation changed: the state's records now, and the states the
        operation's touched records had before it (``TrackedDict.take_touched``)."""
        now = int(time.time() * 1000)
        for tid, before in before_tasks.items():
            version, was = self._tasks.pop(tid, (None, None))
            t = dict.get(tasks, tid)
            if t is None:
                continue
            if before != t.state or version != t.version or was != t.pid:
                self._add({"t": now, "task": tid, "version": t.version, "from": before,
                           "to": t.state, "pid": t.pid, "was": was})
        for pid, before in before_promises.items():
            settled = self._settled.pop(pid, None)
            p = dict.get(promises, pid)
            if p is None or p.state == "pending":
                continue
            if before in (None, "pending"):
                self._add({"t": now, "promise": pid, "from": before, "to": p.state,
                           "value": digest(p.value)})
            elif settled is not None and settled != (p.state, digest(p.value)):
                self._add({"t": now, "promise": pid, "from": before, "to": p.state,
                           "value": digest(p.value), "changed": True})
        self._tasks.clear()
        self._settled.clear()

    def granted(self, kind: str, task: Mapping[str, Any] | None) -> None:
        """Note the task record of a successful ``task.acquire``/``task.create`` response
        (flat or in the wire's shape): a lease handed out if it is ``acquired``."""
        if task is None or task["state"] != "acquired":
            return
        self._add({"t": int(time.time() * 1000), "task": task["id"],
                   "version": task["version"], "pid": task.get("pid"), "grant": kind})

    def flush(self) -> None:
        """Append what the last operation(s) noted."""
        if not self._lines or self._out is None:
            self._lines.clear()
            return
        try:
            self._out.write(b"".join(self._lines))
            self._out.flush()
            if self._out.tell() > self.max_bytes:
                self._rotate()
        except OSError as exc:
            log.error("transition journal %s failed, turned off: %s", self.path, exc)
            self._out = None
        self._lines.clear()

    def _rotate(self) -> None:
        """Move the full journal to ``PATH.1`` and start a new one (OSError: the caller's)."""
        assert self._out is not None
        self._out.close()
        self.path.replace(rotated_path(self.path))
        self._out = self.path.open("ab")

    def close(self) -> None:
        self.flush()
        if self._out is not None:
            self._out.close()
            self._out = None

    def _add(self, event: GrantEvent | TaskEvent | PromiseEvent) -> None:
        self._lines.append(_json.encode(event) + b"\n")


class Images:
    """The before-images of what one fast-path request changes (``server/fastpath.py``),
    handed to :meth:`TransitionJournal.changes` as the general path's touches are, so a
    journal reads the same whichever path served the request. Without a journal every
    call is a no-op."""

    __slots__ = ("journal", "promises", "tasks")

    def __init__(self, journal: TransitionJournal | None) -> None:
        self.journal = journal
        self.promises: dict[str, str | None] = {}
        self.tasks: dict[str, str | None] = {}

    def task(self, t: Task) -> None:
        """``t`` is about to change (call before the first change)."""
        if self.journal is not None and t.id not in self.tasks:
            self.tasks[t.id] = t.state
            self.journal.before_task(t)

    def promise(self, p: DurablePromise) -> None:
        """``p`` is about to change (call before the first change)."""
        if self.journal is not None and p.id not in self.promises:
            self.promises[p.id] = p.state
            self.journal.before_promise(p)

    def created(self, promise_id: str, *, with_task: bool) -> None:
        """A promise (and its task) that did not exist before this request."""
        if self.journal is not None:
            self.promises.setdefault(promise_id, None)
            if with_task:
                self.tasks.setdefault(promise_id, None)

    def close(self, promises: dict[str, DurablePromise], tasks: dict[str, Task]) -> None:
        """The request is applied: journal what it changed."""
        if self.journal is not None and (self.promises or self.tasks):
            self.journal.changes(promises, self.promises, tasks, self.tasks)
