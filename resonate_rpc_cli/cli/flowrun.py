"""``run``: start one flow through the gateway and report how it ended.

Talks HTTP to the gateway (``POST /<route>`` with ``{"id", "arg"}``); for the
detached chain with ``wait`` it then watches the execution ledger until
``cog`` has finished and reports the value it computed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from resonate_rpc_cli.clients.http import exchange
from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, UsageError
from resonate_rpc_cli.contracts.flows import Flow
from resonate_rpc_cli.contracts.ledger import read_ledger

DEFAULT_TIMEOUT_S = 60.0
MAX_ID_LEN = 128


@dataclass(frozen=True)
class FlowOutcome:
    """The ``run --json`` contract: flow, promise_id, state, result, elapsed_ms."""

    flow: str
    promise_id: str
    state: str  # resolved | rejected | started | timeout
    result: Any
    elapsed_ms: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
    if not explicit or len(explicit) > MAX_ID_LEN or not explicit.isprintable() \
            or any(c.isspace() for c in explicit):
        raise UsageError(f"bad --id {explicit!r}: printable, no spaces, at most {MAX_ID_LEN} chars")
    return explicit


def _post(url: str, body: dict[str, Any], timeout_s: float) -> tuple[int, Any]:
    status, raw = exchange("POST", url, json.dumps(body).encode(), timeout_s)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, {"error": raw.decode(errors="replace")[:200]}


def cog_value(ledger_dir: Path, root_id: str) -> Any | None:
    """The value ``cog`` computed for the detached chain rooted at ``root_id``, if it did."""
    for entry in read_ledger(ledger_dir):
        if entry.func == "cog" and entry.phase == "end" and \
                entry.promise_id.split(":", 1)[0] == root_id:
            return entry.value if entry.value is not None else True
    return None


def run_flow(
    gateway_url: str, flow: Flow, promise_id: str, *, arg: int, wait: bool,
    timeout_s: float, ledger_dir: Path,
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
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return outcome("timeout", None)
        raise NotRunningError(f"cannot reach the gateway at {gateway_url}: {exc.reason}") from exc
    except OSError as exc:
        raise NotRunningError(f"cannot reach the gateway at {gateway_url}: {exc}") from exc
    message = body.get("message") if isinstance(body, dict) else None
    error = body.get("error") if isinstance(body, dict) else None
    if status == 503:
        raise NotRunningError(f"the gateway cannot reach the server: {error or body}")
    if status == 400:
        raise UsageError(f"the gateway refused the request: {error or body}")
    if status != 200:
        return outcome("rejected", error if error is not None else body)
    if flow.awaited:
        return outcome("resolved", message)
    if not wait:
        return outcome("started", message)
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        value = cog_value(ledger_dir, promise_id)
        if value is not None:
            return outcome("resolved", value)
        time.sleep(0.05)
    return outcome("timeout", None)
