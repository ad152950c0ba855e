"""One node's link: a loopback TCP proxy to the server that can be broken on purpose.

Every node of a topology started by ``up`` reaches the server through its own
:class:`Link` (``127.0.0.1:<port>`` → the server's address), so one node's
network can fail while the others' works. Faults, all without root:

* **partition**: nothing passes either way. The proxy stops reading both
  sides of every open connection and holds what it had already read, so
  peers see what a real partition looks like: writes go into kernel
  buffers, reads hang, nobody is told. New connections are accepted but
  never connected upstream (a request on one hangs too). On heal, reading
  resumes and held bytes are delivered in order, so the TCP streams survive
  (a stalled SSE stream continues; a request sent during the partition is
  answered after it).
* **delay**: every chunk is delivered ``delay ± jitter`` ms later, in each
  direction (so a request/response pays it twice), never reordered.
* **reset**: every open connection is aborted with an RST (``SO_LINGER 0``);
  the link stays up for new connections.

While the link has no fault and the server can adopt connections (the
embedded server, see :mod:`.handoff`), a new connection is not relayed at all:
its fd is handed to the server, which serves it directly, so the healthy
path has no hop. A fault first cuts the connections handed over (the node
sees them reset and reconnects), and connections made while it lasts are
relayed, so every fault acts on them exactly as described above.

The bytes move on a thread of the link's own (:mod:`.relay`: one epoll loop,
``recv`` then ``send`` with nothing between), not on the asyncio loop that
owns the link: asyncio's transports and protocols cost several times more
per chunk, and every request crosses a link twice (see
benchmarks/README.md, "Links"). PyPI has no well-kept TCP fault proxy
(``asynctcpproxy`` 0.4.2 is from 2019 and has no faults;
``toxiproxy-python`` is only a client of toxiproxy, a Go server).

Create a link on the asyncio loop that will own it (a timed partition heals
on that loop); its methods may be called from that loop's thread.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from concurrent.futures import Future

from resonate_rpc_cli.links.handoff import Handoff
from resonate_rpc_cli.links.relay import Relay
from resonate_rpc_cli.links.status import LinkPath, LinkState, LinkStatus


class Link:
    """A listening port on 127.0.0.1 that forwards to ``upstream`` unless broken.

    Create it on the loop that will run it, then ``await start()``. Fault
    methods take effect at once on every open connection and on new ones.
    """

    def __init__(self, node: str, upstream: tuple[str, int], *,
                 rng: random.Random | None = None, handoff: Handoff | None = None) -> None:
        self.node = node
        self.handoff = handoff
        self.handed_off = 0  # connections given to the server so far
        #: the last cut asked of the server (its result: confirmed), None before any
        self.cutting: Future[bool] | None = None
        self.upstream = upstream
        self.loop = asyncio.get_running_loop()
        self.delay_ms = 0.0
        self.jitter_ms = 0.0
        self.until: float | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._relay: Relay | None = None
        self._rng = rng or random.Random()
        self.port = 0

    async def start(self, port: int = 0) -> int:
        """Listen on ``127.0.0.1:port`` (0: any free port); return the port.

        Raises OSError if the port cannot be bound or ``upstream`` not resolved.
        """
        host, up_port = self.upstream
        infos = await self.loop.getaddrinfo(host, up_port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self._relay = Relay(listener, (family, (str(address[0]), int(address[1]))),
                            self.sample_delay_s, self.node)
        if self.handoff is not None:
            self._relay.handoff = self._give
        self._relay.start()
        self.port = int(listener.getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop listening and drop every connection (with RST)."""
        self._cancel_expiry()
        relay, self._relay = self._relay, None
        if relay is not None:
            relay.stop()

    def _give(self, sock: socket.socket) -> bool:
        """On the relay's thread, under its lock: hand ``sock`` to the server if healthy."""
        relay, handoff = self._relay, self.handoff
        if handoff is None or relay is None or relay.partitioned or relay.delayed:
            return False
        self.handed_off += 1  # before: the server may answer before give() returns
        if not handoff.give(self.node, sock):
            self.handed_off -= 1
            return False
        sock.close()
        return True

    def _cut(self) -> None:
        """Start aborting the connections handed to the server (a fault is now in force).

        The cut runs on a thread of its own, so the link's loop never waits on the
        server; :attr:`cutting` is its future (the switchboard waits for it before it
        answers, :meth:`cut_finished` for a caller of its own), and it keeps asking
        until the server confirms or is gone (:meth:`Handoff.cut_until_done`).
        """
        handoff = self.handoff
        if handoff is None:
            return
        done: Future[bool] = Future()
        self.cutting = done

        def run() -> None:
            try:
                done.set_result(handoff.cut_until_done(self.node))
            except BaseException as exc:  # handed to whoever waits
                done.set_exception(exc)

        threading.Thread(target=run, name=f"rpcdemo-cut-{self.node}", daemon=True).start()

    def cut_finished(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the last cut; True once the server confirmed it
        (or there was none to make)."""
        cutting = self.cutting
        if cutting is None:
            return True
        try:
            return cutting.result(timeout_s)
        except TimeoutError:
            return False

    @property
    def path(self) -> LinkPath:
        """How a new connection goes now: handed to the server, or relayed."""
        if self.handoff is None or self.state != "ok":
            return "proxy"
        return "handoff"

    # -- faults ----------------------------------------------------------------

    @property
    def partitioned(self) -> bool:
        return self._relay is not None and self._relay.partitioned

    def partition(self, for_s: float | None = None) -> None:
        """Stop all traffic both ways; heal by itself after ``for_s`` seconds if given."""
        self._cancel_expiry()
        if for_s is not None:
            self._expiry = self.loop.call_later(for_s, self.heal)
            self.until = time.time() + for_s
        relay = self._relay
        if relay is not None and not relay.partitioned:
            with relay.lock:
                relay.partitioned = True
                relay.resync()
            self._cut()

    def delay(self, delay_ms: float, jitter_ms: float = 0.0) -> None:
        """Deliver every chunk ``delay_ms ± jitter_ms`` later, each way, in order."""
        self.delay_ms = max(0.0, delay_ms)
        self.jitter_ms = max(0.0, min(jitter_ms, self.delay_ms))
        relay = self._relay
        if relay is not None:
            with relay.lock:
                was, relay.delayed = relay.delayed, self.delay_ms > 0
            if relay.delayed and not was:
                self._cut()

    def reset(self) -> int:
        """Abort every open connection with an RST; return how many there were."""
        relay = self._relay
        if relay is None:
            return 0
        with relay.lock:
            conns = relay.open_conns()
            for conn in conns:
                relay.finish(conn, rst=True)
        self._cut()
        return len(conns)

    def heal(self) -> None:
        """Clear every fault: traffic flows again, held bytes are delivered in order."""
        self._cancel_expiry()
        self.delay_ms = self.jitter_ms = 0.0
        relay = self._relay
        if relay is None:
            return
        with relay.lock:
            relay.partitioned = relay.delayed = False
            relay.heal()
        relay.wake()

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
        connections = 0 if self._relay is None else self._relay.count
        return LinkStatus(self.node, self.state, self.delay_ms, self.jitter_ms,
                          connections, self.until, self.port, self.path, self.handed_off)
