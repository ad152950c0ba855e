"""The workload: flows sent to the gateway over plain HTTP, every attempt in the history.

``concurrency`` worker threads take flows from a :class:`~.options.FlowSupply`
(closed loop: a worker's next flow starts when its last one ended). Each attempt is an
``invoke`` followed by ``ok`` (200 with the answer), ``fail`` (a 4xx: a
definite refusal) or ``info`` (anything else: connection refused or reset,
5xx, 504, a timeout, a body that is not the gateway's JSON). After ``info``
the same promise id is re-sent — the seed's reconnect — with a short backoff,
until it settles or the deadline passes. "Settles" includes the server saying
the root promise is no longer pending (when ``server_url`` is given): the
gateway's answer is then not needed to know the outcome, and the checker
reads the value from the server.

On a declared application (issue 19) the attempts go through :func:`flow_sender`: an
``rpc`` flow creates its root promise as the SDK's ``rpc`` does
(``clients/app_flows.start_flow``, what ``rpcdemo run`` uses; re-sending the same id
re-attaches) and polls it until it settles; an ``http`` flow sends its request with
``"{id}"`` in its URL or body replaced by the run's promise id (without one chaos cannot
find its root and judges it on its answers only). :func:`run_baseline` runs each flow
that declares no ``expect`` once, fault-free, before any fault: the checker compares
with its outcome.
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
from resonate_rpc_cli.chaos.options import FlowPlan, FlowSupply
from resonate_rpc_cli.chaos.report import JsonValue
from resonate_rpc_cli.clients.app_flows import fill_id, start_flow
from resonate_rpc_cli.clients.http import exchange
from resonate_rpc_cli.clients.protocol import (
    PromiseRecord,
    ProtocolError,
    ResonateClient,
    ServerUnreachable,
)
from resonate_rpc_cli.contracts.app_topology import HTTP_FLOW, AppTopology, FlowSpec
from resonate_rpc_cli.contracts.flows import flow_named
from resonate_rpc_cli.contracts.payload import decode_payload


@dataclass(frozen=True)
class Outcome:
    """How one HTTP attempt ended: an op type, and the value or error."""

    type: OpType
    value: Any = None
    error: str | None = None


def _unreachable(exc: Exception) -> Outcome:
    """A request that got no answer (refused, reset, timed out): unknown."""
    return Outcome("info", error=f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")


def _refused(status: int, detail: object) -> Outcome:
    """A request answered with an error: a definite ``fail`` for a 4xx (but 408 and 429)."""
    definite = 400 <= status < 500 and status not in (408, 429)
    return Outcome("fail" if definite else "info", error=f"HTTP {status}: {detail}")


def post_flow(gateway_url: str, plan: FlowPlan, timeout_s: float) -> Outcome:
    """POST one flow to the gateway and classify the answer (never raises)."""
    route = flow_named(plan.flow).route
    body = json.dumps({"id": plan.promise_id, "arg": plan.arg}).encode()
    try:
        status, raw = exchange("POST", gateway_url.rstrip("/") + route, body, timeout_s)
    except (urllib.error.URLError, OSError) as exc:
        return _unreachable(exc)
    text = raw.decode("utf-8", "replace")
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if status == 200 and isinstance(obj, dict) and "message" in obj:
        return Outcome("ok", value=obj["message"])
    return _refused(status, obj.get("error") if isinstance(obj, dict) else text[:200])


class Workload:
    """Runs flows from a :class:`~.options.FlowSupply` against the gateway (or through
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


Sender = Callable[[FlowPlan, float], Outcome]
POLL_S = 0.1


def flow_sender(app: AppTopology, server_url: str) -> Sender:
    """The workload's send function for ``app``'s flows (see the module docstring)."""
    client = ResonateClient(server_url, timeout_s=5.0)

    def send(plan: FlowPlan, timeout_s: float) -> Outcome:
        spec = app.flow(plan.flow)
        if spec is None:
            return Outcome("fail", error=f"no flow named {plan.flow!r}")
        if spec.kind == HTTP_FLOW:
            return _send_http(spec, plan.promise_id, timeout_s)
        return _send_rpc(client, spec, plan.promise_id, timeout_s)
    return send


def _send_rpc(client: ResonateClient, spec: FlowSpec, promise_id: str,
              timeout_s: float) -> Outcome:
    deadline = time.monotonic() + timeout_s
    try:
        start_flow(spec, client.url, promise_id)
    except ServerUnreachable as exc:
        return Outcome("info", error=str(exc))
    except ProtocolError as exc:
        if exc.status != 409:  # 409: it exists already (a re-send): follow it
            if 400 <= exc.status < 500:
                return Outcome("fail", error=str(exc))
            return Outcome("info", error=str(exc))
    while time.monotonic() < deadline:
        try:
            record = client.promise_get(promise_id)
        except (ServerUnreachable, ProtocolError) as exc:
            last = str(exc)
        else:
            if record is not None and record.get("state") != "pending":
                return Outcome("ok", value=settled_outcome(record))
            last = "pending"
        time.sleep(POLL_S)
    return Outcome("info", error=f"not settled within {timeout_s:g}s ({last})")


def settled_outcome(record: PromiseRecord) -> Any:
    """What a settled root came to: its value, or ``{state: value}`` when rejected."""
    value = decode_payload(record.get("value"))
    state = str(record.get("state"))
    return value if state == "resolved" else {state: value}


def _send_http(spec: FlowSpec, promise_id: str, timeout_s: float) -> Outcome:
    body = None if spec.body is None else json.dumps(fill_id(spec.body, promise_id)).encode()
    try:
        status, raw = exchange(spec.method, fill_id(spec.url, promise_id), body, timeout_s)
    except (urllib.error.URLError, OSError) as exc:
        return _unreachable(exc)
    try:
        value = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        value = raw.decode("utf-8", "replace")[:200]
    return Outcome("ok", value=value) if status == 200 else _refused(status, value)


def flow_key(flow: str, args: Any) -> str:
    """The key of a flow and its arguments (baselines are per flow *and* arguments)."""
    return f"{flow} {json.dumps(args, sort_keys=True, separators=(',', ':'))}"


def call_args(spec: FlowSpec) -> Any:
    """What makes two instances of a flow the same call (its baseline key)."""
    return spec.body if spec.kind == HTTP_FLOW else list(spec.args)


def run_baseline(app: AppTopology, send: Sender, run_tag: str, timeout_s: float,
                 emit: Callable[[str], None]) -> dict[str, JsonValue]:
    """Run each flow without ``expect`` once, fault-free; its outcome by :func:`flow_key`.

    A flow whose baseline does not settle in ``timeout_s`` (three tries) has none: its
    instances are then counted unjudged, and the note says so.
    """
    out: dict[str, JsonValue] = {}
    for n, spec in enumerate(f for f in app.flows if not f.has_expect):
        plan = FlowPlan(n, spec.name, f"base-{run_tag}-{spec.name}", 0)
        for _ in range(3):
            outcome = send(plan, timeout_s)
            if outcome.type != "info":
                break
        if outcome.type == "ok":
            value = (fill_id(outcome.value, plan.promise_id, back=True)
                     if spec.kind == HTTP_FLOW else outcome.value)
            out[flow_key(spec.name, call_args(spec))] = value
            emit(f"baseline {spec.name}: {json.dumps(outcome.value, sort_keys=True)}")
        else:
            emit(f"baseline {spec.name}: no value ({outcome.error}); its runs go unjudged")
    return out
