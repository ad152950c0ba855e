"""The workload: flows sent to the gateway over plain HTTP, every attempt in the history.

``concurrency`` worker threads take flows from a :class:`~.supply.FlowSupply`
(closed loop: a worker's next flow starts when its last one ended). Each attempt is an
``invoke`` followed by ``ok`` (200 with the answer), ``fail`` (a 4xx: a
definite refusal) or ``info`` (anything else: connection refused or reset,
5xx, 504, a timeout, a body that is not the gateway's JSON). After ``info``
the same promise id is re-sent — the seed's reconnect — with a short backoff,
until it settles or the deadline passes. "Settles" includes the server saying
the root promise is no longer pending (when ``server_url`` is given): the
gateway's answer is then not needed to know the outcome, and the checker
reads the value from the server.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resonate_rpc_cli.backends import read_client
from resonate_rpc_cli.chaos.history import History, OpType
from resonate_rpc_cli.chaos.supply import FlowPlan, FlowSupply, plan_flows
from resonate_rpc_cli.clients.http import exchange
from resonate_rpc_cli.clients.protocol import ProtocolError, ServerUnreachable
from resonate_rpc_cli.contracts.flows import flow_named

__all__ = ["FlowPlan", "FlowSupply", "Outcome", "Workload", "plan_flows", "post_flow"]


@dataclass(frozen=True)
class Outcome:
    """How one HTTP attempt ended: an op type, and the value or error."""

    type: OpType
    value: Any = None
    error: str | None = None


def post_flow(gateway_url: str, plan: FlowPlan, timeout_s: float) -> Outcome:
    """POST one flow to the gateway and classify the answer (never raises)."""
    route = flow_named(plan.flow).route
    body = json.dumps({"id": plan.promise_id, "arg": plan.arg}).encode()
    try:
        status, raw = exchange("POST", gateway_url.rstrip("/") + route, body, timeout_s)
    except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out
        reason = getattr(exc, "reason", exc)
        return Outcome("info", error=f"{type(exc).__name__}: {reason}")
    text = raw.decode("utf-8", "replace")
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if status == 200 and isinstance(obj, dict) and "message" in obj:
        return Outcome("ok", value=obj["message"])
    detail = obj.get("error") if isinstance(obj, dict) else text[:200]
    if 400 <= status < 500 and status not in (408, 429):
        return Outcome("fail", error=f"HTTP {status}: {detail}")
    return Outcome("info", error=f"HTTP {status}: {detail}")


class Workload:
    """Runs flows from a :class:`~.supply.FlowSupply` against the gateway (or through
    ``send``); see the module docstring.

    ``concurrency`` workers each take a flow, run it to an outcome, take the
    next, until the supply says no more (its stop rule). ``deadline`` is a
    ``time.monotonic()`` instant: no attempt starts after it, and an attempt
    in flight is cut at it. ``stop`` ends the run early; ``abandon`` also
    leaves the flows in flight behind (a run that ends early).
    """

    def __init__(
        self,
        gateway_url: str,
        supply: FlowSupply,
        *,
        concurrency: int,
        history: History,
        deadline: float,
        request_timeout_s: float = 30.0,
        server_url: str | None = None,
        abandon: threading.Event | None = None,
        send: Callable[[FlowPlan, float], Outcome] | None = None,
    ) -> None:
        self.gateway_url = gateway_url
        #: how one attempt is made (default: POST to the seed's gateway; a declared
        #: topology's flows: ``declared.flow_sender``)
        self.send = send or (lambda plan, timeout_s: post_flow(gateway_url, plan, timeout_s))
        self.supply = supply
        self.concurrency = max(1, concurrency)
        self.history = history
        self.deadline = deadline
        self.request_timeout_s = request_timeout_s
        self.server = read_client(server_url, timeout_s=2.0) if server_url else None
        self.stop = threading.Event()
        #: once set, :meth:`run` returns without waiting for the flows in flight
        self.abandon = abandon or threading.Event()
        self.done = 0
        self._lock = threading.Lock()

    def run(self) -> None:
        """Run until the supply runs dry (or the deadline, or ``stop``); flows in flight finish."""
        threads = [
            threading.Thread(target=self._worker, args=(n,), name=f"chaos-worker-{n}",
                             daemon=True)
            for n in range(self.concurrency)
        ]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive() and not self.abandon.is_set():
                t.join(0.1)

    def _worker(self, process: int) -> None:
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            plan = self.supply.take(self.stop)
            if plan is None:
                return
            self._run_flow(process, plan)
            with self._lock:
                self.done += 1

    def _settled_on_server(self, promise_id: str) -> bool:
        """Whether the root promise already settled (then re-sending is pointless)."""
        if self.server is None:
            return False
        try:
            record = self.server.promise_get(promise_id)
        except (ServerUnreachable, ProtocolError):
            return False
        return record is not None and record.get("state") != "pending"

    def _run_flow(self, process: int, plan: FlowPlan) -> None:
        attempt = 0
        backoff = 0.1
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0 or self.stop.is_set():
                return
            attempt += 1
            self.history.record("invoke", process, plan.flow, plan.promise_id, plan.arg,
                                attempt=attempt)
            out = self.send(plan, min(self.request_timeout_s, left))
            self.history.record(out.type, process, plan.flow, plan.promise_id, plan.arg,
                                attempt=attempt, value=out.value, error=out.error)
            if out.type != "info" or self._settled_on_server(plan.promise_id):
                return
            self.stop.wait(backoff)
            backoff = min(1.0, backoff * 2)
