"""Answering a control request: apply it, and hold the answer until its effect is there.

:func:`answer` applies one request (``ping``, ``status``, ``down``, the fault
leases' ``fault.hold``, ``fault.release``, ``heal``, or one of
``operations.py``'s ``kill``, ``respawn``, ``scale``, where each operation and
its effect live) and returns its JSON-able result at once, or, when the
request carries ``wait_s`` and has an effect to wait for, a :class:`Waiting`
that the loop checks after every step until the effect is there (then it
answers with it) or ``wait_s`` has passed (then it answers with a
:class:`NotRunningError`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from resonate_rpc_cli.clients import jsonline
from resonate_rpc_cli.contracts.errors import NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.supervisor.control import Request, RequestArgs
from resonate_rpc_cli.supervisor.fault_heal import heal_now
from resonate_rpc_cli.supervisor.fault_leases import holder_alive, process_started
from resonate_rpc_cli.supervisor.manager import Supervisor
from resonate_rpc_cli.supervisor.operations import OPERATIONS, Effect
from resonate_rpc_cli.supervisor.rows import FaultRowJson, StatusDoc


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
            self.request.reply.set_result(jsonline.ok(result.to_dict()))
            return True
        if now >= self.deadline:
            self.request.reply.set_result(jsonline.refusal(NotRunningError(self.late(sup))))
            return True
        return False


def status(sup: Supervisor, since: int = 0) -> StatusDoc:
    """The ``status`` document (the wire format of ``SupervisorClient.status``)."""
    return {
        "supervisor_pid": os.getpid(),
        "config": sup.config.to_json(),
        "nodes": [row.to_dict() for row in sup.snapshot()],
        "all_ready": sup.all_ready(),
        "shutting_down": sup.shutting_down,
        "events": [e.to_dict() for e in sup.feed.since(since)],
        "targets": sup.kill_targets(),
        "faults": [row.to_dict() for row in sup.faults.rows(sup.clock.monotonic(), holder_alive)],
    }


def _hold(sup: Supervisor, args: RequestArgs) -> FaultRowJson:
    """``fault.hold``: register a fault lease (see ``fault_leases.py``); its row."""
    pid = args.get("holder_pid")
    holder_pid = int(pid) if pid is not None else None
    started = process_started(holder_pid) if holder_pid is not None else None
    if holder_pid is not None and started is None:
        raise UsageError(f"the holder pid {holder_pid} does not run")
    node = str(args["node"])
    if node not in sup.nodes:
        raise UsageError(f"unknown node {node!r}; valid: {', '.join(sup.nodes)}")
    lease = sup.faults.add(str(args["kind"]), node, holder=str(args.get("holder", "client")),
                           holder_pid=holder_pid, holder_started=started,
                           for_s=float(args["for_s"]), now=sup.clock.monotonic(),
                           wall=sup.clock.wall())
    return lease.row(sup.clock.monotonic(), True).to_dict()


def answer(sup: Supervisor, request: Request) -> Mapping[str, object] | Waiting:
    """Apply one control request; its result, or a :class:`Waiting` for its effect.

    Raises :class:`~resonate_rpc_cli.contracts.errors.RpcdemoError` (the
    supervisor's refusal, e.g. an unknown target) and ``KeyError``/``TypeError``/
    ``ValueError`` for a malformed request.
    """
    args = request.args
    if request.op == "ping":
        return {"pid": os.getpid(), "home": str(sup.home.root),
                "shutting_down": sup.shutting_down}
    if request.op == "status":
        return status(sup, int(args.get("since", 0)))
    if request.op == "fault.hold":
        return _hold(sup, args)
    if request.op == "fault.release":
        return {"released": sup.faults.release(int(args["id"])) is not None}
    if request.op == "heal":
        target, kinds = args.get("target"), args.get("kinds")
        healed = heal_now(sup, sup.faults, str(target) if target else None,
                          None if kinds is None else frozenset(map(str, kinds)))
        return {"healed": [h.to_dict() for h in healed]}
    if request.op == "down":
        sup.shutdown()
        return {"stopping": True, "pid": os.getpid()}
    operation = OPERATIONS.get(request.op)
    if operation is None:
        raise UsageError(f"unknown control op {request.op!r}")
    outcome = operation(sup, args)
    wait_s = float(args.get("wait_s", 0.0))
    if outcome.effect is None or wait_s <= 0:
        return outcome.result.to_dict()
    return Waiting(request, outcome.effect, time.monotonic() + wait_s,
                   lambda s: outcome.late(s, wait_s))


def reply(sup: Supervisor, request: Request) -> Waiting | None:
    """Answer ``request`` now, or return the :class:`Waiting` that will answer it."""
    try:
        result = answer(sup, request)
    except RpcdemoError as exc:
        request.reply.set_result(jsonline.refusal(exc))
        return None
    except (KeyError, TypeError, ValueError) as exc:
        request.reply.set_result(jsonline.refusal(UsageError(f"bad request: {exc}")))
        return None
    if isinstance(result, Waiting):
        return result
    request.reply.set_result(jsonline.ok(result))
    return None
