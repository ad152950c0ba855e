"""Our push source: the SDK's SSE listener, made to survive idleness and to say "connected".

The SDK's :class:`~resonate.connections.sse.SSEConnection` opens its listener
session with aiohttp's default ``ClientTimeout(total=300)``. A stream that is
idle for 300 s then raises a plain ``TimeoutError``, which is not an
``aiohttp.ClientError``, escapes the reconnect loop and kills the listener task
silently: the node keeps running but never hears of work again
(DESIGN.md, "Idle workers go deaf").

:class:`NodeSSEConnection` fixes that in two independent ways:

* the session has no total timeout (only a connect timeout), so a long-lived
  stream is never cut by the client;
* the reconnect loop catches *every* exception (except cancellation), logs it
  and reconnects with a short capped backoff, so whatever else goes wrong the
  listener comes back.

It also reports its state: :attr:`connected` is true while a stream is open,
:attr:`streams` counts the streams opened so far, and every callback passed as
``on_connect`` runs (on the event loop) each time a stream is established.
Nodes use the first one to write their ready file; the gateway's ``/health``
reads :attr:`connected`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
from resonate.connections.sse import SSEConnection
from resonate.retry import ExponentialBackoff

logger = logging.getLogger("rpcdemo.sse")

#: Reconnect ladder: fast first retry, capped low so a restarted server is
#: found again within seconds (the SDK's own ladder goes up to 60 s).
RECONNECT_BACKOFF = ExponentialBackoff(initial=0.2, factor=2.0, max_delay=5.0)

#: A stream shorter than this counts as a failed attempt for the backoff, so a
#: server that accepts and closes at once is not hammered.
MIN_HEALTHY_STREAM_S = 1.0

#: No total timeout (the bug); a bounded connect so an unreachable server is
#: retried instead of waited on.
DEFAULT_CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5.0)


class NodeSSEConnection(SSEConnection):
    """An :class:`SSEConnection` that never goes deaf and reports when it is connected.

    ``client_timeout`` exists for tests: pass a tiny ``total`` to reproduce, in
    seconds, what the SDK's 300 s default does to an idle stream, and to show
    this loop recovering from it.
    """

    def __init__(
        self,
        url: str,
        pid: str,
        group: str,
        auth: str | None = None,
        *,
        client_timeout: aiohttp.ClientTimeout | None = None,
        on_connect: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(url, pid=pid, group=group, auth=auth, backoff=RECONNECT_BACKOFF)
        self._client_timeout = client_timeout or DEFAULT_CLIENT_TIMEOUT
        self._on_connect: list[Callable[[], None]] = [on_connect] if on_connect else []
        #: True while a stream is open.
        self.connected = False
        #: Number of streams established so far (reconnects = streams - 1).
        self.streams = 0

    def add_connect_callback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop each time a stream is established."""
        self._on_connect.append(callback)

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self._stopped:
                raise RuntimeError("source has been stopped")
            self._session = aiohttp.ClientSession(timeout=self._client_timeout)
        return self._session

    def _established(self) -> None:
        self.connected = True
        self.streams += 1
        for callback in list(self._on_connect):
            try:
                callback()
            except Exception:
                logger.exception("connect callback failed")

    async def _sse_loop(self) -> None:
        """Connect, read, and reconnect until :meth:`stop`; no exception ends it."""
        url = f"{self._url}/poll/{self._group}/{self._pid}"
        headers = self._auth_headers({"Accept": "text/event-stream"})
        loop = asyncio.get_running_loop()
        failures = 0
        while self._running:
            opened_at: float | None = None
            try:
                session = self._ensure_session()
                async with session.get(url, headers=headers) as resp:
                    if not 200 <= resp.status < 300:
                        raise ConnectionError(f"SSE endpoint {url} answered {resp.status}")
                    opened_at = loop.time()
                    self._established()
                    try:
                        await self._read_stream(resp)
                    finally:
                        self.connected = False
                logger.info("SSE stream %s ended; reconnecting", url)
            except asyncio.CancelledError:
                self.connected = False
                raise
            except Exception as exc:  # any failure must lead to a reconnect, never to deafness
                logger.warning("SSE stream %s failed (%s: %s); reconnecting",
                               url, type(exc).__name__, exc)
            if not self._running:
                break
            healthy = opened_at is not None and loop.time() - opened_at >= MIN_HEALTHY_STREAM_S
            failures = 0 if healthy else failures + 1
            if failures:
                await self._sleeper(self._backoff.delay(failures - 1))
