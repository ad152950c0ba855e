"""Connections handed to the server by the links: adopt them, and cut a link's on demand.

A node's link (``links/``) normally relays every byte between the node and the
server, and that hop (a wake-up of the relay, loopback TCP twice) costs more
than a link may (see benchmarks/README.md, "Links"). While a link has no
fault, the supervisor daemon instead passes each connection the link accepts
to this server (the socket's fd, ``SCM_RIGHTS`` over a Unix datagram socket
under HOME's run dir, mode 0600) and closes its own copy; the server serves it
as if its own listener had accepted it, and remembers which link it came by.
When a fault starts on a link the daemon asks for that link's adopted
connections to be cut: they are aborted with an RST, so the node reconnects,
and its new connections take the link's proxy path, where the fault is.

Messages (one datagram each; the daemon's side is :mod:`resonate_rpc_cli.links.handoff`):

* ``A<link>`` with one fd: adopt that connection.
* ``C<link>`` with one fd (a socket): cut every connection ``link`` handed
  over so far, then write one byte to that socket (the daemon waits for it).

The socket's path comes in the environment (:data:`ENV_ADOPT_SOCKET`), set by
the backend that starts this server (``backends/embedded.py``); without it the
server adopts nothing. Nothing here listens on TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Callable, Mapping
from pathlib import Path

from resonate_rpc_cli.contracts.naming import ENV_ADOPT_SOCKET

ADOPT, CUT = b"A", b"C"
MAX_MESSAGE = 512
#: ``SO_LINGER`` on, timeout 0: ``close`` sends RST instead of FIN (a link's reset, relayed
#: or adopted: ``links/relay.py`` uses this one too).
LINGER_RST = struct.pack("ii", 1, 0)

log = logging.getLogger("rpcdemo.server.adopt")

ProtocolFactory = Callable[[], asyncio.Protocol]


class Adopter:
    """The server's end of the handoff: a bound datagram socket read on the server's loop.

    ``factory`` is the HTTP protocol factory of the server's own listener
    (aiohttp's ``AppRunner.server``). :meth:`open` binds ``path`` (replacing a
    stale file) and starts reading; :meth:`close` stops, unlinks, and leaves
    adopted connections to the server's shutdown.
    """

    def __init__(self, path: Path, factory: ProtocolFactory) -> None:
        self.path = path
        self.factory = factory
        self.loop = asyncio.get_running_loop()
        self.adopted: dict[str, set[asyncio.BaseTransport]] = {}
        self._pending: dict[str, set[asyncio.Task[asyncio.BaseTransport | None]]] = {}
        self._sock: socket.socket | None = None

    def open(self) -> Adopter:
        """Bind and start reading; raise OSError if the socket cannot be bound."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            old = os.umask(0o177)
            try:
                sock.bind(str(self.path))
            finally:
                os.umask(old)
            os.chmod(self.path, 0o600)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.loop.add_reader(sock.fileno(), self._readable)
        return self

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        self.loop.remove_reader(sock.fileno())
        sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def count(self, link: str) -> int:
        """Connections adopted from ``link`` and still open."""
        return len(self._live(link))

    # -- reading ---------------------------------------------------------------

    def _readable(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                msg, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("handoff socket failed: %s", exc)
                return
            self._handle(msg, fds)

    def _handle(self, msg: bytes, fds: list[int]) -> None:
        kind, link = msg[:1], msg[1:].decode("utf-8", "replace")
        if len(fds) > 1 or kind not in (ADOPT, CUT) or (kind == ADOPT and not fds):
            for fd in fds:
                os.close(fd)
            log.warning("ignored a malformed handoff message %r", msg[:40])
            return
        if kind == ADOPT:
            task = self.loop.create_task(self._adopt(link, fds[0]))
            pending = self._pending.setdefault(link, set())
            pending.add(task)
            task.add_done_callback(pending.discard)
        else:
            # what was handed over before this message, not what comes after it; a cut
            # whose reply socket did not arrive (the fd table full) is still carried out
            before = (list(self._live(link)), list(self._pending.get(link, ())))
            ack = socket.socket(fileno=fds[0]) if fds else None
            self.loop.create_task(self._cut(before, ack))

    async def _adopt(self, link: str, fd: int) -> asyncio.BaseTransport | None:
        sock = socket.socket(fileno=fd)
        try:
            sock.setblocking(False)
            transport, _ = await self.loop.connect_accepted_socket(self.factory, sock)
        except OSError as exc:  # the node hung up while its connection was in flight
            log.info("could not adopt a connection from link %s: %s", link, exc)
            sock.close()
            return None
        self._live(link).add(transport)
        return transport

    async def _cut(self, before: tuple[list[asyncio.BaseTransport],
                                       list[asyncio.Task[asyncio.BaseTransport | None]]],
                   ack: socket.socket | None) -> None:
        """Abort the connections handed over before the cut (once those in flight are adopted)."""
        live, pending = before
        try:
            for got in await asyncio.gather(*pending, return_exceptions=True):
                if isinstance(got, asyncio.BaseTransport):
                    live.append(got)
            for transport in live:
                abort_with_rst(transport)
            if ack is not None:
                with contextlib.suppress(OSError):
                    ack.setblocking(False)
                    ack.send(b"k")
        finally:
            if ack is not None:
                ack.close()

    def _live(self, link: str) -> set[asyncio.BaseTransport]:
        live = self.adopted.setdefault(link, set())
        for gone in [t for t in live if t.is_closing()]:
            live.discard(gone)
        return live


def abort_with_rst(transport: asyncio.BaseTransport) -> None:
    """Abort ``transport``'s connection so the peer sees a reset, not an orderly close."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()


def open_adopter(factory: ProtocolFactory, env: Mapping[str, str] | None = None
                 ) -> Adopter | None:
    """The adopter the environment asks for (:data:`ENV_ADOPT_SOCKET`), open; else None.

    A socket that cannot be bound is logged and skipped: the links then keep
    relaying every connection, which is slower but correct.
    """
    raw = (os.environ if env is None else env).get(ENV_ADOPT_SOCKET, "")
    if not raw:
        return None
    try:
        return Adopter(Path(raw), factory).open()
    except OSError as exc:
        log.warning("cannot adopt links' connections on %s: %s", raw, exc)
        return None
