"""``run``: start one flow through the gateway and report how it ended.

Talks HTTP to the gateway (``POST /<route>`` with ``{"id", "arg"}``); for the
detached chain with ``wait`` it then asks the server for ``cog``'s promise
(the call in the flow's tree whose function is ``cog``) until it settles, and
reports its value. So it works when the nodes run under another HOME or on
another host. Only a server without ``promise.search`` makes it fall back to
this HOME's execution ledger (which knows only the nodes this HOME runs).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, TypedDict

from resonate_rpc_cli.backends import read_client
from resonate_rpc_cli.clients.http import exchange
from resonate_rpc_cli.clients.protocol import (
    ProtocolError,
    ReadClient,
    ServerUnreachable,
)
from resonate_rpc_cli.contracts import tags as tag
from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, UsageError
from resonate_rpc_cli.contracts.flows import Flow
from resonate_rpc_cli.contracts.home import Endpoints, Home, not_running_message
from resonate_rpc_cli.contracts.ids import origin_of, root_id_problem
from resonate_rpc_cli.contracts.payload import decode_payload
from resonate_rpc_cli.contracts.record import Record


class FlowOutcomeJson(TypedDict):
    """``run --json``."""

    flow: str
    promise_id: str
    state: str
    result: Any
    elapsed_ms: int


class FlowOutcome(Record):
    """The ``run --json`` contract: flow, promise_id, state, result, elapsed_ms."""

    flow: str
    promise_id: str
    state: str  # resolved | rejected | started | timeout
    result: Any
    elapsed_ms: int

    def to_dict(self) -> FlowOutcomeJson:
        return {"flow": self.flow, "promise_id": self.promise_id, "state": self.state,
                "result": self.result, "elapsed_ms": self.elapsed_ms}

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.OK if self.state in ("resolved", "started") else ExitStatus.FAILED


def choose_id(flow: Flow, explicit: str | None, fresh: bool) -> str:
    """The promise id to use: ``explicit``, a fresh unique one, or the seed's static id."""
    if explicit is not None and fresh:
        raise UsageError("--id and --fresh cannot be used together")
    if fresh:
        return f"{flow.promise_id}-{uuid.uuid4().hex[:12]}"
    if explicit is None:
        return flow.promise_id
    problem = root_id_problem(explicit)
    if problem is not None:
        raise UsageError(f"bad --id {explicit!r}: {problem}")
    return explicit


def _post(url: str, body: dict[str, str | int], timeout_s: float) -> tuple[int, Any]:
    status, raw = exchange("POST", url, json.dumps(body).encode(), timeout_s)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, {"error": raw.decode(errors="replace")[:200]}


def cog_value(ledger_dir: Path, root_id: str) -> Any | None:
    """The value ``cog`` computed for the detached chain rooted at ``root_id``, if it did."""
    from resonate_rpc_cli.contracts.ledger import read_ledger  # noqa: PLC0415  (run --wait)

    for entry in read_ledger(ledger_dir):
        if entry.func == "cog" and entry.phase == "end" and \
                origin_of(entry.promise_id) == root_id:
            return entry.value if entry.value is not None else True
    return None


def cog_state(client: ReadClient, root_id: str) -> tuple[str, Any] | None:
    """``(state, value)`` of ``cog``'s promise in the tree of ``root_id`` once it settled.

    ``None`` while it is pending or not created yet. Raises
    :class:`~resonate_rpc_cli.clients.protocol.ProtocolError` when the server
    cannot search promises.
    """
    for rec in client.promise_search(tags={tag.ORIGIN: root_id}):
        param = decode_payload(rec.get("param"))
        if isinstance(param, dict) and param.get("func") == "cog":
            state = str(rec.get("state", "pending")).lower()
            if state == "pending":
                return None
            return ("resolved" if state == "resolved" else "rejected",
                    decode_payload(rec.get("value")))
    return None


def _wait_for_cog(server_url: str | None, ledger_dir: Path, root_id: str,
                  deadline: float) -> tuple[str, Any] | None:
    """Poll the server (or, without ``promise.search``, the ledger) until ``deadline``."""
    client = read_client(server_url, timeout_s=5.0) if server_url else None
    while time.monotonic() < deadline:
        if client is not None:
            try:
                found = cog_state(client, root_id)
            except ProtocolError:
                client = None  # no promise.search on this server: the ledger is all we have
                continue
            except ServerUnreachable as exc:
                raise NotRunningError(str(exc)) from None
        else:
            value = cog_value(ledger_dir, root_id)
            found = None if value is None else ("resolved", value)
        if found is not None:
            return found
        time.sleep(0.05)
    return None


def run_flow(
    gateway_url: str, flow: Flow, promise_id: str, *, arg: int, wait: bool,
    timeout_s: float, ledger_dir: Path, server_url: str | None = None,
) -> FlowOutcome:
    """Post the flow to the gateway and wait (up to ``timeout_s``) for its answer.

    Raises :class:`NotRunningError` when the gateway cannot be reached or
    answers that the server cannot be reached; a flow that errors is
    ``rejected`` and one that takes too long is ``timeout``.
    """
    started = time.monotonic()

    def outcome(state: str, result: Any) -> FlowOutcome:
        elapsed = int((time.monotonic() - started) * 1000)
        return FlowOutcome(flow.name, promise_id, state, result, elapsed)

    try:
        status, body = _post(gateway_url + flow.route, {"id": promise_id, "arg": arg}, timeout_s)
    except TimeoutError:
        return outcome("timeout", None)
    except OSError as exc:
        reason = getattr(exc, "reason", exc)  # urllib (https) wraps the cause: URLError.reason
        if isinstance(reason, TimeoutError):
            return outcome("timeout", None)
        raise NotRunningError(f"cannot reach the gateway at {gateway_url}: {reason}") from exc
    if status != 200:
        return outcome("rejected", _refusal(status, body))
    message = body.get("message") if isinstance(body, dict) else None
    if flow.awaited:
        return outcome("resolved", message)
    if not wait:
        return outcome("started", message)
    found = _wait_for_cog(server_url, ledger_dir, promise_id, started + timeout_s)
    return outcome("timeout", None) if found is None else outcome(*found)


def run_in(home: Home, flow: Flow, promise_id: str, *, arg: int = 1, wait: bool = False,
           timeout_s: float = 60.0) -> FlowOutcome:
    """:func:`run_flow` through the gateway of the topology under ``home`` (``rpcdemo run``,
    the live view's and the console's run action).

    Raises :class:`NotRunningError` when nothing runs there or it runs no gateway.
    """
    where = Endpoints.read(home)  # written by the supervisor daemon while it runs
    if where is None:
        raise NotRunningError(not_running_message(home))
    if where.gateway_url is None:
        raise NotRunningError(f"the topology under {home.root} has no gateway (started with "
                              "--only); run flows with the HOME that runs the gateway")
    return run_flow(where.gateway_url, flow, promise_id, arg=arg, wait=wait,
                    timeout_s=timeout_s, ledger_dir=home.ledger_dir,
                    server_url=where.server_url)


def _refusal(status: int, body: Any) -> Any:
    """What a non-200 answer means: raises for 503 (exit 3) and 400 (exit 2), else the
    error to report as ``rejected``."""
    error = body.get("error") if isinstance(body, dict) else None
    if status == 503:
        raise NotRunningError(f"the gateway cannot reach the server: {error or body}")
    if status == 400:
        raise UsageError(f"the gateway refused the request: {error or body}")
    return error if error is not None else body
