"""Why is a promise still pending? A pure diagnosis over :class:`~.facts.Facts`.

For each pending call (not local checkpoints or timers) :func:`diagnose` walks
down the call graph through pending children to the leaf that holds
everything up, and names one :class:`Cause` there:

* ``dead_holder``: the task is leased to a node whose process is gone; the
  lease lapses at ``expires`` (or failover releases it once a member is ready);
* ``paused_holder``: leased to a SIGSTOPped node, which renews nothing;
* ``no_live_member``: the task waits for a group with no working node; the
  command that starts one is given;
* ``failing``: the step started N times and never ended (it raises on every
  attempt); the last error line of the node's log and the log's path;
* ``partitioned``: the holder's network link (``rpcdemo net``) is cut;
* ``abandoned_fault``: the holder is paused, cut off or down by a fault whose
  holder (a chaos run that was killed) is gone; the supervisor heals it at
  once, ``rpcdemo heal NODE`` does it by hand;
* ``timed_out``: the promise's timeout has passed (the server settles it soon);
* ``unknown_holder``: leased to a node id the process table does not know
  (another HOME or host; nothing here can tell whether it is alive);
* ``slowed``: the holder's link is delayed (slow, not blocking);
* ``queued``: the task waits for delivery to a group that has live members;
* ``running``: leased to a live node; ``sleeping``: a durable timer;
* ``no_task``: nothing on the server executes it; ``unknown``: the server has
  no ``task.search``, so the holder cannot be known.

**Stuck** (the exit code's meaning): a blocking cause (the first six above),
or no progress for longer than ``stuck_after_s`` (a call created or settled
below the leaf, a lease handed over, a ledger line); a durable sleep is never
stuck. Nothing here does I/O; every input is in :class:`Facts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict

from resonate_rpc_cli.contracts import record
from resonate_rpc_cli.contracts.record import Record
from resonate_rpc_cli.observe.facts import (
    DEAD_STATES,
    WORKING_STATES,
    Attempts,
    Call,
    Facts,
    Lease,
    Member,
)

#: Causes that hold a flow up until someone acts (or a lease lapses), most severe first.
BLOCKING = ("timed_out", "abandoned_fault", "no_live_member", "dead_holder", "paused_holder",
            "partitioned", "failing")
#: Every cause, most severe first (a fan-out reports its worst branch).
SEVERITY = (*BLOCKING, "unknown_holder", "no_task", "unknown", "slowed", "queued", "running",
            "sleeping")
#: A step that started this often without ending keeps failing.
FAILING_STARTS = 2
MAX_DEPTH = 50


class CauseJson(TypedDict):
    kind: str
    text: str
    node: str | None
    os_pid: int | None
    lease_left_s: float | None
    attempts: int | None
    log: str | None
    error: str | None
    command: str | None


class HopJson(TypedDict):
    id: str
    call: str


class DiagnosisJson(TypedDict):
    """One diagnosis of ``doctor --json``."""

    promise_id: str
    call: str
    stuck: bool
    idle_s: float | None
    timeout_ms: int | None
    line: str
    path: list[HopJson]
    cause: CauseJson


class Cause(Record):
    """The reason at the leaf: ``kind`` (see the module doc) and one line of ``text``."""

    kind: str
    text: str
    node: str | None = None
    os_pid: int | None = None
    lease_left_s: float | None = None
    attempts: int | None = None
    log: str | None = None
    error: str | None = None
    command: str | None = None


class Hop(Record):
    """One call on the way down: its promise id and ``func@group``."""

    id: str
    call: str


class Diagnosis(Record):
    """One pending call, the path to its leaf (itself first) and the leaf's cause."""

    promise_id: str
    call: str
    path: tuple[Hop, ...]
    cause: Cause
    stuck: bool
    idle_s: float | None
    timeout_ms: int | None

    def line(self) -> str:
        """The one-line cause: ``waiting on X (f@g), which is waiting on ...: <cause>``."""
        waits = [f"waiting on {h.id} ({h.call})" for h in self.path[1:]]
        head = ", which is ".join(waits)
        return f"{head}: {self.cause.text}" if head else self.cause.text

    def short(self) -> str:
        """The cause with only the leaf named (for a tree, which shows the path itself)."""
        if len(self.path) == 1:
            return self.cause.text
        return f"at {self.path[-1].id} ({self.path[-1].call}): {self.cause.text}"

    def to_dict(self) -> DiagnosisJson:
        c = self.cause
        return {
            "promise_id": self.promise_id, "call": self.call, "stuck": self.stuck,
            "idle_s": None if self.idle_s is None else round(self.idle_s, 1),
            "timeout_ms": self.timeout_ms, "line": self.line(),
            "path": [{"id": h.id, "call": h.call} for h in self.path],
            "cause": {"kind": c.kind, "text": c.text, "node": c.node, "os_pid": c.os_pid,
                      "lease_left_s": c.lease_left_s, "attempts": c.attempts, "log": c.log,
                      "error": c.error, "command": c.command},
        }


def diagnose(facts: Facts, only: str | None = None) -> list[Diagnosis]:
    """A diagnosis per pending call (or just ``only``), roots first, then by creation."""
    children: dict[str, list[Call]] = {}
    for c in facts.calls.values():
        if c.parent is not None and c.state == "pending":
            children.setdefault(c.parent, []).append(c)
    doctor = _Doctor(facts, children)
    calls = [c for c in facts.calls.values() if c.state == "pending" and c.kind == "call"]
    if only is not None:
        calls = [c for c in calls if c.id == only]
    calls.sort(key=lambda c: (c.parent is not None, c.created_ms or 0, c.id))
    return [doctor.diagnosis(c) for c in calls]


def stuck_count(diagnoses: list[Diagnosis]) -> int:
    return sum(1 for d in diagnoses if d.stuck)


class _Doctor:
    def __init__(self, facts: Facts, children: Mapping[str, list[Call]]) -> None:
        self.f = facts
        self.children = children
        #: parent id -> when each settled child settled (progress marks)
        self.settled: dict[str, list[int | None]] = {}
        for c in facts.calls.values():
            if c.parent is not None and c.state != "pending":
                self.settled.setdefault(c.parent, []).append(c.settled_ms)

    def diagnosis(self, call: Call) -> Diagnosis:
        path, cause, leaf = self.walk(call, 0)
        idle = self.idle_s(leaf)
        stuck = cause.kind in BLOCKING or (
            cause.kind != "sleeping" and idle is not None and idle > self.f.stuck_after_s)
        if stuck and cause.kind not in BLOCKING and idle is not None:
            cause = _replace_text(cause, f"{cause.text}; no progress for {idle:.0f} s")
        return Diagnosis(call.id, call.label, path, cause, stuck, idle, call.timeout_ms)

    def walk(self, call: Call, depth: int) -> tuple[tuple[Hop, ...], Cause, Call]:
        """(path from ``call`` to its leaf, the leaf's cause, the leaf)."""
        hop = Hop(call.id, call.label)
        kids = self.children.get(call.id, [])
        timers = [k for k in kids if k.kind == "sleep"]
        remote = [k for k in kids if k.kind == "call"]
        if depth < MAX_DEPTH and remote:
            options = [self.walk(k, depth + 1) for k in remote]
            path, cause, leaf = min(options, key=lambda o: SEVERITY.index(o[1].kind))
            return (hop, *path), cause, leaf
        if timers:
            return (hop,), self.sleeping(timers[0]), call
        return (hop,), self.at_leaf(call), call

    def idle_s(self, leaf: Call) -> float | None:
        marks = [leaf.created_ms]
        marks += [k.created_ms for k in self.children.get(leaf.id, [])]
        marks += self.settled.get(leaf.id, [])
        lease = (self.f.leases or {}).get(leaf.id)
        if lease is not None:
            marks.append(lease.changed_ms)
        att = (self.f.attempts or {}).get(leaf.id)
        if att is not None:
            marks.append(int(att.last_ts * 1000))
        known = [m for m in marks if m is not None]
        return max(0.0, (self.f.now_ms - max(known)) / 1000) if known else None

    # -- the leaf ----------------------------------------------------------------------

    def at_leaf(self, call: Call) -> Cause:
        if call.timeout_ms is not None and self.f.now_ms >= call.timeout_ms:
            return Cause("timed_out", f"its timeout passed {_ago(self.f.now_ms, call.timeout_ms)}"
                         " ago; the server rejects it as timed out at its next tick")
        if self.f.leases is None:
            return Cause("unknown", "the server offers no task.search: who holds it cannot be "
                         "known here")
        lease = self.f.leases.get(call.id)
        if lease is None or lease.state in ("fulfilled", "halted"):
            return Cause("no_task", "no task executes it on the server (created by hand, or "
                         "awaited from outside a flow)")
        if lease.state == "acquired" and lease.pid is not None:
            return self.held(call, lease)
        return self.waiting(call, lease)

    def sleeping(self, timer: Call) -> Cause:
        left = _left_s(self.f.now_ms, timer.timeout_ms)
        when = f"{left:.1f} s" if left is not None else "an unknown time"
        return Cause("sleeping", f"a durable sleep ({timer.id}) wakes it in {when}")

    def abandoned(self, member: Member, what: str, left: float | None) -> Cause | None:
        """The cause when ``member`` is ``what`` (paused, cut off) by a fault whose holder is
        gone; None when no such fault holds it."""
        fault = self.f.faults.get(member.name)
        if fault is None or fault.holder_alive:
            return None
        return Cause("abandoned_fault", f"its task is held by {member.name}, {what} by a "
                     f"{fault.kind} fault whose holder {fault.who()} is gone; the supervisor "
                     f"heals it at once (its lease ends in {fault.left_s:.0f} s at the latest)",
                     member.name, member.os_pid, left,
                     command=f"{self.f.command} heal {member.name}")

    def held(self, call: Call, lease: Lease) -> Cause:
        left = _left_s(self.f.now_ms, lease.expires_ms)
        lapse = (f"the lease lapses in {left:.1f} s" if left is not None
                 else "the lease lapses after its TTL (this server does not say when)")
        if self.f.members is None:
            return Cause("unknown_holder", f"its task is held by node id {lease.pid}; no process "
                         f"table for this server, so whether it lives is unknown; {lapse}",
                         lease_left_s=left)
        member, current = _member_of(self.f.members, str(lease.pid))
        if member is None:
            return Cause("unknown_holder", f"its task is held by node id {lease.pid}, which is "
                         "not in this topology's process table (another HOME or host, or a "
                         f"retired node); {lapse}", lease_left_s=left)
        who = f"{member.name} (pid {member.os_pid or '-'})"
        if not current or member.state in DEAD_STATES:
            return self.dead(call, member, who, lapse, left)
        if member.state == "paused":
            abandoned = self.abandoned(member, "paused", left)
            if abandoned is not None:
                return abandoned
            return Cause("paused_holder", f"its task is held by {who}, which is paused "
                         f"(SIGSTOP) and renews nothing: {lapse}", member.name, member.os_pid,
                         left, command=f"{self.f.command} kill {member.name} --signal CONT")
        return self.live_holder(call, member, who, left)

    def dead(self, call: Call, member: Member, who: str, lapse: str,
             left: float | None) -> Cause:
        live = _working(self.f.members or (), call.group)
        then = (f"then a live member of {call.group} takes it (at once when rpcdemo's "
                "failover releases it, on its own server)" if live
                else f"then nothing takes it: {call.group} has no live member")
        return Cause("dead_holder", f"its task is held by {who}, which is dead: {lapse}; {then}",
                     member.name, member.os_pid, left,
                     command=None if live else self.start_command(call.group))

    def live_holder(self, call: Call, member: Member, who: str, left: float | None) -> Cause:
        link = (self.f.links or {}).get(member.name)
        if link is not None and link.state in ("partitioned", "delayed"):
            abandoned = self.abandoned(member, f"{link.state} from the server", left)
            if abandoned is not None:
                return abandoned
            kind, how = ("partitioned", "partitioned from the server") \
                if link.state == "partitioned" else ("slowed", f"slowed by {link.delay_ms:.0f} ms")
            return Cause(kind, f"its task is held by {who}, whose network link is {how}",
                         member.name, member.os_pid, left,
                         command=f"{self.f.command} net heal {member.name}")
        att = (self.f.attempts or {}).get(call.id)
        if att is not None and att.starts >= FAILING_STARTS and att.ends == 0:
            log, line = self.f.errors.get(att.node, (member.log or "", ""))
            last = f": {line}" if line else ""
            return Cause("failing", f"attempted {att.starts} times on {att.node} and keeps "
                         f"failing{last} (log {log})", member.name, member.os_pid, left,
                         attempts=att.starts, log=log or None, error=line or None)
        doing = f"step attempt {att.starts}" if att is not None and att.ends == 0 else "running"
        return Cause("running", f"{doing} on {who}, alive", member.name, member.os_pid, left,
                     attempts=att.starts if att is not None else None)

    def waiting(self, call: Call, lease: Lease) -> Cause:
        group = call.group or "?"
        if self.f.members is None:
            return Cause("queued", f"its task waits for a node of {group} (no process table "
                         "for this server: whether one runs is unknown)")
        if self.f.local_groups is not None and group not in self.f.local_groups:
            return Cause("queued", f"its task waits for a node of {group}, which this HOME "
                         "does not run: whether one is up elsewhere cannot be known here")
        since = _handed_back(lease, self.f.now_ms)
        if _working(self.f.members, call.group):
            return Cause("queued", f"its task waits for delivery to a live node of {group} "
                         f"(re-sent every 30 s until one takes it){since}")
        why = _why_none(self.f.members, group)
        return Cause("no_live_member", f"target group {group} has no live member ({why}): "
                     f"nothing takes it until one starts{since}",
                     command=self.start_command(group))

    def start_command(self, group: str | None) -> str:
        members = [m for m in self.f.members or () if m.group == group]
        if any(m.state == "paused" for m in members):
            return f"{self.f.command} kill {group} --signal CONT"
        if members:
            return f"{self.f.command} respawn {group}"
        return f"{self.f.command} scale {group} 1"


def _member_of(members: Sequence[Member], node_id: str) -> tuple[Member | None, bool]:
    """The slot whose current (True) or past (False) incarnation had ``node_id``."""
    for m in members:
        if m.node_id == node_id:
            return m, True
    for m in members:
        if node_id in m.past_ids:
            return m, False
    return None, False


def _working(members: Sequence[Member], group: str | None) -> bool:
    return any(m.group == group and m.state in WORKING_STATES for m in members)


def _why_none(members: Sequence[Member], group: str) -> str:
    states = sorted({m.state for m in members if m.group == group})
    return "scaled to 0" if not states else "all " + "/".join(states)


def _handed_back(lease: Lease, now_ms: int) -> str:
    """``; its last holder's lease lapsed 3.1 s ago`` (or was released by failover), or ''."""
    how = {"lapse": "lapsed", "release": "was released by failover"}.get(lease.changed_by or "")
    if how is None or lease.changed_ms is None:
        return ""
    return f"; its last holder's lease {how} {_ago(now_ms, lease.changed_ms)} ago"


def _left_s(now_ms: int, at_ms: int | None) -> float | None:
    return None if at_ms is None else max(0.0, (at_ms - now_ms) / 1000)


def _ago(now_ms: int, at_ms: int) -> str:
    return f"{(now_ms - at_ms) / 1000:.1f} s"


def _replace_text(cause: Cause, text: str) -> Cause:
    return record.replace(cause, text=text)


def attempts_of(entries: list[tuple[str, str, float, str]]) -> dict[str, Attempts]:
    """``(promise_id, phase, ts, node)`` ledger lines → :class:`Attempts` per promise."""
    out: dict[str, Attempts] = {}
    for promise_id, phase, ts, node in entries:
        a = out.get(promise_id, Attempts(0, 0, 0.0, node))
        starts = a.starts + (phase == "start")
        ends = a.ends + (phase == "end")
        out[promise_id] = Attempts(starts, ends, max(a.last_ts, ts),
                                   node if phase == "start" else a.node)
    return out
