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

from resonate_rpc_cli.contracts.errors import UsageError, exit_code_of
from resonate_rpc_cli.contracts.lifeline import start_lifeline
from resonate_rpc_cli.contracts.settings import add_arguments, build, from_flags
from resonate_rpc_cli.server.config import (
    ServerConfig,
    check_auth,
    default_store_path,
    with_store,
)
from resonate_rpc_cli.server.serve import serve


def parse_args(argv: list[str] | None = None) -> ServerConfig:
    """Parse the command line into a :class:`ServerConfig` (exits 2 on bad flags).

    The flags are :class:`ServerConfig`'s settings table (``rpcdemo server`` has the same).
    """
    p = argparse.ArgumentParser(
        prog="python -m resonate_rpc_cli.server",
        description="The rpcdemo embedded Resonate server (durable by default).",
    )
    add_arguments(p, ServerConfig)
    args = p.parse_args(argv)
    try:
        return with_store(check_auth(build(ServerConfig, from_flags(ServerConfig, vars(args)))),
                          default_store_path())
    except UsageError as exc:
        p.error(str(exc))


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    start_lifeline()
    return exit_code_of("rpcdemo server", lambda: serve(config))


if __name__ == "__main__":
    sys.exit(main())
