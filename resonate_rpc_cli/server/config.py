"""The embedded server's options, shared by ``python -m resonate_rpc_cli.server`` and
``rpcdemo server`` (both make their flags from :class:`ServerConfig`'s settings
table, build one and call ``serve.serve``).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from resonate_rpc_cli.contracts import values as cv
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import DEFAULT_HOST, DEFAULT_SERVER_PORT
from resonate_rpc_cli.contracts.settings import setting


@dataclass(frozen=True)
class ServerConfig:
    """Every option of the embedded server; each flag is a row of the settings table
    (``contracts/settings.py``), read by both command lines.

    ``store`` is the SQLite file holding the durable state; ``None`` means an
    in-memory server (like ``resonate dev``) that forgets everything on exit.
    ``memory`` records ``--memory``; :func:`with_store` resolves the two.
    """

    host: str = setting(DEFAULT_HOST, flag="--host", help="Address to bind.")
    port: int = setting(DEFAULT_SERVER_PORT, flag="--port", check=cv.port, help="Port to bind.")
    store: Path | None = setting(None, flag="--store", help="SQLite store "
                                 "(default HOME/store.sqlite).")
    memory: bool = setting(False, flag="--memory/--no-memory",
                           help="Keep state in memory only.")
    #: Streams are ended after this many seconds so SDK clients reconnect before
    #: their 300 s aiohttp timeout makes them deaf.
    stream_lifetime_s: float = setting(240.0, flag="--stream-lifetime", check=cv.positive,
                                       metavar="S", help="End SSE streams after S seconds.")
    #: A keepalive comment is written to an idle stream this often.
    keepalive_s: float = setting(15.0, flag="--keepalive", check=cv.positive, metavar="S",
                                 help="Keepalive interval on idle streams (s).")
    #: Messages for a group with no live member are held, at most this many ...
    hold_max: int = setting(10_000, flag="--hold-max", check=cv.whole(1), metavar="N",
                            help="Max messages held for absent listeners.")
    #: ... and for at most this many seconds.
    hold_age_s: float = setting(300.0, flag="--hold-age", check=cv.positive, metavar="S",
                                help="Max age of a held message (s).")
    #: Request bodies above this size are answered 413.
    max_body_bytes: int = setting(4 * 1024 * 1024, flag="--max-body", check=cv.whole(1),
                                  metavar="BYTES", help="Largest accepted request body (bytes).")
    #: ``False`` (``--no-extras``) hides ``/rpcdemo/*`` like a real server.
    extras: bool = setting(True, flag="--no-extras", flag_type=bool, parse=operator.not_,
                           help="Hide /rpcdemo/* like a real server.")
    #: How often timeouts (promise expiry, lease expiry, pending retries) are checked.
    tick_interval_s: float = 0.1
    #: ``True``: SQLite ``synchronous=FULL`` (survives power loss, slower);
    #: the default ``NORMAL`` survives any process crash, including ``kill -9``.
    fsync: bool = setting(False, flag="--fsync/--no-fsync",
                          help="fsync every commit (survive power loss; default survives "
                          "crashes).")
    #: Retention: call trees settled longer ago than this many seconds are dropped
    #: (``None``: kept forever, the default).
    retain_s: float | None = setting(
        None, flag="--retain", flag_type=str, check=cv.duration, optional=True,
        metavar="DURATION",
        help="Drop call trees settled longer ago than this, e.g. 1h (default: keep "
        "everything; a re-sent id of a dropped flow starts it afresh).")
    #: Resonate's token auth (``server/auth.py``): the PEM public key tokens are verified
    #: against (``None``: auth off), and the ``iss``/``aud`` they must carry, if set
    #: (:func:`check_auth`: they need the key).
    auth_public_key: Path | None = setting(
        None, flag="--auth-public-key", metavar="PEM",
        help="Verify Resonate tokens (head.auth, /poll's bearer) against this public key "
        "(RSA, EC or Ed25519): 401 without a valid one, 403 outside its prefix.")
    auth_iss: str | None = setting(None, flag="--auth-iss", metavar="ISS",
                                   help="Tokens must carry this iss.")
    auth_aud: str | None = setting(None, flag="--auth-aud", metavar="AUD",
                                   help="Tokens must carry this aud.")
    #: Append every lease and settlement to this JSONL file (``--journal``; chaos runs).
    journal: Path | None = setting(
        None, flag="--journal", metavar="PATH", parse=Path.absolute,
        help="Append every lease and settlement to this JSONL file (chaos runs).")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def default_store_path(env: Mapping[str, str] | None = None) -> Path:
    """``$RPCDEMO_HOME/store.sqlite`` when RPCDEMO_HOME is set, else ``./.rpcdemo/store.sqlite``."""
    return Home.resolve(env=env).store_path


def check_auth(config: ServerConfig) -> ServerConfig:
    """``config``, or :class:`UsageError` when ``--auth-iss``/``--auth-aud`` come without
    ``--auth-public-key`` (a rule joining settings, so not in the table)."""
    if (config.auth_iss or config.auth_aud) and config.auth_public_key is None:
        raise UsageError("--auth-iss and --auth-aud need --auth-public-key")
    return config


def with_store(config: ServerConfig, default: Path) -> ServerConfig:
    """``config`` with its store resolved: ``None`` with ``memory``, else ``store`` (or
    ``default``) made absolute. :class:`UsageError` for ``--store`` with ``--memory``."""
    if config.memory and config.store is not None:
        raise UsageError("--store and --memory cannot be used together")
    store = None if config.memory else (config.store or default).absolute()
    return dataclasses.replace(config, store=store)
