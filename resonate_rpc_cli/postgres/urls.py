"""How to show a Postgres server URL, and where its schema comes from (pure).

A Postgres server URL is a libpq connection URI (``postgresql://`` or
``postgres://``; which URLs are is ``contracts/connectors.py``). A local
cluster's URL names the password file in its query
(``?passfile=HOME/postgres/pgpass``), so the URL itself carries no secret;
:func:`redact` hides a password a user put in a URL before it is shown.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["ENV_RESONATE_SQL", "SCHEMA_SOURCE", "describe", "redact"]

#: Where resonate.sql comes from (named by every error about a missing schema).
SCHEMA_SOURCE = "https://github.com/resonatehq/resonate-pg (resonate.sql)"
#: The environment variable naming the schema file.
ENV_RESONATE_SQL = "RPCDEMO_RESONATE_SQL"


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for status lines and errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}{port}", parts.path, parts.query,
                       parts.fragment))


def describe(url: str) -> str:
    """``host:port/database`` of a Postgres URL, for ``status`` (no user, no password)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.hostname or 'localhost'}{port}{parts.path or '/'}"
