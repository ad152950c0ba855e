"""The write side on resonate-pg: settle a promise through the schema's own protocol entry.

:class:`PgWriter` sends the same ``promise.settle`` envelope as the HTTP client
to ``resonate.resonate_rpc(jsonb)`` in one statement, so the database does
everything its own settle does (the task fulfilled, awaiters resumed, listeners
notified through the outbox). Like Resonate's servers, an already settled
promise comes back unchanged. The role must be allowed to run
``resonate.resonate_rpc`` (the schema owner is; a refusal is a ProtocolError
403). Every failure is ServerUnreachable or ProtocolError (see :mod:`.db`).
"""

from __future__ import annotations

from resonate_rpc_cli.clients.protocol import Payload, PromiseRecord, ProtocolError
from resonate_rpc_cli.postgres.db import Db, Rows, rpc


class PgWriter:
    """Promise settles on a resonate-pg database; holds one lazy read-write connection."""

    def __init__(self, url: str, timeout_s: float = 5.0, db: Rows | None = None) -> None:
        self.url = url
        self.db: Rows = db if db is not None else Db(url, timeout_s)

    def promise_settle(self, promise_id: str, state: str, value: Payload
                       ) -> PromiseRecord | None:
        """The settled (or already settled) record; ``None`` if the database does not hold
        the promise; ProtocolError for any other error status."""
        reply = rpc(self.db, "promise.settle",
                    {"id": promise_id, "state": state, "value": value}, "settle")
        head = reply.get("head")
        status = head.get("status") if isinstance(head, dict) else None
        data = reply.get("data")
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict) or not isinstance(
                data.get("promise"), dict):
            raise ProtocolError(int(status) if isinstance(status, int) else 500,
                                f"promise.settle answered {data!r}")
        record: PromiseRecord = data["promise"]
        return record
