"""What ``up`` checks before anything starts when the server is resonate-pg.

``--server postgres`` needs resonate-pg's schema file (``--resonate-sql``,
``server.resonate_sql`` in rpcdemo.toml or ``$RPCDEMO_RESONATE_SQL``; a
:class:`UsageError`, exit 2, naming where resonate.sql comes from) and the
PostgreSQL server binaries (:class:`NotRunningError`, exit 3).
``--server-url postgresql://...`` needs a database that answers and holds the
resonate schema now (:class:`NotRunningError`). Nothing is started by either.
"""

from __future__ import annotations

import os
from pathlib import Path

from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.postgres.cluster import Cluster, require_bindir
from resonate_rpc_cli.postgres.reads import PgReader
from resonate_rpc_cli.postgres.urls import ENV_RESONATE_SQL, SCHEMA_SOURCE, redact


def schema_path(given: str) -> Path:
    """The schema file to apply: ``given``, else ``$RPCDEMO_RESONATE_SQL``; absolute.

    Raises :class:`UsageError` (one line, where resonate.sql comes from) when
    neither names a readable file.
    """
    raw = given.strip() or os.environ.get(ENV_RESONATE_SQL, "").strip()
    if not raw:
        raise UsageError(f"--server postgres needs resonate-pg's schema file: get resonate.sql "
                         f"from {SCHEMA_SOURCE} and pass --resonate-sql PATH "
                         f"(or set {ENV_RESONATE_SQL})")
    path = Path(raw).expanduser().absolute()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise UsageError(f"--resonate-sql {raw}: no readable file there; get resonate.sql "
                         f"from {SCHEMA_SOURCE}")
    return path


def prepare_local(resonate_sql: str, host: str, port: int, home: Home) -> tuple[str, str]:
    """The URL (naming the password file) of a cluster under ``home`` on ``host:port`` and
    the absolute schema path. Raises as the module docstring says."""
    schema = schema_path(resonate_sql)
    require_bindir()
    return Cluster(home.root, host, port).url, str(schema)


def check_external(url: str) -> None:
    """Raise :class:`NotRunningError` unless ``url`` is a database holding the resonate schema."""
    reader = PgReader(url, timeout_s=3.0)
    if not reader.healthy():
        raise NotRunningError(
            f"no resonate-pg database answers at {redact(url)}: start it and apply resonate.sql "
            f"from {SCHEMA_SOURCE} first, or fix --server-url")
