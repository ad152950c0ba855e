"""Settlements from the operator: read, resolve, reject or cancel one durable promise, and
cancel the pending promises of one call tree (``rpcdemo promise``, ``rpcdemo flow cancel``).

Reads go through ``backends.read_client`` and settles through
``backends.write_client``, so the same calls work on the embedded server, a
real Resonate server and resonate-pg. The rules (the exit codes of docs/cli.md):

* a bad id or ``--value`` that is not JSON: :class:`UsageError` (exit 2), nothing sent;
* an id the server does not hold: :class:`UsageError` (exit 2), as ``doctor`` says it;
* a promise that is already settled (or settles meanwhile, by someone else):
  :class:`RpcdemoError` (exit 1), nothing changed; a flow with nothing pending, the same;
* no supervisor, or a server that does not answer: :class:`NotRunningError` (exit 3).

A value is encoded as the SDKs encode theirs (base64 of its JSON), so a
function awaiting the promise reads it back; a reject or cancel without a
value carries the SDK's error shape (``{"__type": "error", "message"}``), so
the awaiter raises an error with that message.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, TypedDict

from resonate_rpc_cli.backends import read_client, write_client
from resonate_rpc_cli.clients.protocol import (
    Payload,
    PromiseRecord,
    ProtocolError,
    ServerUnreachable,
)
from resonate_rpc_cli.contracts.errors import NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ids import ORIGIN_SEP, promise_id_problem, root_id_problem
from resonate_rpc_cli.contracts.payload import decode_payload
from resonate_rpc_cli.observe.snapshot import PromiseSource
from resonate_rpc_cli.observe.steps import tree_records
from resonate_rpc_cli.supervisor.client import SupervisorClient

#: What the operator may settle a promise to, by command.
SETTLE_STATES = {"resolve": "resolved", "reject": "rejected", "cancel": "rejected_canceled"}
#: Passes of ``flow cancel``: a node may create a child between the read and the settle.
CANCEL_PASSES = 3


class PromiseViewJson(TypedDict):
    """``promise get --json``."""

    id: str
    state: str
    value: Any
    param: Any
    tags: dict[str, str]
    created_ms: int | None
    settled_ms: int | None
    timeout_ms: int | None


class SettledJson(TypedDict):
    """``promise resolve|reject|cancel --json``."""

    id: str
    previous: str
    state: str
    value: Any
    settled_ms: int | None
    server: str


class FlowCanceledJson(TypedDict):
    """``flow cancel --json``."""

    root: str
    canceled: list[str]
    left: dict[str, str]
    server: str


@dataclass(frozen=True)
class PromiseView:
    """One promise as ``promise get`` shows it (values decoded as the SDK reads them)."""

    id: str
    state: str
    value: Any
    param: Any
    tags: dict[str, str]
    created_ms: int | None
    settled_ms: int | None
    timeout_ms: int | None

    @classmethod
    def from_record(cls, rec: PromiseRecord) -> PromiseView:
        tags = rec.get("tags") or {}
        state = str(rec.get("state", "?")).lower()
        return cls(
            id=str(rec.get("id")), state=state,
            value=decode_payload(rec.get("value")) if state != "pending" else None,
            param=decode_payload(rec.get("param")),
            tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
            created_ms=_int(rec.get("createdAt")), settled_ms=_int(rec.get("settledAt")),
            timeout_ms=_int(rec.get("timeoutAt")),
        )

    def to_dict(self) -> PromiseViewJson:
        return {"id": self.id, "state": self.state, "value": self.value, "param": self.param,
                "tags": self.tags, "created_ms": self.created_ms,
                "settled_ms": self.settled_ms, "timeout_ms": self.timeout_ms}


@dataclass(frozen=True)
class Settled:
    """What one settle did: the promise after it (``previous`` was ``pending``)."""

    promise: PromiseView
    server_url: str

    def to_dict(self) -> SettledJson:
        return {"id": self.promise.id, "previous": "pending", "state": self.promise.state,
                "value": self.promise.value, "settled_ms": self.promise.settled_ms,
                "server": self.server_url}


@dataclass(frozen=True)
class FlowCanceled:
    """What ``flow cancel`` did: the pending promises it canceled (parents first), and
    the settled ones it left as they were (with their states)."""

    root: str
    canceled: tuple[str, ...]
    left: dict[str, str]
    server_url: str

    def to_dict(self) -> FlowCanceledJson:
        return {"root": self.root, "canceled": list(self.canceled), "left": self.left,
                "server": self.server_url}


def parse_value(text: str | None) -> tuple[bool, Any]:
    """``--value``: (given, the JSON value). UsageError for text that is not JSON."""
    if text is None:
        return False, None
    try:
        return True, json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--value is not JSON ({exc.args[0].split(':')[0]}): {text!r}"
                         ) from None


def encode_value(value: Any) -> Payload:
    """``{"data": base64(json)}`` as the SDKs write a value (``{}`` for null)."""
    if value is None:
        return {}
    raw = json.dumps(value, separators=(",", ":")).encode()
    return {"data": base64.b64encode(raw).decode("ascii")}


def error_value(message: str) -> dict[str, str]:
    """The SDK's shape of an error, so an awaiting function raises one with ``message``."""
    return {"__type": "error", "message": message}


def server_url_of(home: Home) -> str:
    """The server URL of the topology under ``home`` (NotRunningError without one)."""
    return SupervisorClient(home).status().config.server_url


def get_promise(home: Home, promise_id: str) -> PromiseView:
    """The promise ``promise_id`` (UsageError if bad or unknown; NotRunningError)."""
    _check_id(promise_id)
    url = server_url_of(home)
    return PromiseView.from_record(_get(url, promise_id))


def settle_promise(home: Home, promise_id: str, action: str, value: tuple[bool, Any]
                   ) -> Settled:
    """Settle ``promise_id`` by ``action`` (``resolve``/``reject``/``cancel``) with
    ``value`` (``parse_value``'s pair). RpcdemoError (exit 1) when it is settled already."""
    state = SETTLE_STATES[action]
    _check_id(promise_id)
    url = server_url_of(home)
    current = PromiseView.from_record(_get(url, promise_id))
    if current.state != "pending":
        raise RpcdemoError(f"{promise_id} is already {current.state}: nothing changed")
    given, raw = value
    payload = raw if given else (None if action == "resolve" else
                                 error_value(f"{action}ed by rpcdemo"))
    after = _settle(url, promise_id, state, encode_value(payload))
    if after is None:
        raise UsageError(f"no promise {promise_id!r} on {url} (dropped meanwhile)")
    if after.state != state or after.value != payload:
        raise RpcdemoError(f"{promise_id} was settled meanwhile ({after.state}): "
                           "nothing changed")
    return Settled(after, url)


def cancel_flow(home: Home, root: str, message: str = "canceled by rpcdemo flow cancel"
                ) -> FlowCanceled:
    """Cancel every pending promise of ``root``'s call tree, parents before children (so
    no awaiter is resumed to see a child's cancel), in up to :data:`CANCEL_PASSES` passes
    for children created meanwhile; settled ones are left as they are.

    UsageError for a child id or an unknown root; RpcdemoError (exit 1) when nothing
    in the tree is pending.
    """
    problem = root_id_problem(root)
    if problem is not None:
        hint = "; to cancel one promise of a tree use `rpcdemo promise cancel ID`"
        raise UsageError(f"ROOT {root!r} {problem}{hint if ORIGIN_SEP in root else ''}")
    url = server_url_of(home)
    source = PromiseSource(url, timeout_s=5.0)
    payload = encode_value(error_value(message))
    canceled: list[str] = []
    for _ in range(CANCEL_PASSES):
        tree = _tree(source, root)
        pending = sorted((i for i, s in tree.items() if s == "pending"), key=_depth)
        if not pending:
            break
        for promise_id in pending:
            after = _settle(url, promise_id, "rejected_canceled", payload)
            if after is not None and after.state == "rejected_canceled":
                canceled.append(promise_id)
    else:
        tree = _tree(source, root)  # what the last pass left
    left = {i: s for i, s in tree.items() if i not in canceled}
    if not canceled:
        state = left.get(root, "settled")
        raise RpcdemoError(f"nothing pending in {root} (it is {state}): nothing changed")
    return FlowCanceled(root, tuple(canceled), left, url)


def _tree(source: PromiseSource, root: str) -> dict[str, str]:
    """Promise id -> state of every promise of ``root``'s tree (UsageError if none)."""
    try:
        records = tree_records(source, root)
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    except ProtocolError as exc:
        raise RpcdemoError(f"the server refused to read {root}: {exc}") from None
    return {str(r["id"]): str(r.get("state", "?")).lower() for r in records}


def _get(url: str, promise_id: str) -> PromiseRecord:
    try:
        rec = read_client(url).promise_get(promise_id)
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    except ProtocolError as exc:
        raise RpcdemoError(f"the server refused to read {promise_id}: {exc}") from None
    if rec is None:
        raise UsageError(f"no promise {promise_id!r} on {url}")
    return rec


def _settle(url: str, promise_id: str, state: str, value: Payload
            ) -> PromiseView | None:
    """The promise after the settle; ``None`` if the server does not hold it (any more)."""
    try:
        rec = write_client(url).promise_settle(promise_id, state, value)
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    except ProtocolError as exc:
        raise RpcdemoError(f"the server refused to settle {promise_id}: {exc}") from None
    return None if rec is None else PromiseView.from_record(rec)


def _check_id(promise_id: str) -> None:
    problem = promise_id_problem(promise_id)
    if problem is not None:
        raise UsageError(f"promise id {promise_id!r} {problem}")


def _depth(promise_id: str) -> tuple[int, str]:
    """Parents before children: ``root`` < ``root:1`` < ``root:1.2``."""
    lineage = promise_id.partition(ORIGIN_SEP)[2]
    return (0 if not lineage else 1 + lineage.count("."), promise_id)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
