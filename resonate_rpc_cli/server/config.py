"""The embedded server's options, shared by ``python -m resonate_rpc_cli.server`` and
``rpcdemo server`` (both build a :class:`ServerConfig` and call ``serve.serve``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import DEFAULT_HOST, DEFAULT_SERVER_PORT


@dataclass(frozen=True)
class ServerConfig:
    """Every option of the embedded server.

    ``store`` is the SQLite file holding the durable state; ``None`` means an
    in-memory server (like ``resonate dev``) that forgets everything on exit.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_SERVER_PORT
    store: Path | None = None
    #: Streams are ended after this many seconds so SDK clients reconnect before
    #: their 300 s aiohttp timeout makes them deaf.
    stream_lifetime_s: float = 240.0
    #: A keepalive comment is written to an idle stream this often.
    keepalive_s: float = 15.0
    #: Messages for a group with no live member are held, at most this many ...
    hold_max: int = 10_000
    #: ... and for at most this many seconds.
    hold_age_s: float = 300.0
    #: Request bodies above this size are answered 413.
    max_body_bytes: int = 4 * 1024 * 1024
    #: ``False`` (``--no-extras``) hides ``/rpcdemo/*`` like a real server.
    extras: bool = True
    #: How often timeouts (promise expiry, lease expiry, pending retries) are checked.
    tick_interval_s: float = 0.1
    #: ``True``: SQLite ``synchronous=FULL`` (survives power loss, slower);
    #: the default ``NORMAL`` survives any process crash, including ``kill -9``.
    fsync: bool = False
    #: Retention: call trees settled longer ago than this many seconds are dropped
    #: (``None``: kept forever, the default).
    retain_s: float | None = None
    #: Resonate's token auth (``server/auth.py``): the PEM public key tokens are verified
    #: against (``None``: auth off), and the ``iss``/``aud`` they must carry, if set.
    auth_public_key: Path | None = None
    auth_iss: str | None = None
    auth_aud: str | None = None
    #: Append every lease and settlement to this JSONL file (``--journal``; chaos runs).
    journal: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def default_store_path(env: Mapping[str, str] | None = None) -> Path:
    """``$RPCDEMO_HOME/store.sqlite`` when RPCDEMO_HOME is set, else ``./.rpcdemo/store.sqlite``."""
    return Home.resolve(env=env).store_path
