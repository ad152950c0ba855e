"""What each control request does to the supervisor, and the effect it answers with.

:func:`answer` applies one request (``ping``, ``status``, ``kill``,
``respawn``, ``scale``, ``down``) and returns its JSON-able result at once,
or, when the request carries ``wait_s`` and has an effect to wait for, a
:class:`Waiting` that the loop checks after every step until the effect is
there (then it answers with it) or ``wait_s`` has passed (then it answers with
a :class:`NotRunningError`). The effects: ``kill`` with ``respawn``: the new
incarnations run (``"respawned": [{"name", "pid", "node_id"}]``); ``respawn``:
likewise (``"running"``); ``scale``: the group has exactly ``count`` ready
nodes and none retiring (``"nodes"``: their status rows).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resonate_rpc_cli.contracts.errors import NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.supervisor.control import Request
from resonate_rpc_cli.supervisor.manager import Supervisor
from resonate_rpc_cli.supervisor.rows import NodeRow
from resonate_rpc_cli.supervisor.states import NodeState

#: Checks the supervisor for a request's effect: the answer once it is there, else None.
Effect = Callable[[Supervisor], dict[str, Any] | None]


@dataclass
class Waiting:
    """A request whose answer waits for its effect (see the module docstring)."""

    request: Request
    effect: Effect
    deadline: float
    #: the error message once the deadline has passed
    late: Callable[[Supervisor], str]

    def settle(self, sup: Supervisor, now: float) -> bool:
        """Answer the request if its effect is there or its time is up; whether it did."""
        result = self.effect(sup)
        if result is not None:
            self.request.reply.set_result({"ok": True, "result": result})
            return True
        if now >= self.deadline:
            error = NotRunningError(self.late(sup))
            self.request.reply.set_result({"ok": False, "error": str(error),
                                           "status": int(error.status)})
            return True
        return False


def status(sup: Supervisor, since: int = 0) -> dict[str, Any]:
    """The ``status`` document (the wire format of ``SupervisorClient.status``)."""
    return {
        "supervisor_pid": os.getpid(),
        "config": sup.config.to_json(),
        "nodes": [row.to_dict() for row in sup.snapshot()],
        "all_ready": sup.all_ready(),
        "shutting_down": sup.shutting_down,
        "events": [e.to_dict() for e in sup.feed.since(since)],
        "targets": sup.targets(),
    }


#: A command's result, the effect to wait for (None: nothing to wait for), and the
#: message when it does not come within ``wait_s`` seconds.
Outcome = tuple[dict[str, Any], Effect | None, Callable[[Supervisor, float], str]]


@dataclass(frozen=True)
class _Incarnations:
    """Waits for new incarnations of ``names`` (newer than ``before``) to run."""

    names: list[str]
    before: dict[str, int]

    def fresh(self, sup: Supervisor) -> list[dict[str, Any]]:
        nodes = [sup.nodes.get(name) for name in self.names]
        return [{"name": n.label, "pid": n.pid, "node_id": n.node_id or None} for n in nodes
                if n is not None and n.incarnation > self.before.get(n.label, 0) and n.pid]

    def effect(self, doc: dict[str, Any], key: str) -> Effect:
        def check(sup: Supervisor) -> dict[str, Any] | None:
            fresh = self.fresh(sup)
            return {**doc, key: fresh} if len(fresh) == len(self.names) else None

        return check

    def late(self, sup: Supervisor, wait_s: float) -> str:
        done = {row["name"] for row in self.fresh(sup)}
        late = sorted(set(self.names) - done)
        return f"not respawned within {wait_s:g}s: {', '.join(late)}"


def _incarnations(sup: Supervisor) -> dict[str, int]:
    return {n.label: n.incarnation for n in sup.nodes.values()}


def _kill(sup: Supervisor, args: dict[str, Any]) -> Outcome:
    count = args.get("count")
    before = _incarnations(sup)
    result = sup.kill(
        str(args["target"]), str(args.get("signal", "KILL")),
        count=int(count) if count is not None else None,
        respawn=bool(args.get("respawn", False)),
        respawn_after_s=float(args.get("respawn_after", 0.0)),
    )
    doc = {"killed": result.killed, "respawn_pending": result.respawn_pending}
    waited = _Incarnations(result.respawn_pending, before)
    return doc, waited.effect(doc, "respawned") if waited.names else None, waited.late


def _respawn(sup: Supervisor, args: dict[str, Any]) -> Outcome:
    before = _incarnations(sup)
    doc: dict[str, Any] = {"respawned": sup.respawn(str(args["target"]))}
    waited = _Incarnations(doc["respawned"], before)
    return doc, waited.effect(doc, "running"), waited.late


def _scale(sup: Supervisor, args: dict[str, Any]) -> Outcome:
    group, count = str(args["group"]), int(args["count"])
    doc = sup.scale(group, count)

    def rows(s: Supervisor) -> list[NodeRow]:
        return [r for r in s.snapshot() if r.group == group]

    def effect(s: Supervisor) -> dict[str, Any] | None:
        nodes = rows(s)
        if len(nodes) != count or any(r.state != NodeState.READY for r in nodes):
            return None
        return {**doc, "nodes": [r.to_dict() for r in nodes]}

    def late(s: Supervisor, wait_s: float) -> str:
        seen = ", ".join(f"{r.name} {r.state}" for r in rows(s)) or "no nodes"
        return f"{group} did not reach {count} ready node(s) within {wait_s:g}s ({seen})"

    return doc, effect, late


_COMMANDS = {"kill": _kill, "respawn": _respawn, "scale": _scale}


def answer(sup: Supervisor, request: Request) -> dict[str, Any] | Waiting:
    """Apply one control request; its result, or a :class:`Waiting` for its effect.

    Raises :class:`~resonate_rpc_cli.contracts.errors.RpcdemoError` (the
    supervisor's refusal, e.g. an unknown target) and ``KeyError``/``TypeError``/
    ``ValueError`` for a malformed request.
    """
    args = request.args
    if request.op == "ping":
        return {"pid": os.getpid(), "home": str(sup.home.root)}
    if request.op == "status":
        return status(sup, int(args.get("since", 0)))
    if request.op == "down":
        sup.shutdown()
        return {"stopping": True, "pid": os.getpid()}
    command = _COMMANDS.get(request.op)
    if command is None:
        raise UsageError(f"unknown control op {request.op!r}")
    doc, effect, late = command(sup, args)
    wait_s = float(args.get("wait_s", 0.0))
    if effect is None or wait_s <= 0:
        return doc
    return Waiting(request, effect, time.monotonic() + wait_s,
                   lambda s: late(s, wait_s))


def reply(sup: Supervisor, request: Request) -> Waiting | None:
    """Answer ``request`` now, or return the :class:`Waiting` that will answer it."""
    try:
        result = answer(sup, request)
    except RpcdemoError as exc:
        request.reply.set_result({"ok": False, "error": str(exc), "status": int(exc.status)})
        return None
    except (KeyError, TypeError, ValueError) as exc:
        bad = UsageError(f"bad request: {exc}")
        request.reply.set_result({"ok": False, "error": str(bad), "status": int(bad.status)})
        return None
    if isinstance(result, Waiting):
        return result
    request.reply.set_result({"ok": True, "result": result})
    return None
