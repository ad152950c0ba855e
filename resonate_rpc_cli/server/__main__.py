"""``python -m resonate_rpc_cli.server``: run the embedded server in the foreground.

Flags as in docs/ARCHITECTURE.md. Without ``--store`` or ``--memory`` the state
is kept in ``$RPCDEMO_HOME/store.sqlite`` (or ``./.rpcdemo/store.sqlite``).
Exit codes (``resonate_rpc_cli.contracts.errors``): 0 after SIGTERM/SIGINT, 2 for bad
flags, 3 when the port is in use or the store cannot be opened, 1 when the
store fails while serving. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from resonate_rpc_cli.contracts.durations import parse_duration
from resonate_rpc_cli.contracts.errors import exit_code_of
from resonate_rpc_cli.contracts.lifeline import start_lifeline
from resonate_rpc_cli.server.config import ServerConfig, default_store_path
from resonate_rpc_cli.server.serve import serve


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _duration(text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return value


def parse_args(argv: list[str] | None = None) -> ServerConfig:
    """Parse the command line into a :class:`ServerConfig` (exits 2 on bad flags)."""
    d = ServerConfig()
    p = argparse.ArgumentParser(
        prog="python -m resonate_rpc_cli.server",
        description="The rpcdemo embedded Resonate server (durable by default).",
    )
    p.add_argument("--host", default=d.host, help="address to bind (default %(default)s)")
    p.add_argument("--port", type=_port, default=d.port, help="port (default %(default)s)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--store", type=Path,
                       help="SQLite store (default $RPCDEMO_HOME/store.sqlite)")
    where.add_argument("--memory", action="store_true", help="keep state in memory only")
    p.add_argument("--stream-lifetime", type=_positive, default=d.stream_lifetime_s,
                   metavar="S", help="end SSE streams after S seconds (default %(default)s)")
    p.add_argument("--keepalive", type=_positive, default=d.keepalive_s, metavar="S",
                   help="keepalive comment interval on idle streams (default %(default)s)")
    p.add_argument("--hold-max", type=_positive_int, default=d.hold_max, metavar="N",
                   help="max messages held for absent listeners (default %(default)s)")
    p.add_argument("--hold-age", type=_positive, default=d.hold_age_s, metavar="S",
                   help="max age of a held message (default %(default)s)")
    p.add_argument("--max-body", type=_positive_int, default=d.max_body_bytes, metavar="BYTES",
                   help="largest accepted request body (default %(default)s)")
    p.add_argument("--no-extras", action="store_true", help="hide /rpcdemo/* like a real server")
    p.add_argument("--retain", type=_duration, default=None, metavar="DURATION",
                   help="drop call trees settled longer ago than this, e.g. 1h "
                   "(default: keep everything)")
    p.add_argument("--fsync", action="store_true",
                   help="fsync every commit (survive power loss; default survives crashes)")
    p.add_argument("--auth-public-key", type=Path, default=None, metavar="PEM",
                   help="verify Resonate tokens against this public key (RSA, EC or Ed25519)")
    p.add_argument("--auth-iss", default=None, metavar="ISS", help="tokens must carry this iss")
    p.add_argument("--auth-aud", default=None, metavar="AUD", help="tokens must carry this aud")
    p.add_argument("--journal", type=Path, default=None, metavar="PATH",
                   help="append every lease and settlement to this JSONL file (chaos runs)")
    args = p.parse_args(argv)
    if (args.auth_iss or args.auth_aud) and args.auth_public_key is None:
        p.error("--auth-iss and --auth-aud need --auth-public-key")
    store = None if args.memory else (args.store or default_store_path()).absolute()
    return ServerConfig(
        host=args.host, port=args.port, store=store, stream_lifetime_s=args.stream_lifetime,
        keepalive_s=args.keepalive, hold_max=args.hold_max, hold_age_s=args.hold_age,
        max_body_bytes=args.max_body, extras=not args.no_extras, fsync=args.fsync,
        retain_s=args.retain, auth_public_key=args.auth_public_key,
        auth_iss=args.auth_iss, auth_aud=args.auth_aud,
        journal=args.journal.absolute() if args.journal else None,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    start_lifeline()
    return exit_code_of("rpcdemo server", lambda: serve(config))


if __name__ == "__main__":
    sys.exit(main())
