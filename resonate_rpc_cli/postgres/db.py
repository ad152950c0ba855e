"""One blocking Postgres session for rpcdemo's own SQL (reads, timers, failover).

:class:`Db` opens its connection lazily (autocommit), reuses it, and drops it
after any connection failure so the next call reconnects: a database that
restarts (the chaos ``server`` fault) costs one failed call, never a stuck
reader. Failures map onto the read side's errors: a database that cannot be
reached (or breaks mid-call) raises
:class:`~resonate_rpc_cli.clients.protocol.ServerUnreachable`; any other
SQL error raises :class:`~resonate_rpc_cli.clients.protocol.ProtocolError`
(status 403 when the role lacks a privilege, else 500). With ``read_only``
every statement runs in a read-only transaction, enforced by Postgres.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import psycopg
from psycopg.conninfo import make_conninfo
from resonate_base import PROTOCOL_VERSION

from resonate_rpc_cli.clients.protocol import ProtocolError, ServerUnreachable
from resonate_rpc_cli.postgres.urls import redact

#: SQLSTATE of "insufficient privilege".
DENIED = "42501"
#: The schema's one protocol entry (``release.py``: task.release; ``writes.py``: promise.settle).
RPC_SQL = "SELECT resonate.resonate_rpc(%s::jsonb)"
_corr = itertools.count(1)


class Rows(Protocol):
    """What the SQL users need of a session (a fake in unit tests)."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (empty for a statement without any)."""


class Db:
    """A lazily (re)connected autocommit session to ``url``; safe to share between threads."""

    def __init__(self, url: str, timeout_s: float = 2.0, read_only: bool = False) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.read_only = read_only
        self._lock = threading.Lock()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` with ``params``; raise ServerUnreachable or ProtocolError on failure."""
        with self._lock:
            try:
                conn = self._connect()
                cur = conn.execute(sql.encode(), params or None)
                return list(cur.fetchall()) if cur.description is not None else []
            except psycopg.OperationalError as exc:
                self._drop()
                raise ServerUnreachable(
                    f"cannot reach Postgres at {redact(self.url)}: {_first_line(exc)}") from exc
            except psycopg.Error as exc:
                status = 403 if exc.sqlstate == DENIED else 500
                raise ProtocolError(status, _first_line(exc)) from exc

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __del__(self) -> None:
        # readers are made per use (nemesis, views): their connection goes with them
        self._drop()


    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        conn = _OPEN.get(id(self))
        if conn is None or conn.closed:
            extra = {"options": "-c default_transaction_read_only=on"} if self.read_only else {}
            conninfo = make_conninfo(self.url, connect_timeout=max(1, round(self.timeout_s)),
                                     application_name="rpcdemo", **extra)
            conn = _OPEN[id(self)] = psycopg.connect(conninfo, autocommit=True)
        return conn

    def _drop(self) -> None:
        conn = _OPEN.pop(id(self), None)
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


#: Open connections by the id of their Db. Held here, not on the Db, so that a Db
#: collected in a reference cycle is always finalized (closing its connection)
#: before the connection could be; what is left at exit is closed then.
_OPEN: dict[int, psycopg.Connection[tuple[Any, ...]]] = {}


@atexit.register
def _close_all() -> None:
    for conn in list(_OPEN.values()):
        with contextlib.suppress(psycopg.Error):
            conn.close()
    _OPEN.clear()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


SCHEMA_PRESENT_SQL = "SELECT to_regprocedure('resonate.resonate_rpc(jsonb)') IS NOT NULL"


def schema_answers(url: str, timeout_s: float = 1.0) -> bool:
    """Whether ``url`` accepts a connection and holds the resonate schema now (the
    supervisor's readiness check of a resonate-pg server; asks without erring, so
    the server's log stays quiet while the schema is being applied)."""
    try:
        conninfo = make_conninfo(url, connect_timeout=max(1, round(timeout_s)),
                                 application_name="rpcdemo")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            row = conn.execute(SCHEMA_PRESENT_SQL).fetchone()
    except psycopg.Error:
        return False
    return bool(row and row[0])


def rpc(db: Rows, kind: str, data: Mapping[str, object], tag: str) -> dict[str, Any]:
    """Send one ``kind`` request through ``resonate.resonate_rpc``; its reply envelope
    (``{}`` when there is none). ``tag`` names the caller in the ``corrId``."""
    request = json.dumps({
        "kind": kind,
        "head": {"corrId": f"rpcdemo-{tag}-{next(_corr)}", "version": PROTOCOL_VERSION},
        "data": data,
    })
    rows = db.rows(RPC_SQL, (request,))
    reply = rows[0][0] if rows else None
    return reply if isinstance(reply, dict) else {}
