"""Running a declared flow (issue 19): start it, read how it ended, compare with ``expect``.

A ``function``/``group`` flow is started exactly as the Python SDK 0.8.1's
``Resonate.rpc(id, "function", *args)`` starts one: a ``promise.create`` of the root
whose ``param.data`` is the base64 of the JSON ``{"args", "kwargs", "func",
"version"}`` (the SDK's ``TaskData`` through its codec), with the tags
``resonate:origin``/``branch``/``parent`` = the id, ``resonate:scope`` = ``global`` and
``resonate:target`` = ``poll://any@GROUP``, and a one-day timeout. The server then
hands the root's task to a member of the group. Creating the same id again is
idempotent (the server answers the existing promise), so a flow started twice runs
once. Its outcome is read with ``promise.get`` and the value decoded as the SDK does
(base64 JSON; a rejection's ``message``). An ``http`` flow is one request to the
application's own route, with ``"{id}"`` in its URL or body replaced by the run's
promise id (and in the answer put back before it is compared with ``expect``); its JSON
answer is the value.

This is the one module the CLI (``rpcdemo run``) and chaos use for declared flows:
:func:`start_flow`, :func:`read_outcome`, :func:`run_declared` and
:class:`DeclaredOutcome`. Every failure to reach the server is
:class:`~resonate_rpc_cli.clients.protocol.ServerUnreachable`.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any, TypedDict

from resonate_rpc_cli.clients.http import exchange
from resonate_rpc_cli.clients.protocol import ProtocolError, ResonateClient, ServerUnreachable
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.app_topology import HTTP_FLOW, FlowSpec
from resonate_rpc_cli.contracts.payload import decode_payload
from resonate_rpc_cli.contracts.record import Record

#: the SDK's DEFAULT_TOP_LEVEL_TIMEOUT (one day), in ms
ROOT_TIMEOUT_MS = 86_400_000
PENDING = "pending"
#: in an ``http`` flow's URL, body or expect: the run's promise id (so its root is found)
ID_MARK = "{id}"
#: the states of an ``http`` flow's outcome
HTTP_OK, HTTP_FAILED = "ok", "failed"


class DeclaredOutcomeJson(TypedDict):
    """``run FLOW --json`` on a declared application."""

    flow: str
    promise_id: str | None
    state: str
    value: Any
    elapsed_ms: int
    expected: bool | None


class EncodedParam(TypedDict):
    """A root's ``param``: the task, encoded as the SDK's codec does."""

    data: str


class CreateRequest(TypedDict):
    """The ``promise.create`` data of a flow's root (as the SDK's ``rpc`` sends it)."""

    id: str
    timeoutAt: int
    param: EncodedParam
    tags: dict[str, str]


class DeclaredOutcome(Record):
    """How one run of a declared flow ended (or stands): ``state`` is the root promise's
    (``pending``, ``resolved``, ``rejected``, ``rejected_canceled``,
    ``rejected_timedout``) or, for an ``http`` flow, ``ok``/``failed``; ``value`` the
    decoded value (a rejection: its message); ``expected`` whether it equals the flow's
    ``expect`` (None: the flow declares none, or it has not resolved)."""

    flow: str
    promise_id: str | None
    state: str
    value: Any
    elapsed_ms: int
    expected: bool | None = None

    @property
    def settled(self) -> bool:
        return self.state != PENDING

    @property
    def ok(self) -> bool:
        """Resolved (or answered 2xx) and, where ``expect`` is declared, equal to it."""
        return self.state in ("resolved", HTTP_OK) and self.expected is not False

    def to_dict(self) -> DeclaredOutcomeJson:
        return {"flow": self.flow, "promise_id": self.promise_id, "state": self.state,
                "value": self.value, "elapsed_ms": self.elapsed_ms, "expected": self.expected}


def new_promise_id(flow: FlowSpec) -> str:
    """A fresh root id for one run of ``flow`` (``place-order-3f9c0a1b2c4d``)."""
    return f"{flow.name}-{uuid.uuid4().hex[:12]}"


def encode_value(value: Any) -> str:
    """The SDK codec's wire form of ``value``: base64 of its compact JSON."""
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode("ascii")


def fill_id(value: Any, promise_id: str, back: bool = False) -> Any:
    """``value`` with :data:`ID_MARK` replaced by ``promise_id`` in every string (``back``:
    the other way, so an answer that echoes its id compares with ``expect``)."""
    if isinstance(value, str):
        return value.replace(promise_id, ID_MARK) if back else value.replace(ID_MARK, promise_id)
    if isinstance(value, list):
        return [fill_id(v, promise_id, back) for v in value]
    if isinstance(value, dict):
        return {k: fill_id(v, promise_id, back) for k, v in value.items()}
    return value


def create_request(flow: FlowSpec, promise_id: str, now_ms: int) -> CreateRequest:
    """The ``promise.create`` data the SDK's ``rpc`` sends for ``flow``'s root."""
    task = {"args": list(flow.args), "kwargs": {}, "func": flow.function, "version": 1}
    return {
        "id": promise_id,
        "timeoutAt": now_ms + ROOT_TIMEOUT_MS,
        "param": {"data": encode_value(task)},
        "tags": {tag.ORIGIN: promise_id, tag.BRANCH: promise_id, tag.PARENT: promise_id,
                 tag.SCOPE: "global", tag.TARGET: f"poll://any@{flow.group}"},
    }


def start_flow(flow: FlowSpec, server_url: str, promise_id: str) -> None:
    """Create ``flow``'s root promise ``promise_id`` on the server (a function flow only);
    :class:`ServerUnreachable`, or :class:`ProtocolError` for a refusal."""
    if flow.kind == HTTP_FLOW:
        raise ValueError(f"flow {flow.name} is an http route: use run_declared")
    ResonateClient(server_url).request(
        "promise.create", create_request(flow, promise_id, int(time.time() * 1000)))


def read_outcome(flow: FlowSpec, server_url: str, promise_id: str,
                 elapsed_ms: int = 0) -> DeclaredOutcome:
    """How the root ``promise_id`` of ``flow`` stands now (``pending`` if not found)."""
    record = ResonateClient(server_url).promise_get(promise_id)
    state = str(record.get("state", PENDING)) if record else PENDING
    value = decode_payload(record.get("value")) if record and state != PENDING else None
    if state.startswith("rejected") and isinstance(value, dict) and "message" in value:
        value = value["message"]
    return _judged(flow, promise_id, state, value, elapsed_ms)


def run_declared(flow: FlowSpec, server_url: str, *, promise_id: str | None = None,
                 timeout_s: float = 60.0, poll_s: float = 0.05) -> DeclaredOutcome:
    """Start ``flow`` and wait up to ``timeout_s`` for its outcome (``pending`` when it has
    not settled by then). An ``http`` flow is its one request."""
    started = time.monotonic()
    pid = promise_id or new_promise_id(flow)
    if flow.kind == HTTP_FLOW:
        return _run_http(flow, pid, timeout_s, started)
    start_flow(flow, server_url, pid)
    deadline = started + timeout_s
    while True:
        outcome = read_outcome(flow, server_url, pid, _ms_since(started))
        if outcome.settled or time.monotonic() >= deadline:
            return outcome
        time.sleep(poll_s)


def _run_http(flow: FlowSpec, promise_id: str, timeout_s: float,
              started: float) -> DeclaredOutcome:
    body = None if flow.body is None else json.dumps(fill_id(flow.body, promise_id)).encode()
    try:
        status, raw = exchange(flow.method, fill_id(flow.url, promise_id), body, timeout_s)
    except OSError as exc:
        raise ServerUnreachable(f"cannot reach {flow.url}: {exc}") from exc
    try:
        value: Any = json.loads(raw) if raw.strip() else None
    except ValueError:
        value = raw.decode(errors="replace")
    state = HTTP_OK if 200 <= status < 300 else HTTP_FAILED
    if state == HTTP_FAILED:
        value = {"status": status, "body": value}
    named = ID_MARK in flow.url or ID_MARK in json.dumps(flow.body)
    return _judged(flow, promise_id if named else None, state, value, _ms_since(started))


def _judged(flow: FlowSpec, promise_id: str | None, state: str, value: Any,
            elapsed_ms: int) -> DeclaredOutcome:
    seen = fill_id(value, promise_id, back=True) if promise_id else value
    expected = (seen == flow.expect) if flow.has_expect and state in ("resolved", HTTP_OK) \
        else None
    return DeclaredOutcome(flow.name, promise_id, state, value, elapsed_ms, expected)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


__all__ = ["DeclaredOutcome", "ProtocolError", "ServerUnreachable", "create_request",
           "fill_id", "new_promise_id", "read_outcome", "run_declared", "start_flow"]
