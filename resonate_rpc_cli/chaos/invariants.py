"""Server-side invariants, judged from the server's own transition journal.

The ledgers show a completed step run twice only after the fact and only for
steps that log; the embedded server's journal (server/journal.py,
``HOME/run/transitions.jsonl``) shows the cause. Two invariants, each a
failed verdict when broken:

* **one live lease per task** (:data:`LEASES`): a lease is granted (a
  ``grant`` line) while the task's previous lease has not ended (no line
  moving it out of ``acquired`` since), or a task moves from one holder to
  another without leaving ``acquired``;
* **a settled promise never changes** (:data:`SETTLED`): a promise settled
  twice with a different state or value, or a line marking a settled promise
  ``changed``.

Pure: :func:`violations` takes the journal's events; :func:`read_journal`
reads them (``None`` when the server kept none: the invariants are then
reported as not checked).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

LEASES = "one live lease per task"
SETTLED = "a settled promise never changes"


@dataclass(frozen=True)
class Violation:
    """One broken invariant: which, about what (a task or promise id), and how."""

    invariant: str
    subject: str
    detail: str


#: One line of the server's transition journal (``server/journal.py``): a task's lease
#: (``task``, ``grant``, ``from``/``to``, ``was``, ``pid``, ``version``) or a promise's
#: settle (``promise``, ``to``, ``value``, ``changed``), at ``t`` (ms).
JournalEvent = TypedDict("JournalEvent", {
    "t": int, "task": str, "promise": str, "grant": str, "pid": str | None,
    "version": int | None,
    "from": str, "to": str, "was": str | None, "value": object, "changed": bool,
}, total=False)


class InvariantCounts(TypedDict):
    """The report's ``invariants`` section."""

    checked: bool
    events: int
    two_live_leases: int
    settled_promise_changed: int


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


def violations(events: Iterable[JournalEvent]) -> list[Violation]:
    """Every moment the events break :data:`LEASES` or :data:`SETTLED`, in order."""
    live: dict[str, tuple[Any, Any]] = {}
    settled: dict[str, tuple[Any, Any]] = {}
    found: list[Violation] = []
    for e in events:
        if "task" in e:
            _lease_event(e, live, found)
        elif "promise" in e:
            _settle_event(e, settled, found)
    return found


def _lease_event(e: JournalEvent, live: dict[str, tuple[Any, Any]],
                 found: list[Violation]) -> None:
    task = str(e["task"])
    holder = (e.get("pid"), e.get("version"))
    if "grant" in e:
        if task in live:
            found.append(Violation(LEASES, task, (
                f"{task}: lease granted to {holder[0]} at version {holder[1]} at {e.get('t')} "
                f"while {live[task][0]}'s (version {live[task][1]}) was live")))
        live[task] = holder
    elif e.get("from") == "acquired" and e.get("to") != "acquired":
        live.pop(task, None)
    elif e.get("from") == e.get("to") == "acquired" and e.get("was") != e.get("pid"):
        found.append(Violation(LEASES, task, (
            f"{task}: lease moved from {e.get('was')} to {e.get('pid')} at {e.get('t')} "
            "without ending")))


def _settle_event(e: JournalEvent, settled: dict[str, tuple[Any, Any]],
                  found: list[Violation]) -> None:
    promise = str(e["promise"])
    now = (e.get("to"), e.get("value"))
    first = settled.setdefault(promise, now)
    if e.get("changed") or first != now:
        found.append(Violation(SETTLED, promise, (
            f"{promise}: settled {first[0]} ({first[1]}), then {now[0]} ({now[1]}) "
            f"at {e.get('t')}")))


def summary(events: list[JournalEvent] | None
            ) -> tuple[InvariantCounts, dict[str, list[str]]]:
    """The report's ``invariants`` section and the problem lists of :func:`violations`."""
    if events is None:
        return {"checked": False, "events": 0, "two_live_leases": 0,
                "settled_promise_changed": 0}, {}
    found = violations(events)
    leases = [v.detail for v in found if v.invariant == LEASES]
    changed = [v.detail for v in found if v.invariant == SETTLED]
    return ({"checked": True, "events": len(events), "two_live_leases": len(leases),
             "settled_promise_changed": len(changed)},
            {"two_live_leases": leases, "settled_promise_changed": changed})
