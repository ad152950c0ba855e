"""``serve(config)``: run the embedded server in the foreground until SIGTERM/SIGINT.

Both ``python -m resonate_rpc_cli.server`` and ``rpcdemo server`` call it.
It opens the store (if any), binds the port, prints one line saying
durable (with the store's path) or memory and the URL, serves (reading the
store's records while serving, :mod:`.loader`), and on
SIGTERM/SIGINT stops serving, commits and closes the store, and returns.

Failures raise :class:`~resonate_rpc_cli.contracts.errors.RpcdemoError` subclasses with
one-line messages: :class:`NotRunningError` (exit 3) when the port is in use,
the address cannot be bound or the store cannot be opened; a plain
:class:`RpcdemoError` (exit 1) when the store fails while serving.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import sys
from collections.abc import Callable
from typing import TextIO

from aiohttp import web

from resonate_rpc_cli.contracts.errors import NotRunningError, RpcdemoError
from resonate_rpc_cli.server.adopt import open_adopter
from resonate_rpc_cli.server.app import EmbeddedServer
from resonate_rpc_cli.server.auth import Authorizer, load_authorizer
from resonate_rpc_cli.server.config import ServerConfig
from resonate_rpc_cli.server.engine import Engine
from resonate_rpc_cli.server.store import Store, StoreError

log = logging.getLogger("rpcdemo.server")


def serve(config: ServerConfig, out: TextIO | None = None,
          prepare: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT (then return normally); raise ``RpcdemoError`` on failure.

    The auth key is read first (a bad one: :class:`UsageError`, exit 2), then
    ``prepare`` runs (what must exist before the store opens: the CLI's HOME), so
    bad input creates nothing."""
    auth = load_authorizer(config)
    if prepare is not None:
        prepare()
    engine = open_engine(config)
    if config.journal is not None:
        try:
            engine.keep_journal(config.journal)
        except OSError as exc:
            engine.close()
            raise NotRunningError(f"cannot open the journal {config.journal}: {exc}") from exc
    try:
        asyncio.run(_serve(config, engine, out or sys.stdout, auth))
    finally:
        try:
            engine.close()
        except StoreError as exc:
            log.error("could not close the store cleanly: %s", exc)


def open_engine(config: ServerConfig) -> Engine:
    """An engine on ``config.store`` (its records read while serving) or in memory;
    ``NotRunningError`` if unusable."""
    if config.store is None:
        return Engine()
    try:
        return Engine.open(Store.open(config.store, fsync=config.fsync))
    except StoreError as exc:
        raise NotRunningError(str(exc)) from exc


async def _serve(config: ServerConfig, engine: Engine, out: TextIO,
                 auth: Authorizer | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    fatal: list[str] = []

    def on_fatal(message: str) -> None:
        fatal.append(message)
        stop.set()

    server = EmbeddedServer(config, engine, on_fatal=on_fatal, auth=auth)
    runner = web.AppRunner(
        server.make_app(), handle_signals=False, access_log=None,
        shutdown_timeout=1.0, handler_cancellation=True,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise NotRunningError(
                    f"port {config.port} on {config.host} is already in use"
                ) from exc
            raise NotRunningError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
            ) from exc
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        adopter = open_adopter(runner.server) if runner.server is not None else None
        mode = f"durable, store {config.store}" if config.store else "memory, nothing persists"
        print(f"rpcdemo embedded server ({mode}) listening on {config.url}", file=out, flush=True)
        await stop.wait()
        log.info("stopping")
        if adopter is not None:
            adopter.close()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    if fatal:
        raise RpcdemoError(f"store failure: {fatal[0]}")
