"""The daemon's end of the handoff: give a link's new connection to the server, or cut them.

A healthy link does not relay a connection the server can adopt: the link
accepts it, :meth:`Handoff.give` passes its fd to the server over the server's
Unix datagram socket (``server/adopt.py``, the protocol is there), and the
link closes its own copy. The node then talks to the server directly, with
no hop between (see benchmarks/README.md, "Links"). When a fault starts on
the link, :meth:`Handoff.cut` asks the server to abort what that link handed
over, so the node reconnects through the link's proxy path, where the fault
applies. A handoff that cannot be made (the server is down, restarting, not
yet bound, its queue full) returns False and the link relays that connection
as before.

Which server can adopt connections is the backend's business
(``Backend.handoff_socket``): only the embedded server can; links to the
others always relay.
"""

from __future__ import annotations

import array
import errno
import logging
import socket
import threading
import time
from pathlib import Path

from resonate_rpc_cli.server.adopt import ADOPT, CUT

#: How long one attempt of a cut waits to be queued and then to be confirmed.
CUT_TIMEOUT_S = 1.0
#: How long a cut keeps trying before it is logged as unconfirmed (a stopped server).
CUT_PATIENCE_S = 30.0
#: Pause between two attempts of a cut that failed at once (the queue's room or a reply).
CUT_RETRY_S = 0.05
#: Errors that mean no server is bound: nothing was handed over to it that still lives.
NO_SERVER = frozenset({errno.ECONNREFUSED, errno.ENOENT})

log = logging.getLogger("rpcdemo.links.handoff")


class Handoff:
    """Sends handoff messages to the server's socket at ``path``; thread-safe.

    Gives go out on a non-blocking socket (a full queue: the link relays that
    connection instead); cuts on a blocking one of their own, so a cut waits for
    room in the server's queue instead of being dropped.
    """

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._cut_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._cut_sock.settimeout(CUT_TIMEOUT_S)
        self._cut_lock = threading.Lock()
        self._closed = threading.Event()

    def give(self, link: str, conn: socket.socket) -> bool:
        """Pass ``conn``'s fd to the server as ``link``'s; True if the server now holds it.

        On True the caller closes its own copy; on False (nobody bound, queue
        full, any OSError) nothing happened and the caller keeps ``conn``.
        """
        try:
            _send(self._sock, self.path, ADOPT + link.encode(), conn.fileno())
        except OSError:
            return False
        return True

    def cut(self, link: str, timeout_s: float = CUT_TIMEOUT_S) -> bool:
        """Ask the server once to abort every connection ``link`` handed over; wait for it.

        True once the server confirms, or when no server is bound (its connections
        went with it); False if the request could not be queued or was not
        confirmed within ``timeout_s`` each (a busy or stopped server).
        """
        mine, theirs = socket.socketpair()
        try:
            try:
                with self._cut_lock:
                    _send(self._cut_sock, self.path, CUT + link.encode(), theirs.fileno())
            except OSError as exc:
                return exc.errno in NO_SERVER
            theirs.close()
            mine.settimeout(timeout_s)
            try:
                # b"k": done; b"": the server died holding the request (and its connections)
                return mine.recv(1) in (b"k", b"")
            except OSError:
                return False
        finally:
            mine.close()
            theirs.close()

    def cut_until_done(self, link: str, patience_s: float = CUT_PATIENCE_S) -> bool:
        """:meth:`cut` again until it is confirmed or ``patience_s`` has passed (logged);
        False at once once this handoff is closed (the links end with their topology)."""
        deadline = time.monotonic() + patience_s
        while not self._closed.is_set():
            if self.cut(link):
                return True
            if time.monotonic() >= deadline:
                log.warning("the server did not confirm cutting link %s's connections "
                            "within %.0f s", link, patience_s)
                return False
            self._closed.wait(CUT_RETRY_S)
        return False

    def close(self) -> None:
        self._closed.set()
        self._sock.close()
        self._cut_sock.close()


def _send(sock: socket.socket, path: str, message: bytes, fd: int) -> None:
    # not socket.send_fds: it ignores its address argument (CPython 3.13)
    sock.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))],
                 0, path)
