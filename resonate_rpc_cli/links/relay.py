"""The data path of one link: an epoll loop on a thread of its own, forwarding raw sockets.

A healthy chunk costs one wake-up, one ``recv`` and one ``send`` on this
thread, with no event-loop machinery between them (no handles, transports,
protocols or task switches): that is what keeps a link's added latency small
(see benchmarks/README.md, "Links"). Faults change what a chunk does:

* partitioned: no socket is read, nothing queued is sent, and new
  connections are accepted but not connected upstream; bytes already read
  stay queued and go out in order when the partition ends.
* delayed: a chunk is queued with a due time, never before the one ahead of it.
* reset/abort: ``SO_LINGER`` 0, then close: the peer sees an RST.

A :class:`Relay` is driven by its owner (:class:`~.proxy.Link`) from any
thread: every method that touches connections takes :attr:`Relay.lock`,
which the loop holds while it handles events, so a fault takes effect
between two chunks, never in the middle of one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from resonate_rpc_cli.server.adopt import LINGER_RST

READ_SIZE = 64 * 1024
#: Stop reading a side while this much is queued for its peer (back-pressure).
QUEUE_LIMIT = 256 * 1024
_IN, _OUT = select.EPOLLIN, select.EPOLLOUT
_ERRS = select.EPOLLERR | select.EPOLLHUP


class _Dir:
    """Bytes read from ``src`` on their way to ``dst``, oldest first, each with its due time."""

    __slots__ = ("closing", "dst", "last_due", "queue", "queued", "src")

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src = src
        self.dst = dst
        self.queue: deque[tuple[float, bytes]] = deque()
        self.queued = 0
        self.last_due = 0.0
        self.closing = False  # src is gone: close dst once the queue is delivered


class _Conn:
    """One proxied connection: the node's socket, the server's, a direction each way."""

    __slots__ = ("dirs", "down", "up")

    def __init__(self, down: socket.socket) -> None:
        self.down = down
        self.up: socket.socket | None = None  # set once connecting
        self.dirs: tuple[_Dir, _Dir] | None = None  # set once connected

    def sockets(self) -> list[socket.socket]:
        return [self.down] if self.up is None else [self.down, self.up]


def _nodelay(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Relay:
    """Listens on ``listener`` and forwards every accepted connection to ``upstream``.

    ``sample_delay_s`` gives each chunk's delay (0: none). Start with
    :meth:`start`; :meth:`stop` aborts every connection and ends the thread.
    """

    def __init__(self, listener: socket.socket, upstream: tuple[int, tuple[str, int]],
                 sample_delay_s: Callable[[], float], name: str) -> None:
        self.listener = listener
        self.family, self.address = upstream
        self.sample_delay_s = sample_delay_s
        self.lock = threading.Lock()
        self.partitioned = False
        self.delayed = False  # set by the owner with a delay in force: every chunk queues
        #: called with each new connection first (under the lock); True: it took it
        self.handoff: Callable[[socket.socket], bool] | None = None
        self.conns: dict[int, _Conn] = {}  # by the fd of each of its sockets
        self._all: set[_Conn] = set()
        self._ep = select.epoll()
        self._masks: dict[int, int] = {}
        self._reads: dict[int, _Dir] = {}  # by fd: the direction its bytes go
        self._waiting: set[_Dir] = set()  # directions with something queued
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._ep.register(self._wake, _IN)
        listener.setblocking(False)
        self._ep.register(listener.fileno(), _IN)
        self._stopping = False
        self._buf = bytearray(READ_SIZE)
        self._view = memoryview(self._buf)
        self._thread = threading.Thread(target=self._run, name=f"rpcdemo-link-{name}",
                                        daemon=True)

    @property
    def count(self) -> int:
        return len(self._all)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the listener and every connection (RST); wait for the thread to end."""
        with self.lock:
            self._stopping = True
            for conn in list(self._all):
                self.finish(conn, rst=True)
            self.wake()
        self._thread.join(5.0)
        with contextlib.suppress(OSError):
            self._ep.close()
        self.listener.close()
        os.close(self._wake)

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            os.eventfd_write(self._wake, 1)

    # -- the loop --------------------------------------------------------------

    def _run(self) -> None:
        poll, lock, wake_fd = self._ep.poll, self.lock, self._wake
        listen_fd, timeout = self.listener.fileno(), -1.0
        while True:
            events = poll(timeout)
            with lock:
                if self._stopping:
                    return
                for fd, ev in events:
                    if ev == _IN and self._forward(fd):
                        continue
                    if fd == listen_fd:
                        self._accept()
                    elif fd == wake_fd:
                        with contextlib.suppress(OSError):
                            os.eventfd_read(wake_fd)
                    else:
                        self._event(fd, ev)
                timeout = self._pump_due() if self._waiting else -1.0

    def _forward(self, fd: int) -> bool:
        """The healthy path: read a chunk and send it all at once; False if that did not fit."""
        d = self._reads.get(fd)
        if d is None or d.queue or self.partitioned or self.delayed:
            return False
        try:
            n = d.src.recv_into(self._buf)
        except OSError:
            return False  # the slow path reads again and sees what is wrong
        if n == 0:
            self._lost(self.conns[fd], d)
            return True
        try:
            sent = d.dst.send(self._view[:n])
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.finish(self.conns[fd])
            return True
        if sent < n:
            self._enqueue(d, 0.0, bytes(self._view[sent:n]))  # dst is full: the rest waits
            self._sync(d.src)
            self._sync(d.dst)
        return True

    def _event(self, fd: int, ev: int) -> None:
        conn = self.conns.get(fd)
        if conn is None:
            return
        sock = conn.down if conn.down.fileno() == fd else conn.up
        assert sock is not None
        if conn.dirs is None and sock is conn.up:
            self._connected(conn)  # even while partitioned: it then waits, silent
            return
        if self.partitioned or conn.dirs is None:
            if ev & _ERRS:  # a hang-up: seen again once the partition ends / server answers
                self._unwatch(sock)
            return
        out_dir, in_dir = conn.dirs if sock is conn.down else conn.dirs[::-1]
        if ev & _OUT:
            self._drain(in_dir)
        if ev & (_IN | _ERRS) and conn in self._all and self._masks.get(fd, 0) != -1:
            self._read(conn, out_dir)

    def _read(self, conn: _Conn, d: _Dir) -> None:
        try:
            n = d.src.recv_into(self._buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n = 0
        if n == 0:
            self._lost(conn, d)
            return
        delay = self.sample_delay_s()
        self._enqueue(d, max(time.monotonic() + delay, d.last_due), bytes(self._view[:n]))
        if delay <= 0:
            self._drain(d)
        else:
            self._sync(d.src)

    def _enqueue(self, d: _Dir, due: float, data: bytes) -> None:
        d.last_due = due
        d.queue.append((due, data))
        d.queued += len(data)
        self._waiting.add(d)

    def _pump_due(self) -> float:
        """Send what is due; the seconds until the next chunk is (-1: nothing timed)."""
        if self.partitioned:
            return -1.0
        now = time.monotonic()
        nxt = -1.0
        for d in list(self._waiting):
            self._drain(d, now)
            if d.queue and not self._masks.get(d.dst.fileno(), 0) & _OUT:
                wait = max(0.0, d.queue[0][0] - now)
                nxt = wait if nxt < 0 else min(nxt, wait)
        return nxt

    def _drain(self, d: _Dir, now: float | None = None) -> None:
        """Send the queue's due chunks until the socket is full; close ``dst`` after the last."""
        if self.partitioned:
            return
        now = time.monotonic() if now is None else now
        conn = self.conns.get(d.src.fileno()) or self.conns.get(d.dst.fileno())
        while d.queue and d.queue[0][0] <= now:
            due, data = d.queue[0]
            try:
                n = d.dst.send(data)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                if conn is not None:
                    self.finish(conn)
                return
            d.queued -= n
            if n < len(data):
                d.queue[0] = (due, data[n:])
                break
            d.queue.popleft()
        if not d.queue:
            self._waiting.discard(d)
            if d.closing and conn is not None:
                self.finish(conn)
                return
        for sock in (d.dst, d.src):
            self._sync(sock)

    # -- connections -----------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. out of fds: the node's connect is left to time out
            if self.handoff is not None and self.handoff(sock):
                continue
            sock.setblocking(False)
            _nodelay(sock)
            conn = _Conn(sock)
            self._all.add(conn)
            self._track(conn, sock)
            if not self.partitioned:
                self.connect(conn)

    def connect(self, conn: _Conn) -> None:
        """Start connecting ``conn`` upstream (non-blocking)."""
        if conn.up is not None:
            return
        up = socket.socket(self.family, socket.SOCK_STREAM)
        up.setblocking(False)
        conn.up = up
        self._track(conn, up)
        err = up.connect_ex(self.address)
        if err == 0:
            self._connected(conn)
        elif err in (errno.EINPROGRESS, errno.EAGAIN):
            self._set_mask(up, _OUT)
        else:
            self.finish(conn, rst=True)

    def _connected(self, conn: _Conn) -> None:
        up = conn.up
        assert up is not None
        if up.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
            self.finish(conn, rst=True)  # the node sees its connection reset, as if refused
            return
        _nodelay(up)
        conn.dirs = (_Dir(conn.down, up), _Dir(up, conn.down))
        self._reads[conn.down.fileno()], self._reads[up.fileno()] = conn.dirs
        for sock in conn.sockets():
            self._sync(sock)

    def _track(self, conn: _Conn, sock: socket.socket) -> None:
        fd = sock.fileno()
        self.conns[fd] = conn
        self._masks[fd] = 0
        self._ep.register(fd, 0)

    def _lost(self, conn: _Conn, d: _Dir) -> None:
        """``d.src`` closed or failed: close its peer once what is queued for it is delivered."""
        self._unwatch(d.src)
        d.closing = True
        if not d.queue:
            self.finish(conn)

    def finish(self, conn: _Conn, rst: bool = False) -> None:
        """Close both ends (with an RST: ``SO_LINGER`` 0, if ``rst``); forget the connection."""
        if conn not in self._all:
            return
        self._all.discard(conn)
        if conn.dirs is not None:
            self._waiting.difference_update(conn.dirs)
        for sock in conn.sockets():
            fd = sock.fileno()
            if fd >= 0:
                self.conns.pop(fd, None)
                self._masks.pop(fd, None)
                self._reads.pop(fd, None)
                with contextlib.suppress(OSError):
                    self._ep.unregister(fd)
                if rst:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
            sock.close()

    def heal(self) -> None:
        """The partition ended: connect what waited, deliver what is held (now), read again."""
        now = time.monotonic()
        for conn in list(self._all):
            if conn.up is None:
                self.connect(conn)
            elif conn.dirs is not None:
                for d in conn.dirs:
                    d.queue = deque((min(due, now), data) for due, data in d.queue)
                    d.last_due = min(d.last_due, now)
        self.resync()
        for d in list(self._waiting):
            self._drain(d, now)

    def open_conns(self) -> list[_Conn]:
        return list(self._all)

    # -- which events each socket waits for -------------------------------------

    def _sync(self, sock: socket.socket) -> None:
        """Watch ``sock`` for what it needs now: reading unless held back, writing if behind."""
        fd = sock.fileno()
        conn = self.conns.get(fd)
        if conn is None or conn.dirs is None:
            return
        out_dir, in_dir = conn.dirs if sock is conn.down else conn.dirs[::-1]
        mask = 0
        if not self.partitioned:
            if not out_dir.closing and out_dir.queued < QUEUE_LIMIT:
                mask |= _IN
            if in_dir.queue and in_dir.queue[0][0] <= time.monotonic():
                mask |= _OUT
        self._set_mask(sock, mask)

    def _set_mask(self, sock: socket.socket, mask: int) -> None:
        fd = sock.fileno()
        if self._masks.get(fd) != mask:
            self._masks[fd] = mask
            try:
                self._ep.modify(fd, mask)
            except FileNotFoundError:
                self._ep.register(fd, mask)

    def _unwatch(self, sock: socket.socket) -> None:
        """Stop hearing about ``sock`` (a hang-up while partitioned, or a closed side)."""
        fd = sock.fileno()
        if fd >= 0 and fd in self._masks:
            self._masks[fd] = -1
            with contextlib.suppress(OSError):
                self._ep.unregister(fd)

    def resync(self) -> None:
        """Re-derive every socket's events (after a partition begins or ends)."""
        for conn in list(self._all):
            for sock in conn.sockets():
                if self._masks.get(sock.fileno()) != -1 or not self.partitioned:
                    self._sync(sock)
