"""Nodes on resonate-pg: ``PostgresConnection`` as network and source, and when it is ready.

``resonate_pg.PostgresConnection`` is both the SDK's network (requests run
``resonate.resonate_rpc``) and its message source (outbox rows, drained on
LISTEN/NOTIFY and on a 0.25 s tick). It says nothing about being connected,
so :class:`ListenWatch` wraps its sessions (the connector's documented seam,
``PgSessions``) and watches them: the node is ready once its LISTEN
connection listens on both its addresses and a drain has completed after
that, i.e. everything already queued for it has been claimed and anything
queued later wakes it. :attr:`ListenWatch.connected` drops when the LISTEN
connection ends (the database restarts); the connector reconnects by itself
and ``on_connect`` runs again.

Timers are not driven from here (``drive_timers=False``): the supervisor fires
``resonate.process_timeouts()`` once a second instead of every node on every
drain.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from resonate_pg import PostgresConnection, PsycopgSessions
from resonate_pg.client import PgConn, PgCursor, PgNotify, PgSessions

#: Pooled query connections per node: the database's connections are the scarce
#: resource (16 replicas of nine groups), and each request is a short local query.
POOL_MAX = 4
#: LISTEN statements the connector issues per listening session (unicast, anycast).
ADDRESSES = 2


class ListenWatch:
    """``PgSessions`` that delegate to ``inner`` and report when the node is connected."""

    def __init__(self, inner: PgSessions, on_connect: Callable[[], None] | None = None) -> None:
        self.inner = inner
        self.on_connect = on_connect
        self.listening = False
        self.connected = False

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[PgConn]:
        async with self.inner.session() as conn:
            yield conn
        if self.listening and not self.connected:
            self.connected = True
            if self.on_connect is not None:
                self.on_connect()

    async def dedicated(self) -> PgConn:
        return _WatchedListen(await self.inner.dedicated(), self)

    async def close(self) -> None:
        self.listening = self.connected = False
        await self.inner.close()


class _WatchedListen:
    """The LISTEN connection: counts its LISTENs, notices when its stream ends."""

    def __init__(self, conn: PgConn, watch: ListenWatch) -> None:
        self.conn = conn
        self.watch = watch
        self.listens = 0

    async def execute(self, query: str, params: Sequence[Any] | None = None) -> PgCursor:
        cursor = await self.conn.execute(query, params)
        if query.lstrip().upper().startswith("LISTEN"):
            self.listens += 1
            self.watch.listening = self.listens >= ADDRESSES
        return cursor

    async def notifies(self) -> AsyncIterator[PgNotify]:
        try:
            async for note in self.conn.notifies():
                yield note
        finally:
            self.watch.listening = self.watch.connected = False

    async def close(self) -> None:
        self.watch.listening = self.watch.connected = False
        await self.conn.close()


def postgres_connection(url: str, pid: str, group: str, watch_connect: Callable[[], None] | None
                        ) -> tuple[PostgresConnection, ListenWatch]:
    """The node's connection to the resonate-pg database at ``url`` and its watch."""
    watch = ListenWatch(PsycopgSessions(url, max_size=POOL_MAX), watch_connect)
    conn = PostgresConnection(sessions=watch, pid=pid, group=group, drive_timers=False)
    return conn, watch
