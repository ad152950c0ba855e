"""One node's link: a loopback TCP proxy to the server that can be broken on purpose.

Every node of a topology started by ``up`` reaches the server through its own
:class:`Link` (``127.0.0.1:<port>`` → the server's address), so one node's
network can fail while the others' works. Faults, all without root:

* **partition**: nothing passes either way. The proxy stops reading both
  sides of every open connection (``pause_reading``) and holds what it had
  already read, so peers see what a real partition looks like: writes go
  into kernel buffers, reads hang, nobody is told. New connections are
  accepted but never connected upstream (a request on one hangs too).
  On heal, reading resumes and held bytes are delivered in order, so the TCP
  streams survive (a stalled SSE stream continues; a request sent during the
  partition is answered after it).
* **delay**: every chunk is delivered ``delay ± jitter`` ms later, in each
  direction (so a request/response pays it twice), never reordered.
* **reset**: every open connection is aborted with an RST (``SO_LINGER 0``);
  the link stays up for new connections.

Built on plain asyncio protocols, with no library: PyPI has no well-kept
asyncio TCP fault proxy (``asynctcpproxy`` 0.4.2 is from 2019 and has no
faults; ``toxiproxy-python`` is only a client of toxiproxy, a Go server we
cannot fetch here). Protocols rather than streams because a chunk is
forwarded inside ``data_received`` with no task switch, which keeps the cost
of a healthy link low (see benchmarks/README.md); back-pressure follows the
transports' ``pause_writing``/``resume_writing``.

Everything here runs on one event loop thread; nothing is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from collections import deque

from resonate_rpc_cli.links.status import LinkState, LinkStatus

#: ``SO_LINGER`` on, timeout 0: ``close`` sends RST instead of FIN.
_LINGER_RST = struct.pack("ii", 1, 0)


class _Side(asyncio.Protocol):
    """One TCP end of a proxied connection (the node's or the server's)."""

    def __init__(self, pipe: _Pipe) -> None:
        self.pipe = pipe
        self.transport: asyncio.Transport | None = None
        #: our peer's write buffer is full: stop reading here until it drains
        self.throttled = False
        self.lost = False
        self.out: _Direction | None = None  # bytes read here go out this way

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pipe.side_made(self)

    def data_received(self, data: bytes) -> None:
        if self.out is not None:
            self.out.push(data)

    def eof_received(self) -> bool:
        return False  # no half-close: the transport closes, connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.pipe.side_lost(self)

    def pause_writing(self) -> None:
        self.pipe.throttle(self, True)

    def resume_writing(self) -> None:
        self.pipe.throttle(self, False)

    def set_reading(self, on: bool) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        if on and not t.is_reading():
            t.resume_reading()
        elif not on and t.is_reading():
            t.pause_reading()


class _Direction:
    """Bytes on their way to ``dst``: delivered now, later (delay), or held (partition).

    Order is kept: a chunk is never due before the one queued ahead of it.
    ``closing`` closes ``dst`` once everything queued is delivered.
    """

    def __init__(self, link: Link, dst: _Side) -> None:
        self.link = link
        self.dst = dst
        self.queue: deque[tuple[float, bytes]] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.last_due = 0.0
        self.closing = False

    def push(self, data: bytes) -> None:
        link = self.link
        if not self.queue and not link.partitioned and link.delay_ms <= 0:
            self._write(data)
            return
        due = max(link.loop.time() + link.sample_delay_s(), self.last_due)
        self.last_due = due
        self.queue.append((due, data))
        self.arm()

    def close_after_drain(self) -> None:
        self.closing = True
        self.arm()

    def arm(self) -> None:
        if self.timer is not None or self.link.partitioned:
            return
        if self.queue:
            self.timer = self.link.loop.call_at(self.queue[0][0], self.pump)
        elif self.closing:
            self._close()

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def flush_now(self) -> None:
        """Make everything queued due at once (heal clears a delay too)."""
        now = self.link.loop.time()
        self.queue = deque((min(due, now), data) for due, data in self.queue)
        self.last_due = min(self.last_due, now)
        self.disarm()
        self.arm()

    def pump(self) -> None:
        self.timer = None
        now = self.link.loop.time()
        while self.queue and self.queue[0][0] <= now and not self.link.partitioned:
            self._write(self.queue.popleft()[1])
        self.arm()

    def _write(self, data: bytes) -> None:
        t = self.dst.transport
        if t is not None and not t.is_closing():
            t.write(data)

    def _close(self) -> None:
        t = self.dst.transport
        if t is not None:
            t.close()


class _Pipe:
    """One proxied connection: the node's end, the server's end, a direction each way."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.down = _Side(self)  # the node's end (accepted by the link)
        self.up: _Side | None = None  # the server's end, once connecting
        self.connecting: asyncio.Task[None] | None = None
        self.closed = False

    def sides(self) -> list[_Side]:
        return [self.down] if self.up is None else [self.down, self.up]

    # -- wiring --------------------------------------------------------------

    def side_made(self, side: _Side) -> None:
        if side is self.down:
            side.set_reading(False)  # nowhere to forward to until the server's end is up
            self.link.pipes.add(self)
            if not self.link.partitioned:
                self.connect()
            return
        self.down.out = _Direction(self.link, side)
        side.out = _Direction(self.link, self.down)
        self.update_reading()

    def connect(self) -> None:
        if self.connecting is None and not self.closed:
            self.connecting = self.link.loop.create_task(self._connect())

    async def _connect(self) -> None:
        host, port = self.link.upstream
        try:
            await self.link.loop.create_connection(self._make_up, host, port)
        except OSError:
            self.abort()  # the node sees its connection reset, as if refused

    def _make_up(self) -> _Side:
        self.up = _Side(self)
        return self.up

    def side_lost(self, side: _Side) -> None:
        """One end closed: close the other once what is queued for it is delivered."""
        if all(s.lost or s.transport is None for s in self.sides()) or side.out is None:
            self.finish()
            return
        side.out.close_after_drain()

    def finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.link.pipes.discard(self)
        for side in self.sides():
            if side.out is not None:
                side.out.disarm()
            if side.transport is not None:
                side.transport.close()
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()

    # -- flow control ----------------------------------------------------------

    def throttle(self, side: _Side, full: bool) -> None:
        """``side``'s write buffer filled or drained: stop or restart reading its peer."""
        peer = self.up if side is self.down else self.down
        if peer is not None:
            peer.throttled = full
        self.update_reading()

    def update_reading(self) -> None:
        ready = self.up is not None and self.up.transport is not None
        for side in self.sides():
            side.set_reading(ready and not self.link.partitioned and not side.throttled)

    # -- faults ----------------------------------------------------------------

    def on_partition(self) -> None:
        self.update_reading()
        for side in self.sides():
            if side.out is not None:
                side.out.disarm()

    def on_heal(self) -> None:
        if self.up is None:
            self.connect()
            return
        self.update_reading()
        for side in self.sides():
            if side.out is not None:
                side.out.flush_now()

    def abort(self) -> None:
        """Close both ends with an RST (``SO_LINGER`` 0)."""
        for side in self.sides():
            t = side.transport
            if t is None:
                continue
            sock = t.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            t.abort()
        self.finish()


class Link:
    """A listening port on 127.0.0.1 that forwards to ``upstream`` unless broken.

    Create it on the loop that will run it, then ``await start()``. Fault
    methods take effect at once on every open connection and on new ones.
    """

    def __init__(self, node: str, upstream: tuple[str, int], *,
                 rng: random.Random | None = None) -> None:
        self.node = node
        self.upstream = upstream
        self.loop = asyncio.get_running_loop()
        self.pipes: set[_Pipe] = set()
        self.partitioned = False
        self.delay_ms = 0.0
        self.jitter_ms = 0.0
        self.until: float | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._server: asyncio.Server | None = None
        self._rng = rng or random.Random()
        self.port = 0

    async def start(self, port: int = 0) -> int:
        """Listen on ``127.0.0.1:port`` (0: any free port); return the port."""
        self._server = await self.loop.create_server(
            lambda: _Pipe(self).down, "127.0.0.1", port, reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop listening and drop every connection (with RST)."""
        self._cancel_expiry()
        if self._server is not None:
            self._server.close()
        for pipe in list(self.pipes):
            pipe.abort()
        if self._server is not None:
            await self._server.wait_closed()

    # -- faults ----------------------------------------------------------------

    def partition(self, for_s: float | None = None) -> None:
        """Stop all traffic both ways; heal by itself after ``for_s`` seconds if given."""
        self._cancel_expiry()
        if for_s is not None:
            self._expiry = self.loop.call_later(for_s, self.heal)
            self.until = time.time() + for_s
        if not self.partitioned:
            self.partitioned = True
            for pipe in list(self.pipes):
                pipe.on_partition()

    def delay(self, delay_ms: float, jitter_ms: float = 0.0) -> None:
        """Deliver every chunk ``delay_ms ± jitter_ms`` later, each way, in order."""
        self.delay_ms = max(0.0, delay_ms)
        self.jitter_ms = max(0.0, min(jitter_ms, self.delay_ms))

    def reset(self) -> int:
        """Abort every open connection with an RST; return how many there were."""
        pipes = list(self.pipes)
        for pipe in pipes:
            pipe.abort()
        return len(pipes)

    def heal(self) -> None:
        """Clear every fault: traffic flows again, held bytes are delivered in order."""
        self._cancel_expiry()
        self.delay_ms = self.jitter_ms = 0.0
        self.partitioned = False
        for pipe in list(self.pipes):
            pipe.on_heal()

    def _cancel_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self.until = None

    def sample_delay_s(self) -> float:
        if self.delay_ms <= 0:
            return 0.0
        ms = self.delay_ms + self._rng.uniform(-self.jitter_ms, self.jitter_ms)
        return max(0.0, ms) / 1000.0

    @property
    def state(self) -> LinkState:
        if self.partitioned:
            return "partitioned"
        return "delayed" if self.delay_ms > 0 else "ok"

    def status(self) -> LinkStatus:
        return LinkStatus(self.node, self.state, self.delay_ms, self.jitter_ms,
                          len(self.pipes), self.until, self.port)
