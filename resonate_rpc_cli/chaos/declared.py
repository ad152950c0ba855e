"""Chaos on a declared topology (``[groups.*]``, ``[flows.*]``; issue 19): starting its
flows, the fault-free baseline, and the typed history :mod:`.verdict` judges.

* :func:`flow_sender` — how the workload starts one instance of a declared flow: an
  ``rpc`` flow creates its root promise through the server as the SDK's ``rpc`` does
  (``clients/app_flows.start_flow``, what ``rpcdemo run`` uses; idempotent: re-sending the
  same id re-attaches) and polls it until it settles; an
  ``http`` flow sends its request, with ``"{id}"`` in its URL or body replaced by the
  instance's promise id (without one chaos cannot find its root and judges it on its
  answers only). Outcomes are the workload's: ``ok`` (settled; the value), ``fail`` (a
  definite refusal), ``info`` (unknown: re-sent).
* :func:`run_baseline` — one fault-free instance of every flow that declares no
  ``expect``, before any fault: their outcomes are what the checker compares with.
* :func:`history_of` — the run's record as a :class:`~.verdict.RunHistory`.
"""

from __future__ import annotations

import json
import time
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from resonate_rpc_cli.chaos.history import Op
from resonate_rpc_cli.chaos.supply import FlowPlan
from resonate_rpc_cli.chaos.verdict import FlowRun, RunHistory, StuckPromise, flow_key
from resonate_rpc_cli.chaos.workload import Outcome
from resonate_rpc_cli.clients.app_flows import ID_MARK, fill_id, start_flow
from resonate_rpc_cli.clients.http import exchange
from resonate_rpc_cli.clients.protocol import ProtocolError, ResonateClient, ServerUnreachable
from resonate_rpc_cli.contracts.app_topology import HTTP_FLOW, AppTopology, FlowSpec
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.contracts.payload import decode_payload

Sender = Callable[[FlowPlan, float], Outcome]
POLL_S = 0.1


def names_root(spec: FlowSpec) -> bool:
    """Whether chaos can name an instance's root promise: a function flow, or an ``http``
    flow with ``{id}`` in its URL or body."""
    return spec.kind != HTTP_FLOW or ID_MARK in spec.url or ID_MARK in json.dumps(spec.body)


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


def settled_outcome(record: Mapping[str, Any]) -> Any:
    """What a settled root came to: its value, or ``{state: value}`` when rejected."""
    value = decode_payload(record.get("value"))
    state = str(record.get("state"))
    return value if state == "resolved" else {state: value}


def _send_http(spec: FlowSpec, promise_id: str, timeout_s: float) -> Outcome:
    body = None if spec.body is None else json.dumps(fill_id(spec.body, promise_id)).encode()
    try:
        status, raw = exchange(spec.method, fill_id(spec.url, promise_id), body, timeout_s)
    except (urllib.error.URLError, OSError) as exc:
        return Outcome("info", error=f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")
    try:
        value = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        value = raw.decode("utf-8", "replace")[:200]
    if status == 200:
        return Outcome("ok", value=value)
    if 400 <= status < 500 and status not in (408, 429):
        return Outcome("fail", error=f"HTTP {status}: {value}")
    return Outcome("info", error=f"HTTP {status}: {value}")


def run_baseline(app: AppTopology, send: Sender, run_tag: str, timeout_s: float,
                 emit: Callable[[str], None]) -> dict[str, Any]:
    """Run each flow without ``expect`` once, fault-free; its outcome by :func:`flow_key`.

    A flow whose baseline does not settle in ``timeout_s`` (three tries) has none: its
    instances are then counted unjudged, and the note says so.
    """
    out: dict[str, Any] = {}
    for n, spec in enumerate(f for f in app.flows if not f.has_expect):
        plan = FlowPlan(n, spec.name, f"base-{run_tag}-{spec.name}", 0)
        for _ in range(3):
            outcome = send(plan, timeout_s)
            if outcome.type != "info":
                break
        if outcome.type == "ok":
            value = (fill_id(outcome.value, plan.promise_id, back=True)
                     if spec.kind == HTTP_FLOW else outcome.value)
            out[flow_key(spec.name, _args(spec))] = value
            emit(f"baseline {spec.name}: {json.dumps(outcome.value, sort_keys=True)}")
        else:
            emit(f"baseline {spec.name}: no value ({outcome.error}); its runs go unjudged")
    return out


def _args(spec: FlowSpec) -> Any:
    """What makes two instances of a flow the same call (its baseline key)."""
    return spec.body if spec.kind == HTTP_FLOW else list(spec.args)


def history_of(app: AppTopology, plans: Sequence[FlowPlan], ops: Sequence[Op],
               promises: Sequence[Mapping[str, Any]], *, baseline: Mapping[str, Any] | None,
               stuck: Sequence[StuckPromise] | None, journal: list[dict[str, Any]] | None,
               ledger: Sequence[LedgerEntry]) -> RunHistory:
    """The run as the checker's typed history (one :class:`FlowRun` per flow issued)."""
    records = {str(p["id"]): dict(p) for p in promises}
    answers: dict[str, Any] = {}
    for op in ops:
        if op.type == "ok" and op.promise_id not in answers:
            answers[op.promise_id] = fill_id(op.value, op.promise_id, back=True)
    started = {op.promise_id for op in ops if op.type == "invoke"}
    runs = []
    for plan in plans:
        spec = app.flow(plan.flow)
        if spec is None or plan.promise_id not in started:
            continue
        named = names_root(spec)
        root = records.get(plan.promise_id) if named else None
        runs.append(FlowRun(
            plan.flow, _args(spec), plan.promise_id if named else None,
            answered=plan.promise_id in answers, answer=answers.get(plan.promise_id),
            state=None if root is None else str(root.get("state")),
            value=None if root is None else decode_payload(root.get("value")),
            by_answer=spec.kind == HTTP_FLOW))
    roots = {r.promise_id for r in runs if r.promise_id}
    steps = [e for e in ledger if origin_of(e.step_id) in roots] or None
    return RunHistory(runs, expected={f.name: f.expect for f in app.flows if f.has_expect},
                      baseline=baseline, stuck=stuck, journal=journal, steps=steps,
                      promises=records)
