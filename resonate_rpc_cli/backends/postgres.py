"""resonate-pg: a PostgreSQL database holding Resonate's schema is the server.

Started by ``up --server postgres`` (a cluster under HOME, see
:mod:`resonate_rpc_cli.postgres.serve`) or reached at ``--server-url
postgresql://...``. It owns what the database needs from rpcdemo (the
``postgres/`` package): reads in SQL (resonate-pg answers 501 to the
searches), settles through the schema's ``resonate_rpc`` (``postgres/writes.py``),
lease release through ``task.release`` (:class:`PgRelease`), the
timers the supervisor fires every second, readiness as a SQL round trip, and
the connector the fork server preloads. psycopg is slow to import, so every
use of it is imported when first needed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from resonate_rpc_cli.backends.base import (
    Prepared,
    ReleaseOutcome,
    ServerSettings,
    Stoppable,
    refuse_exposure,
    refuse_retain,
)
from resonate_rpc_cli.clients.protocol import (
    ProtocolError,
    ReadClient,
    ServerUnreachable,
    WriteClient,
)
from resonate_rpc_cli.contracts.connectors import POSTGRES, connector_of
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home

if TYPE_CHECKING:
    from resonate_rpc_cli.postgres.db import Rows

#: Added to the fork server's preload: the connector and psycopg.
PRELOAD = ("resonate_pg", "services.pgsource")


class PgRelease:
    """Hands a dead node's leases back through ``task.release`` (see ``postgres/release.py``).

    A failure of the database is an outcome (leases then lapse after the TTL).
    """

    def __init__(self, server_url: str, timeout_s: float = 2.0, db: Rows | None = None) -> None:
        if db is None:
            from resonate_rpc_cli.postgres.db import Db  # noqa: PLC0415 (psycopg: slow import)

            db = Db(server_url, timeout_s)
        self.db: Rows = db

    def __call__(self, node: str, node_id: str) -> ReleaseOutcome:
        from resonate_rpc_cli.postgres.release import release_held  # noqa: PLC0415

        try:
            ids = tuple(release_held(self.db, node_id))
        except (ServerUnreachable, ProtocolError) as exc:
            return ReleaseOutcome.failed(node, node_id, exc)
        return ReleaseOutcome.done(node, node_id, ids)


class PostgresBackend:
    """resonate-pg, on a cluster under HOME (``started``) or at a ``postgresql://`` URL."""

    kind = "postgres"
    connector = POSTGRES

    def __init__(self, started: bool) -> None:
        self.started = started

    def server_url(self, settings: ServerSettings) -> str:
        """A started cluster's URL (``up`` names its password file there), else the given one."""
        if not self.started:
            return settings.server_url.rstrip("/")
        if connector_of(settings.server_url) == POSTGRES:
            return settings.server_url
        return f"postgresql://postgres@{settings.host}:{settings.server_port}/postgres"

    def check(self, settings: ServerSettings) -> None:
        refuse_retain(settings)
        refuse_exposure(settings, tokens=False, listens=False)
        if self.started and settings.memory:
            raise UsageError("--memory does not go with --server postgres (a database is durable)")

    def preflight(self, settings: ServerSettings, home: Home) -> Prepared:
        """See :mod:`resonate_rpc_cli.postgres.preflight`."""
        from resonate_rpc_cli.postgres import preflight  # noqa: PLC0415 (psycopg: slow import)

        if not self.started:
            preflight.check_external(settings.server_url)
            return Prepared(settings.server_url, settings.resonate_sql)
        url, schema = preflight.prepare_local(settings.resonate_sql, settings.host,
                                              settings.server_port, home)
        return Prepared(url, schema)

    def server_command(self, settings: ServerSettings, home: Home
                       ) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, "-m", "resonate_rpc_cli.postgres.serve", "--home",
                str(home.root), "--host", settings.host, "--port", str(settings.server_port),
                "--schema", settings.resonate_sql]
        return argv, {}

    def reader(self, url: str, timeout_s: float) -> ReadClient:
        from resonate_rpc_cli.postgres.reads import PgReader  # noqa: PLC0415 (slow import)

        return PgReader(url, timeout_s=timeout_s)

    def writer(self, url: str, timeout_s: float) -> WriteClient:
        from resonate_rpc_cli.postgres.writes import PgWriter  # noqa: PLC0415 (slow import)

        return PgWriter(url, timeout_s=timeout_s)

    def releaser(self, url: str) -> PgRelease:
        return PgRelease(url)

    def start_timers(self, url: str) -> Stoppable | None:
        """The thread firing ``resonate.process_timeouts()`` (see postgres/timers.py)."""
        from resonate_rpc_cli.postgres.timers import TimerDriver  # noqa: PLC0415 (slow import)

        return TimerDriver(url).start()

    def ready(self, url: str) -> bool:
        from resonate_rpc_cli.postgres.db import schema_answers  # noqa: PLC0415 (slow import)

        return schema_answers(url)

    def preload(self) -> tuple[str, ...]:
        return PRELOAD

    def handoff_socket(self, home: Home) -> Path | None:
        return None  # resonate-pg is a database: the links relay every connection to it
