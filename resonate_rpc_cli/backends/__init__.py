"""The kinds of Resonate server rpcdemo runs on, behind one seam (see :mod:`.base`).

Registration is here, one line per backend, in the order ``--server`` lists
their kinds; a new backend is one module plus one ``register`` line.
"""

from resonate_rpc_cli.backends import binary, embedded, http, postgres
from resonate_rpc_cli.backends.base import (
    EXTERNAL,
    Backend,
    Prepared,
    ReleaseOutcome,
    backend_for,
    read_client,
    register,
    server_kinds,
)

register(embedded.EmbeddedBackend)
register(binary.BinaryBackend)
register(postgres.PostgresBackend)
register(http.HttpBackend)

__all__ = ["EXTERNAL", "Backend", "Prepared", "ReleaseOutcome", "backend_for", "read_client",
           "register", "server_kinds"]
