"""Running the console: bind, print the URL with the token, serve until told to stop.

:func:`serve_console` is ``rpcdemo ui``'s foreground loop (until Ctrl-C,
SIGTERM, or the topology going away); :class:`ConsoleThread` is ``up --ui``'s,
beside the terminal's live view. Both bind ``host:port`` (port 0: a free
one, chosen by the kernel) and fail with :class:`NotRunningError` (exit 3)
when the address cannot be bound, before anything is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web

from resonate_rpc_cli.contracts.errors import NotRunningError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe.live import LiveModel
from resonate_rpc_cli.web.actions import Actor
from resonate_rpc_cli.web.app import make_app
from resonate_rpc_cli.web.feed import Feed
from resonate_rpc_cli.web.token import console_token


def console_url(host: str, port: int, token: str) -> str:
    """The URL to open (the token in it, as Jupyter prints its own)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={quote(token)}"


@dataclass
class Console:
    """One console being served (after :meth:`start`, ``url`` says where)."""

    home: Home
    host: str = "127.0.0.1"
    port: int = 0
    feed: Feed | None = None
    url: str = ""
    _runner: web.AppRunner | None = field(default=None, repr=False)

    async def start(self) -> str:
        """Bind and serve; the URL. Raises :class:`NotRunningError` if it cannot bind."""
        token = console_token(self.home)
        self.feed = self.feed or Feed(self.home)
        app = make_app(self.feed, token, Actor(self.home))
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=0.5, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise NotRunningError(f"port {self.port} on {self.host} is already in use") \
                    from exc
            raise NotRunningError(f"cannot listen on {self.host}:{self.port}: "
                                  f"{exc.strerror or exc}") from exc
        addresses = self._runner.addresses  # the port the kernel chose for port 0
        port = int(addresses[0][1]) if addresses else self.port
        self.url = console_url(self.host, port, token)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def serve_console(home: Home, host: str, port: int, on_ready: Callable[[str], None]) -> str:
    """Serve until Ctrl-C/SIGTERM (``"interrupted"``) or the topology stops (``"gone"``)."""

    async def main() -> str:
        console = Console(home, host, port)
        on_ready(await console.start())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        assert console.feed is not None
        try:
            while not stop.is_set() and not console.feed.gone:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)
            # let open pages receive ``gone`` before the server closes
            await asyncio.sleep(0.3 if console.feed.gone else 0)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await console.stop()
        return "gone" if console.feed.gone else "interrupted"

    return asyncio.run(main())


class ConsoleThread:
    """The console on a thread of its own (``up --ui``: the live view keeps the terminal)."""

    def __init__(self, home: Home, host: str = "127.0.0.1", port: int = 0,
                 model: LiveModel | None = None) -> None:
        """``model``: the terminal live view's, which that view refreshes (None: the
        console polls a model of its own)."""
        feed = Feed(home, model=model, drives=model is None)
        self.console = Console(home, host, port, feed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="console",
                                        daemon=True)

    def start(self) -> str:
        """Serve; the URL. Raises :class:`NotRunningError` if it cannot bind."""
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self.console.start(), self._loop).result(30)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.console.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
