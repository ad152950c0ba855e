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

import itertools
import json
from typing import Any

from resonate_base import PROTOCOL_VERSION

from resonate_rpc_cli.clients.protocol import ProtocolError
from resonate_rpc_cli.postgres.db import Db, Rows

RPC_SQL = "SELECT resonate.resonate_rpc(%s::jsonb)"
_corr = itertools.count(1)


def settle_request(promise_id: str, state: str, value: dict[str, Any]) -> str:
    """The ``promise.settle`` envelope of one settle."""
    return json.dumps({
        "kind": "promise.settle",
        "head": {"corrId": f"rpcdemo-settle-{next(_corr)}", "version": PROTOCOL_VERSION},
        "data": {"id": promise_id, "state": state, "value": value},
    })


class PgWriter:
    """Promise settles on a resonate-pg database; holds one lazy read-write connection."""

    def __init__(self, url: str, timeout_s: float = 5.0, db: Rows | None = None) -> None:
        self.url = url
        self.db: Rows = db if db is not None else Db(url, timeout_s)

    def promise_settle(self, promise_id: str, state: str, value: dict[str, Any]
                       ) -> dict[str, Any] | None:
        """The settled (or already settled) record; ``None`` if the database does not hold
        the promise; ProtocolError for any other error status."""
        rows = self.db.rows(RPC_SQL, (settle_request(promise_id, state, value),))
        reply = rows[0][0] if rows else None
        head = reply.get("head") if isinstance(reply, dict) else None
        status = head.get("status") if isinstance(head, dict) else None
        data = reply.get("data") if isinstance(reply, dict) else None
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict) or not isinstance(
                data.get("promise"), dict):
            raise ProtocolError(int(status) if isinstance(status, int) else 500,
                                f"promise.settle answered {data!r}")
        return dict(data["promise"])
