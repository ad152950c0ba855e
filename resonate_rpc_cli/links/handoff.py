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
import contextlib
import select
import socket
from pathlib import Path

from resonate_rpc_cli.server.adopt import ADOPT, CUT

#: How long a cut waits for the server to say it is done (a stopped server: not at all).
CUT_TIMEOUT_S = 1.0


class Handoff:
    """Sends handoff messages to the server's socket at ``path``; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def give(self, link: str, conn: socket.socket) -> bool:
        """Pass ``conn``'s fd to the server as ``link``'s; True if the server now holds it.

        On True the caller closes its own copy; on False (nobody bound, queue
        full, any OSError) nothing happened and the caller keeps ``conn``.
        """
        try:
            self._send(ADOPT + link.encode(), conn.fileno())
        except OSError:
            return False
        return True

    def cut(self, link: str, timeout_s: float = CUT_TIMEOUT_S) -> bool:
        """Ask the server to abort every connection ``link`` handed over; wait for it.

        True once the server confirms; False if it could not be asked (it is
        down: its connections went with it) or did not answer in ``timeout_s``.
        """
        mine, theirs = socket.socketpair()
        try:
            try:
                self._send(CUT + link.encode(), theirs.fileno())
            except OSError:
                return False
            theirs.close()
            ready, _, _ = select.select([mine], [], [], timeout_s)
            if not ready:
                return False
            with contextlib.suppress(OSError):
                return mine.recv(1) == b"k"
            return False
        finally:
            mine.close()
            theirs.close()

    def _send(self, message: bytes, fd: int) -> None:
        # not socket.send_fds: it ignores its address argument (CPython 3.13)
        self._sock.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                        array.array("i", [fd]))], 0, self.path)

    def close(self) -> None:
        self._sock.close()
