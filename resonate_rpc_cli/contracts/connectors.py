"""How a node reaches its server, decided by the server URL's scheme alone (pure).

A node (``services/``), the gateway and ``rpcdemo node`` on another host only
have ``RESONATE_URL``; they may import nothing above ``contracts``, so the
choice of connector is this one function of the URL, not the supervisor's
backend (``resonate_rpc_cli.backends``), which maps each of its backends to one
of these connector names. :data:`HTTP`: the SDK's HTTP network and our SSE
source (``http://``/``https://``); :data:`POSTGRES`: resonate-pg through
``resonate_pg.PostgresConnection`` (a libpq URI, ``postgresql://`` or
``postgres://``, any case).
"""

from __future__ import annotations

HTTP = "http"
POSTGRES = "postgres"
HTTP_PREFIXES = ("http://", "https://")
#: URL schemes of a resonate-pg database (a libpq connection URI) as the server.
POSTGRES_PREFIXES = ("postgresql://", "postgres://")
#: The rule every server URL follows (the message of a bad one).
URL_RULE = "must be an http:// or https:// URL or a postgresql:// database"


def connector_of(url: str) -> str | None:
    """:data:`HTTP` or :data:`POSTGRES` for a server URL; ``None`` when no connector reads it."""
    if url.startswith(HTTP_PREFIXES):
        return HTTP
    if url.strip().lower().startswith(POSTGRES_PREFIXES):
        return POSTGRES
    return None
